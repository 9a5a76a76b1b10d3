package dev.vessel.registry;

import com.fasterxml.jackson.databind.JsonNode;
import dev.vessel.image.Digest;
import dev.vessel.image.Json;
import dev.vessel.image.MediaTypes;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A client of one registry's HTTP API v2 (OCI distribution): manifests and blobs, with the
 * authentication the registry asks for in its {@code WWW-Authenticate} challenge (anonymous or
 * credentialed bearer tokens, basic). Redirects are followed here, not by the HTTP client, so the
 * {@code Authorization} header only ever goes to the registry itself (blob storage on another
 * host gets a signed URL, never the token) and HTTPS is never downgraded to HTTP.
 */
public final class RegistryClient implements AutoCloseable {
    /** Manifests and indexes larger than this are refused unread. */
    public static final int MAX_MANIFEST = Json.MAX_DOCUMENT;
    /** Token and error documents are small. */
    static final int MAX_SMALL_DOCUMENT = 1 << 20;
    static final int MAX_REDIRECTS = 10;
    static final String MANIFEST_ACCEPT = String.join(", ",
            MediaTypes.OCI_INDEX, MediaTypes.DOCKER_MANIFEST_LIST, MediaTypes.OCI_MANIFEST, MediaTypes.DOCKER_MANIFEST);
    private static final String USER_AGENT = "vessel";

    private final Endpoint endpoint;
    private final Credentials credentials;
    private final HttpClient http;
    /** The Authorization header value per scope (a repository, or "" for the registry itself). */
    private final Map<String, String> authorizations = new ConcurrentHashMap<>();

    /** A response body that sends nothing for this long while it is being read is closed (the read fails). */
    public static final Duration STALL_TIMEOUT = Duration.ofSeconds(60);

    private final Duration stallTimeout;
    private final Set<Guarded> reading = ConcurrentHashMap.newKeySet();
    private final ScheduledExecutorService watchdog;

    public RegistryClient(Endpoint endpoint, Credentials credentials) {
        this(endpoint, credentials, STALL_TIMEOUT);
    }

    RegistryClient(Endpoint endpoint, Credentials credentials, Duration stallTimeout) {
        this.endpoint = endpoint;
        this.credentials = credentials;
        this.stallTimeout = stallTimeout;
        this.http = HttpClient.newBuilder()
                .version(HttpClient.Version.HTTP_1_1)
                .followRedirects(HttpClient.Redirect.NEVER)
                .connectTimeout(Duration.ofSeconds(30))
                .build();
        // The HTTP client's timeout ends at the response headers: a body that stops coming would block a read forever.
        watchdog = Executors.newSingleThreadScheduledExecutor(Thread.ofPlatform().daemon(true).name("registry-watchdog").factory());
        long period = Math.max(10, Math.min(1000, stallTimeout.toMillis() / 4));
        watchdog.scheduleAtFixedRate(this::closeStalled, period, period, TimeUnit.MILLISECONDS);
    }

    private void closeStalled() {
        long now = System.nanoTime();
        for (Guarded g : reading) {
            if (g.blockedSince != 0 && now - g.blockedSince > stallTimeout.toNanos()) {
                g.stalled = true;
                reading.remove(g);
                try {
                    g.in().close();
                } catch (IOException | RuntimeException ignored) {
                    // closing is all we can do
                }
            }
        }
    }

    /** A response body whose blocked reads the watchdog can see. */
    private final class Guarded extends java.io.FilterInputStream {
        volatile long blockedSince;
        volatile boolean stalled;

        Guarded(InputStream in) {
            super(in);
            reading.add(this);
        }

        InputStream in() {
            return in;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            blockedSince = System.nanoTime();
            try {
                return super.read(b, off, len);
            } catch (IOException e) {
                if (stalled) {
                    throw new IOException("registry " + endpoint.domain() + " sent nothing for " + stallTimeout.toSeconds() + " s", e);
                }
                throw e;
            } finally {
                blockedSince = 0;
            }
        }

        @Override
        public void close() throws IOException {
            reading.remove(this);
            super.close();
        }
    }

    public Endpoint endpoint() {
        return endpoint;
    }

