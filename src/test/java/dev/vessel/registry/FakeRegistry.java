package dev.vessel.registry;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.vessel.image.Digest;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executors;

/**
 * A registry in the test's own process (JDK HttpServer), for what a real registry will not do on
 * demand: challenges, redirects, broken connections, hostile content. Serves manifests by tag or
 * digest and blobs with Range; {@link #intercept} runs first and may answer instead.
 */
public final class FakeRegistry implements AutoCloseable {
    /** Answers a request instead of the registry (returns true), or lets it through. */
    public interface Interceptor {
        boolean handle(HttpExchange ex) throws IOException;
    }

    public record Request(String method, String path, String authorization, String range) {}

    private final HttpServer server;
    final Map<String, byte[]> manifests = new ConcurrentHashMap<>();
    final Map<String, String> manifestTypes = new ConcurrentHashMap<>();
    public final Map<Digest, byte[]> blobs = new ConcurrentHashMap<>();
    public final List<Request> requests = new CopyOnWriteArrayList<>();
    final List<Interceptor> interceptors = new CopyOnWriteArrayList<>();

    public FakeRegistry() throws IOException {
        this("127.0.0.1");
    }

    FakeRegistry(String address) throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getByName(address), 0), 0);
        server.createContext("/", this::handle);
        server.setExecutor(Executors.newCachedThreadPool(Thread.ofPlatform().daemon(true).factory()));
        server.start();
    }

    /** {@code 127.0.0.1:PORT}. */
    public String host() {
        return server.getAddress().getAddress().getHostAddress() + ":" + server.getAddress().getPort();
    }

    public FakeRegistry intercept(Interceptor i) {
        interceptors.add(i);
        return this;
    }

    /** Serves {@code img} as {@code repo:tag} and by digest. */
    public FakeRegistry put(String repo, String tag, TestImage img) {
        blobs.putAll(img.blobs);
        putManifest(repo, tag, img.manifest, img.manifestType);
        putManifest(repo, img.digest().toString(), img.manifest, img.manifestType);
        return this;
    }

    FakeRegistry putManifest(String repo, String ref, byte[] body, String type) {
        manifests.put(repo + ":" + ref, body);
        manifestTypes.put(repo + ":" + ref, type);
        return this;
    }

    /** Every request must carry basic credentials {@code user:password}, else a Basic challenge. */
    public FakeRegistry requireBasic(String user, String password) {
        String basic = "Basic " + java.util.Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
        return intercept(ex -> {
            if (!basic.equals(ex.getRequestHeaders().getFirst("Authorization"))) {
                ex.getResponseHeaders().add("WWW-Authenticate", "Basic realm=\"fake\"");
                error(ex, 401, "UNAUTHORIZED", "authentication required");
                return true;
            }
            return false;
        });
    }

    long count(String pathPart) {
        return requests.stream().filter(r -> r.path().contains(pathPart)).count();
    }

    private void handle(HttpExchange ex) throws IOException {
        try (ex) {
            requests.add(new Request(ex.getRequestMethod(), ex.getRequestURI().getPath(),
                    ex.getRequestHeaders().getFirst("Authorization"), ex.getRequestHeaders().getFirst("Range")));
            for (Interceptor i : interceptors) {
                if (i.handle(ex)) {
                    return;
                }
            }
            serve(ex);
        }
    }

    private void serve(HttpExchange ex) throws IOException {
        String path = ex.getRequestURI().getPath();
        if (path.equals("/v2/")) {
            send(ex, 200, "application/json", "{}".getBytes(StandardCharsets.UTF_8));
            return;
        }
        int m = path.indexOf("/manifests/");
        if (path.startsWith("/v2/") && m > 0) {
            String key = path.substring(4, m) + ":" + path.substring(m + 11);
            byte[] body = manifests.get(key);
            if (body == null) {
                error(ex, 404, "MANIFEST_UNKNOWN", "manifest unknown");
                return;
            }
            ex.getResponseHeaders().add("Docker-Content-Digest", Digest.of(body).toString());
            send(ex, 200, manifestTypes.get(key), body);
            return;
        }
        int b = path.indexOf("/blobs/");
        if (path.startsWith("/v2/") && b > 0) {
            String d = path.substring(b + 7);
            byte[] body = Digest.isValid(d) ? blobs.get(Digest.parse(d)) : null;
            if (body == null) {
                error(ex, 404, "BLOB_UNKNOWN", "blob unknown to registry");
                return;
            }
            String range = ex.getRequestHeaders().getFirst("Range");
            if (range != null && range.startsWith("bytes=") && range.endsWith("-")) {
                int from = Integer.parseInt(range.substring(6, range.length() - 1));
                ex.getResponseHeaders().add("Content-Range", "bytes " + from + "-" + (body.length - 1) + "/" + body.length);
                ex.getResponseHeaders().add("Content-Type", "application/octet-stream");
                ex.sendResponseHeaders(206, body.length - from);
                ex.getResponseBody().write(body, from, body.length - from);
                return;
            }
            send(ex, 200, "application/octet-stream", body);
            return;
        }
        error(ex, 404, "NAME_UNKNOWN", "repository name not known to registry");
    }

    public static void send(HttpExchange ex, int status, String type, byte[] body) throws IOException {
        if (type != null) {
            ex.getResponseHeaders().add("Content-Type", type);
        }
        ex.sendResponseHeaders(status, body.length == 0 ? -1 : body.length);
        try (OutputStream o = ex.getResponseBody()) {
            o.write(body);
        }
    }

    public static void error(HttpExchange ex, int status, String code, String message) throws IOException {
        send(ex, status, "application/json",
                ("{\"errors\":[{\"code\":\"" + code + "\",\"message\":\"" + message + "\"}]}").getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
