package dev.vessel.registry;

import dev.vessel.image.Digest;

import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Debian's {@code docker-registry} (the CNCF distribution registry), started for a test on
 * 127.0.0.1 with a free port and a private storage folder, plus umoci and skopeo to build and push
 * images to it. A missing tool fails the test with what to install: these tests never skip.
 */
public final class RealRegistry implements AutoCloseable {
    static final String REGISTRY = "/usr/bin/docker-registry";
    static final String UMOCI = "/usr/bin/umoci";
    static final String SKOPEO = "/usr/bin/skopeo";

    private final Process process;
    private final Path log;
    public final String host;

    /** Fails (never skips) when {@code tool} is missing. */
    static void require(String tool, String pkg, String why) {
        if (!Files.isExecutable(Path.of(tool))) {
            throw new AssertionError(tool + " is missing (apt-get install " + pkg + "): needed " + why);
        }
    }

    static void requireTools() {
        require(REGISTRY, "docker-registry", "to test pull against a real registry");
        require(UMOCI, "umoci", "to build the test images");
        require(SKOPEO, "skopeo", "to push the test images");
    }

    public RealRegistry(Path dir) throws IOException, InterruptedException {
        requireTools();
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        host = "127.0.0.1:" + port;
        Path config = dir.resolve("registry.yml");
        Files.writeString(config, """
                version: 0.1
                log:
                  level: error
                  accesslog:
                    disabled: true
                storage:
                  filesystem:
                    rootdirectory: %s
                http:
                  addr: %s
                """.formatted(dir.resolve("storage"), host));
        log = dir.resolve("registry.log");
        process = new ProcessBuilder(REGISTRY, "serve", config.toString())
                .redirectErrorStream(true).redirectOutput(log.toFile()).start();
        awaitReady();
    }

    /** Polls /v2/ until it answers, within a deadline. */
    private void awaitReady() throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        try (HttpClient c = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build()) {
            while (true) {
                try {
                    HttpResponse<Void> r = c.send(HttpRequest.newBuilder(URI.create("http://" + host + "/v2/")).build(),
                            HttpResponse.BodyHandlers.discarding());
                    if (r.statusCode() == 200) {
                        return;
                    }
                } catch (IOException notYet) {
                    // not listening yet
                }
                if (!process.isAlive() || System.nanoTime() > deadline) {
                    throw new AssertionError("docker-registry did not answer on " + host + ":\n" + Files.readString(log));
                }
                process.waitFor(50, TimeUnit.MILLISECONDS); // returns at once if it died
            }
        }
    }

    /** Pushes crafted blobs and a manifest with the registry's upload API (monolithic uploads). */
    public void push(String repo, String tag, Map<Digest, byte[]> blobs, byte[] manifest, String mediaType)
            throws IOException, InterruptedException {
        try (HttpClient c = HttpClient.newHttpClient()) {
            for (Map.Entry<Digest, byte[]> b : blobs.entrySet()) {
                HttpResponse<String> start = c.send(HttpRequest.newBuilder(URI.create("http://" + host + "/v2/" + repo + "/blobs/uploads/"))
                        .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.ofString());
                check(start, 202);
                String location = start.headers().firstValue("Location").orElseThrow();
                URI put = URI.create("http://" + host + "/").resolve(location);
                put = URI.create(put + (put.getQuery() == null ? "?" : "&") + "digest=" + b.getKey());
                check(c.send(HttpRequest.newBuilder(put).header("Content-Type", "application/octet-stream")
                        .PUT(HttpRequest.BodyPublishers.ofByteArray(b.getValue())).build(), HttpResponse.BodyHandlers.ofString()), 201);
            }
            check(c.send(HttpRequest.newBuilder(URI.create("http://" + host + "/v2/" + repo + "/manifests/" + tag))
                    .header("Content-Type", mediaType).PUT(HttpRequest.BodyPublishers.ofByteArray(manifest)).build(),
                    HttpResponse.BodyHandlers.ofString()), 201);
        }
    }

    /** Pushes an image from a store (config, layers, manifest byte for byte). */
    public void push(String repo, String tag, dev.vessel.image.ImageStore store, dev.vessel.image.Image img)
            throws IOException, InterruptedException, dev.vessel.image.InvalidImageException {
        Map<Digest, byte[]> blobs = new java.util.LinkedHashMap<>();
        blobs.put(img.id(), store.blobs().read(img.id(), dev.vessel.image.Json.MAX_DOCUMENT));
        for (dev.vessel.image.Descriptor l : img.layers()) {
            try (var in = store.blobs().open(l.digest())) {
                blobs.put(l.digest(), in.readAllBytes());
            }
        }
        byte[] manifest = store.blobs().read(img.manifestDigest(), dev.vessel.image.Json.MAX_DOCUMENT);
        String type = img.manifest().mediaType() != null ? img.manifest().mediaType() : dev.vessel.image.MediaTypes.OCI_MANIFEST;
        push(repo, tag, blobs, manifest, type);
    }

    public void push(String repo, String tag, TestImage img) throws IOException, InterruptedException {
        push(repo, tag, img.blobs, img.manifest, img.manifestType);
    }

    private static void check(HttpResponse<String> r, int want) {
        if (r.statusCode() != want) {
            throw new AssertionError("registry answered " + r.statusCode() + " to " + r.request().method() + " "
                    + r.request().uri() + ": " + r.body());
        }
    }

    /** Runs a tool, failing the test with its output when it fails. */
    static String run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        if (!p.waitFor(120, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError(String.join(" ", cmd) + " did not finish within 120 s");
        }
        if (p.exitValue() != 0) {
            throw new AssertionError(String.join(" ", cmd) + " failed (" + p.exitValue() + "):\n" + out);
        }
        return out;
    }

    /** {@code skopeo copy} from an OCI layout's tag to this registry. */
    void skopeoPush(Path layout, String tag, String repoTag, String... options) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(SKOPEO, "copy", "-q", "--dest-tls-verify=false"));
        cmd.addAll(List.of(options));
        cmd.add("oci:" + layout + ":" + tag);
        cmd.add("docker://" + host + "/" + repoTag);
        run(cmd.toArray(String[]::new));
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(10, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
        }
    }
}