    /** A manifest or index as the registry sent it. */
    public record FetchedManifest(byte[] body, String contentType, String contentDigest) {}

    /**
     * {@code GET /v2/REPO/manifests/REF} accepting OCI and Docker manifests and indexes; at most
     * {@link #MAX_MANIFEST} bytes. {@code name} is how errors name the image.
     */
    public FetchedManifest manifest(String repository, String reference, String name) throws IOException, RegistryException {
        HttpResponse<InputStream> r = send(repository, "/v2/" + repository + "/manifests/" + reference,
                Map.of("Accept", MANIFEST_ACCEPT));
        try (InputStream in = r.body()) {
            if (r.statusCode() != 200) {
                throw failure(r, in, r.statusCode() == 404 ? "manifest for " + name + " not found" : null, repository);
            }
            long length = r.headers().firstValueAsLong("Content-Length").orElse(-1);
            if (length > MAX_MANIFEST) {
                throw new RegistryException("manifest for " + name + " is too large (" + length + " bytes, at most " + MAX_MANIFEST + ")");
            }
            byte[] body = readCapped(in, MAX_MANIFEST);
            if (body == null) {
                throw new RegistryException("manifest for " + name + " is too large (more than " + MAX_MANIFEST + " bytes)");
            }
            return new FetchedManifest(body, mediaType(r), r.headers().firstValue("Docker-Content-Digest").orElse(null));
        }
    }

    /** A blob being downloaded: {@code offset} is where its body starts in the blob. */
    public record BlobResponse(InputStream body, long offset, long length) implements AutoCloseable {
        @Override
        public void close() throws IOException {
            body.close();
        }
    }

    /**
     * {@code GET /v2/REPO/blobs/DIGEST}, from {@code offset} on when the registry honours the
     * range (else from the start: see {@link BlobResponse#offset}).
     */
    public BlobResponse blob(String repository, Digest digest, long offset) throws IOException, RegistryException {
        Map<String, String> headers = offset > 0 ? Map.of("Range", "bytes=" + offset + "-") : Map.of();
        HttpResponse<InputStream> r = send(repository, "/v2/" + repository + "/blobs/" + digest, headers);
        InputStream in = r.body();
        long length = r.headers().firstValueAsLong("Content-Length").orElse(-1);
        if (r.statusCode() == 200) {
            return new BlobResponse(in, 0, length);
        }
        if (r.statusCode() == 206 && offset > 0) {
            long start = rangeStart(r.headers().firstValue("Content-Range").orElse(""));
            if (start == offset) {
                return new BlobResponse(in, offset, length);
            }
            in.close();
            // A range we did not ask for: start over rather than guess.
            return blob(repository, digest, 0);
        }
        if (r.statusCode() == 416 && offset > 0) {
            in.close();
            return blob(repository, digest, 0);
        }
        try (in) {
            throw failure(r, in, r.statusCode() == 404 ? "blob " + digest + " not found" : null, repository);
        }
    }

    /** Checks that the registry accepts the credentials (what {@code login} does). */
    public void checkLogin() throws IOException, RegistryException {
        HttpResponse<InputStream> r = send("", "/v2/", Map.of());
        try (InputStream in = r.body()) {
            if (r.statusCode() != 200) {
                throw failure(r, in, r.statusCode() == 401 ? "unauthorized: incorrect username or password" : null, null);
            }
        }
    }

    static long rangeStart(String contentRange) {
        // bytes START-END/TOTAL
        String s = contentRange.strip();
        if (!s.startsWith("bytes ")) {
            return -1;
        }
        int dash = s.indexOf('-');
        try {
            return dash < 0 ? -1 : Long.parseLong(s.substring(6, dash).strip());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    private static String mediaType(HttpResponse<?> r) {
        String ct = r.headers().firstValue("Content-Type").orElse(null);
        if (ct == null) {
            return null;
        }
        int semi = ct.indexOf(';');
        return (semi < 0 ? ct : ct.substring(0, semi)).strip().toLowerCase(Locale.ROOT);
    }

    /** Sends a GET, authenticating once when challenged. */
    private HttpResponse<InputStream> send(String scope, String path, Map<String, String> headers) throws IOException, RegistryException {
        URI uri = endpoint.uri(path);
        String auth = authorizations.get(scope);
        if (auth == null && credentials != null && credentials.registryToken() != null) {
            auth = "Bearer " + credentials.registryToken();
        }
        HttpResponse<InputStream> r = follow(uri, headers, auth);
        if (r.statusCode() != 401) {
            return r;
        }
        List<String> challenges = r.headers().allValues("WWW-Authenticate");
        r.body().close();
        List<AuthChallenge> parsed = new ArrayList<>();
        for (String c : challenges) {
            parsed.addAll(AuthChallenge.parse(c));
        }
        auth = authenticate(parsed, scope);
        if (auth == null) {
            return follow(uri, headers, null); // nothing to answer with: let the caller report the 401
        }
        authorizations.put(scope, auth);
        return follow(uri, headers, auth);
    }

    /** GETs {@code uri}, following redirects; {@code auth} only goes to the registry's own origin. */
    private HttpResponse<InputStream> follow(URI uri, Map<String, String> headers, String auth) throws IOException, RegistryException {
        URI current = uri;
        for (int hop = 0; ; hop++) {
            HttpRequest.Builder b = HttpRequest.newBuilder(current).GET().timeout(Duration.ofSeconds(60))
                    .header("User-Agent", USER_AGENT);
            headers.forEach(b::header);
            if (auth != null && sameOrigin(current, uri)) {
                b.header("Authorization", auth);
            }
            HttpResponse<InputStream> r = guard(exchange(b.build()));
            int s = r.statusCode();
            if (!(s == 301 || s == 302 || s == 303 || s == 307 || s == 308)) {
                return r;
            }
            r.body().close();
            Optional<String> location = r.headers().firstValue("Location");
            if (location.isEmpty()) {
                throw new RegistryException("registry " + endpoint.domain() + " answered " + s + " without a Location");
            }
            if (hop >= MAX_REDIRECTS) {
                throw new RegistryException("registry " + endpoint.domain() + ": more than " + MAX_REDIRECTS + " redirects");
            }
            URI next;
            try {
                next = current.resolve(location.get().strip());
            } catch (IllegalArgumentException e) {
                throw new RegistryException("registry " + endpoint.domain() + " redirected to a malformed URL");
            }
            String scheme = next.getScheme() == null ? "" : next.getScheme().toLowerCase(Locale.ROOT);
            if (!scheme.equals("https") && !scheme.equals("http") || next.getHost() == null) {
                throw new RegistryException("registry " + endpoint.domain() + " redirected to an unsupported URL scheme: " + scheme);
            }
            if (current.getScheme().equalsIgnoreCase("https") && scheme.equals("http")) {
                throw new RegistryException("registry " + endpoint.domain() + " redirected from HTTPS to plain HTTP (" + next.getHost() + "): refused");
            }
            current = next;
        }
    }

    /** The response with its body under the watchdog. */
    private HttpResponse<InputStream> guard(HttpResponse<InputStream> r) {
        InputStream body = new Guarded(r.body());
        return new HttpResponse<>() {
            public int statusCode() { return r.statusCode(); }
            public HttpRequest request() { return r.request(); }
            public Optional<HttpResponse<InputStream>> previousResponse() { return Optional.empty(); }
            public java.net.http.HttpHeaders headers() { return r.headers(); }
            public InputStream body() { return body; }
            public Optional<javax.net.ssl.SSLSession> sslSession() { return r.sslSession(); }
            public URI uri() { return r.uri(); }
            public HttpClient.Version version() { return r.version(); }
        };
    }

    static boolean sameOrigin(URI a, URI b) {
        return a.getScheme().equalsIgnoreCase(b.getScheme())
                && Objects.equals(a.getHost() == null ? null : a.getHost().toLowerCase(Locale.ROOT),
                        b.getHost() == null ? null : b.getHost().toLowerCase(Locale.ROOT))
                && port(a) == port(b);
    }

    private static int port(URI u) {
        return u.getPort() >= 0 ? u.getPort() : u.getScheme().equalsIgnoreCase("https") ? 443 : 80;
    }

    private HttpResponse<InputStream> exchange(HttpRequest request) throws IOException, RegistryException {
        try {
            return http.send(request, HttpResponse.BodyHandlers.ofInputStream());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } catch (java.net.ConnectException e) {
            String target = request.uri().getHost() + (request.uri().getPort() >= 0 ? ":" + request.uri().getPort() : "");
            throw new RegistryException("cannot connect to registry " + endpoint.domain()
                    + (target.equals(endpoint.domain()) ? "" : " (" + target + ")") + ": " + connectProblem(e)
                    + (endpoint.plainHttp() || connectProblem(e).equals("no such host") ? ""
                            : " (HTTPS; a plain-HTTP registry must be listed in " + Endpoint.INSECURE_ENV + ")"), e);
        } catch (javax.net.ssl.SSLException e) {
            throw new RegistryException("TLS with registry " + endpoint.domain() + " failed: " + e.getMessage()
                    + " (a plain-HTTP registry must be listed in " + Endpoint.INSECURE_ENV + ")", e);
        } catch (IllegalArgumentException e) {
            throw new RegistryException("registry " + endpoint.domain() + ": bad request: " + e.getMessage(), e);
        }
    }

    private static String connectProblem(java.net.ConnectException e) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof java.nio.channels.UnresolvedAddressException) {
                return "no such host";
            }
        }
        return e.getMessage() == null || e.getMessage().isBlank() ? "connection refused" : e.getMessage().toLowerCase(Locale.ROOT);
    }

    /** Answers a challenge: the Authorization value to retry with, or null when there is nothing to answer with. */
    private String authenticate(List<AuthChallenge> challenges, String scope) throws IOException, RegistryException {
        for (AuthChallenge c : challenges) {
            if (c.isBearer()) {
                return "Bearer " + token(c, scope);
            }
        }
        for (AuthChallenge c : challenges) {
            if (c.isBasic() && credentials != null && credentials.hasBasic()) {
                return credentials.basicHeader();
            }
        }
        return null;
    }

    /** Fetches a bearer token from the challenge's realm (anonymously without credentials). */
    private String token(AuthChallenge c, String scope) throws IOException, RegistryException {
        String realm = c.param("realm");
        URI realmUri;
        try {
            realmUri = realm == null ? null : new URI(realm);
        } catch (java.net.URISyntaxException e) {
            realmUri = null;
        }
        if (realmUri == null || realmUri.getHost() == null
                || !("https".equalsIgnoreCase(realmUri.getScheme()) || "http".equalsIgnoreCase(realmUri.getScheme()))) {
            throw new RegistryException("registry " + endpoint.domain() + " sent a bearer challenge without a usable realm");
        }
        if ("http".equalsIgnoreCase(realmUri.getScheme()) && !endpoint.plainHttp() && !Endpoint.isLoopback(realmUri.getHost())) {
            throw new RegistryException("registry " + endpoint.domain() + " asks for a token over plain HTTP (" + realmUri.getHost() + "): refused");
        }
        String wantedScope = c.param("scope");
        if (!scope.isEmpty()) {
            wantedScope = "repository:" + scope + ":pull";
        }
        StringBuilder query = new StringBuilder();
        addParam(query, "service", c.param("service"));
        addParam(query, "scope", wantedScope);
        boolean refresh = credentials != null && credentials.identityToken() != null && !credentials.identityToken().isEmpty();
        HttpRequest.Builder b;
        if (refresh) {
            // OAuth2 refresh-token grant, as docker does with an identity token.
            StringBuilder form = new StringBuilder();
            addParam(form, "grant_type", "refresh_token");
            addParam(form, "refresh_token", credentials.identityToken());
            addParam(form, "service", c.param("service"));
            addParam(form, "scope", wantedScope);
            addParam(form, "client_id", USER_AGENT);
            b = HttpRequest.newBuilder(realmUri).POST(HttpRequest.BodyPublishers.ofString(form.toString()))
                    .header("Content-Type", "application/x-www-form-urlencoded");
        } else {
            URI withQuery = URI.create(realm + (query.isEmpty() ? "" : (realm.contains("?") ? "&" : "?") + query));
            b = HttpRequest.newBuilder(withQuery).GET();
            if (credentials != null && credentials.hasBasic()) {
                b.header("Authorization", credentials.basicHeader());
            }
        }
        b.timeout(Duration.ofSeconds(60)).header("User-Agent", USER_AGENT);
        HttpResponse<InputStream> r = exchange(b.build());
        try (InputStream in = r.body()) {
            if (r.statusCode() != 200) {
                throw failure(r, in, r.statusCode() == 401 ? "unauthorized: incorrect username or password" : "cannot get a token from " + realmUri.getHost(), null);
            }
            byte[] body = readCapped(in, MAX_SMALL_DOCUMENT);
            if (body == null) {
                throw new RegistryException("token from " + realmUri.getHost() + " is too large");
            }
            JsonNode n;
            try {
                n = Json.MAPPER.readTree(body);
            } catch (IOException e) {
                throw new RegistryException("token from " + realmUri.getHost() + ": malformed JSON");
            }
            String token = n == null ? null : text(n, "token");
            if (token == null || token.isEmpty()) {
                token = n == null ? null : text(n, "access_token");
            }
            if (token == null || token.isEmpty() || !token.chars().allMatch(ch -> ch > 0x20 && ch < 0x7f)) {
                throw new RegistryException("token from " + realmUri.getHost() + ": no usable token in the answer");
            }
            return token;
        }
    }

    private static String text(JsonNode n, String f) {
        JsonNode v = n.get(f);
        return v != null && v.isTextual() ? v.asText() : null;
    }

    private static void addParam(StringBuilder sb, String name, String value) {
        if (value == null || value.isEmpty()) {
            return;
        }
        if (!sb.isEmpty()) {
            sb.append('&');
        }
        sb.append(name).append('=').append(URLEncoder.encode(value, StandardCharsets.UTF_8));
    }

    /**
     * The error for an unexpected answer, with the registry's own error text the way docker prints
     * it ({@code manifest unknown: manifest unknown}). {@code what} leads the message when given.
     */
    private RegistryException failure(HttpResponse<?> r, InputStream body, String what, String repository) throws IOException {
        int s = r.statusCode();
        String detail = errorText(body);
        String lead = what;
        if (lead == null) {
            if ((s == 401 || s == 403) && repository != null) {
                lead = "pull access denied for " + repository + ", repository does not exist or may require 'vessel login'";
            } else {
                lead = "registry " + endpoint.domain() + " answered HTTP " + s;
            }
        }
        return new RegistryException(detail == null ? lead : lead + ": " + detail, s, null);
    }

    /** {@code code: message} of the first error in a registry's error document, or null. */
    static String errorText(InputStream body) throws IOException {
        byte[] b = readCapped(body, 64 << 10);
        if (b == null || b.length == 0) {
            return null;
        }
        try {
            JsonNode errors = Json.MAPPER.readTree(b).get("errors");
            if (errors != null && errors.isArray() && !errors.isEmpty()) {
                JsonNode e = errors.get(0);
                String code = text(e, "code");
                String message = text(e, "message");
                String out = (code == null ? "" : code.toLowerCase(Locale.ROOT).replace('_', ' ')) + (message == null ? "" : ": " + message);
                return printable(out.startsWith(": ") ? out.substring(2) : out);
            }
        } catch (IOException | RuntimeException e) {
            // not JSON: nothing more to say
        }
        return null;
    }

    /** The error text reaches a terminal: no control characters, bounded. */
    static String printable(String s) {
        StringBuilder sb = new StringBuilder();
        s.codePoints().limit(300).forEach(cp -> sb.appendCodePoint(Character.isISOControl(cp) ? '?' : cp));
        return sb.toString();
    }

    /** Up to {@code max} bytes, or null when there are more. */
    static byte[] readCapped(InputStream in, int max) throws IOException {
        byte[] b = in.readNBytes(max + 1);
        return b.length > max ? null : b;
    }

    @Override
    public void close() {
        watchdog.shutdownNow();
        http.shutdownNow(); // never wait for a stalled body: the pull is over
    }
}
