package dev.vessel.registry;

import com.sun.net.httpserver.HttpExchange;
import dev.vessel.image.Compression;
import dev.vessel.image.Digest;
import dev.vessel.image.DigestMismatchException;
import dev.vessel.image.Ext4Inspect;
import dev.vessel.image.Image;
import dev.vessel.image.ImageStore;
import dev.vessel.image.InvalidImageException;
import dev.vessel.image.Json;
import dev.vessel.image.MediaTypes;
import dev.vessel.image.Reference;
import dev.vessel.image.Tars;
import dev.vessel.image.UnpackPolicy;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Pull against a registry in the test (auth, redirects, broken connections, lies): what a real one will not do on demand. */
class FakeRegistryPullTest {
    @TempDir
    Path dir;
    FakeRegistry registry;
    ImageStore store;
    final ByteArrayOutputStream out = new ByteArrayOutputStream();

    @BeforeEach
    void setUp() throws IOException {
        registry = new FakeRegistry();
        store = PullFixtures.store(dir);
    }

    @AfterEach
    void tearDown() {
        registry.close();
    }

    private Puller.Result pull(String repoRef) throws Exception {
        return pull(repoRef, null);
    }

    private Puller.Result pull(String repoRef, DockerConfig config) throws Exception {
        return PullFixtures.puller(store, config, out).pull(Reference.parse(registry.host() + "/" + repoRef));
    }

    private static TestImage image() {
        return TestImage.oci(Tars.tar().file("a", "a").bytes(), Tars.tar().file("b", "b").bytes());
    }

    private DockerConfig config(String key, String user, String password) throws IOException {
        Path f = dir.resolve("docker/config.json");
        Files.createDirectories(f.getParent());
        String auth = Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
        Files.writeString(f, "{\"auths\":{\"" + key + "\":{\"auth\":\"" + auth + "\"}},\"other\":1}");
        return new DockerConfig(f);
    }

    /** The registry wants "Bearer TOKEN" on /v2/ paths, handing tokens out at /token (to {@code basic} only, when given). */
    private void bearer(String token, String basic) {
        registry.intercept(ex -> {
            String path = ex.getRequestURI().getPath();
            String auth = ex.getRequestHeaders().getFirst("Authorization");
            if (path.equals("/token")) {
                if (basic != null && !basic.equals(auth)) {
                    FakeRegistry.error(ex, 401, "UNAUTHORIZED", "bad credentials");
                    return true;
                }
                String q = ex.getRequestURI().getQuery();
                assertTrue(q.contains("service=fake") && q.contains("scope=repository:repo/img:pull"), q);
                FakeRegistry.send(ex, 200, "application/json", ("{\"token\":\"" + token + "\"}").getBytes(StandardCharsets.UTF_8));
                return true;
            }
            if (!("Bearer " + token).equals(auth)) {
                ex.getResponseHeaders().add("WWW-Authenticate", "Bearer realm=\"http://" + registry.host()
                        + "/token\",service=\"fake\",scope=\"repository:repo/img:pull\"");
                FakeRegistry.error(ex, 401, "UNAUTHORIZED", "authentication required");
                return true;
            }
            return false;
        });
    }

    @Test
    void anonymousBearerToken() throws Exception {
        bearer("anon-token", null);
        registry.put("repo/img", "t", image());
        assertEquals(image().digest(), pull("repo/img:t").image().manifestDigest());
        // One token, reused for every request after the first challenge.
        assertEquals(1, registry.count("/token"));
    }

    @Test
    void bearerTokenWithCredentialsFromDockerConfig() throws Exception {
        String basic = "Basic " + Base64.getEncoder().encodeToString("me:secret".getBytes(StandardCharsets.UTF_8));
        bearer("my-token", basic);
        registry.put("repo/img", "t", image());
        pull("repo/img:t", config(registry.host(), "me", "secret"));
        RegistryException e = assertThrows(RegistryException.class,
                () -> PullFixtures.puller(PullFixtures.store(dir.resolve("other")), config(registry.host(), "me", "wrong"), out)
                        .pull(Reference.parse(registry.host() + "/repo/img:t")));
        assertTrue(e.getMessage().contains("unauthorized: incorrect username or password"), e.getMessage());
    }

    @Test
    void basicAuthFromDockerConfig() throws Exception {
        registry.requireBasic("u", "p");
        registry.put("repo/img", "t", image());
        RegistryException denied = assertThrows(RegistryException.class, () -> pull("repo/img:t"));
        assertTrue(denied.getMessage().startsWith("pull access denied for repo/img"), denied.getMessage());
        pull("repo/img:t", config("http://" + registry.host(), "u", "p"));
    }

    @Test
    void credentialsTheClientGaveGoBeforeDockerConfigs() throws Exception {
        registry.requireBasic("u", "p");
        registry.put("repo/img", "t", image());
        Reference ref = Reference.parse(registry.host() + "/repo/img:t");
        RegistryException wrong = assertThrows(RegistryException.class, () -> PullFixtures.puller(store,
                config("http://" + registry.host(), "u", "p"), out).withCredentials(java.util.Optional.of(Credentials.basic("u", "bad")))
                .pull(ref));
        assertTrue(wrong.getMessage().startsWith("pull access denied for repo/img"), wrong.getMessage());
        PullFixtures.puller(store, null, out).withCredentials(java.util.Optional.of(Credentials.basic("u", "p"))).pull(ref);
    }

    @Test
    void redirectToAnotherHostDropsTheToken() throws Exception {
        bearer("tok", null);
        TestImage img = image();
        registry.put("repo/img", "t", img);
        try (FakeRegistry storage = new FakeRegistry("127.0.0.2")) {
            storage.blobs.putAll(img.blobs);
            registry.intercept(ex -> {
                String path = ex.getRequestURI().getPath();
                if (path.contains("/blobs/")) {
                    ex.getResponseHeaders().add("Location", "http://" + storage.host() + path + "?signed=1");
                    ex.sendResponseHeaders(307, -1);
                    return true;
                }
                return false;
            });
            pull("repo/img:t");
            assertFalse(storage.requests.isEmpty());
            for (FakeRegistry.Request r : storage.requests) {
                assertNull(r.authorization(), "the token went to " + storage.host() + r.path());
            }
        }
        // The registry's own requests carried it.
        assertTrue(registry.requests.stream().anyMatch(r -> "Bearer tok".equals(r.authorization())));
    }

    @Test
    void blobsTheStoreHasAreNotFetchedAgain() throws Exception {
        byte[] base = Tars.tar().file("base", "base").bytes();
        TestImage first = TestImage.oci(base, Tars.tar().file("one", "1").bytes());
        TestImage second = TestImage.oci(base, Tars.tar().file("two", "2").bytes());
        registry.put("repo/one", "t", first).put("repo/two", "t", second);
        pull("repo/one:t");
        pull("repo/two:t");
        Digest shared = Digest.parse((String) first.layers.get(0).get("digest"));
        assertEquals(1, registry.count("/blobs/" + shared), registry.requests.toString());
        assertTrue(out.toString(StandardCharsets.UTF_8).contains(shared.shortHex() + ": Already exists\n"), out.toString());
    }

    @Test
    void brokenConnectionResumesWithRange() throws Exception {
        TestImage img = randomImage(300_000, 1);
        registry.put("repo/img", "t", img);
        Digest layer = img.blobs.keySet().iterator().next();
        AtomicBoolean broken = new AtomicBoolean();
        registry.intercept(cutOnce(layer, img.blobs.get(layer), 100_000, broken));
        pull("repo/img:t");
        assertTrue(broken.get());
        // It resumes from what reached it: at most the 100,000 bytes sent, fewer when the dropped
        // connection discarded some in flight (a CI run saw bytes=97297-); never from the start.
        assertTrue(registry.requests.stream().anyMatch(r -> resumesWithin(r.range(), 100_000)), registry.requests.toString());
        assertTrue(store.blobs().has(layer));
    }

    /** Is {@code range} "bytes=N-" with 0 < N <= max? */
    static boolean resumesWithin(String range, long max) {
        if (range == null || !range.matches("bytes=[0-9]{1,18}-")) {
            return false;
        }
        long from = Long.parseLong(range.substring("bytes=".length(), range.length() - 1));
        return from > 0 && from <= max;
    }

    /** One uncompressed layer holding {@code size} random bytes. */
    static TestImage randomImage(int size, long seed) {
        byte[] big = new byte[size];
        new java.util.Random(seed).nextBytes(big);
        return TestImage.oci(Compression.NONE, "amd64", Tars.tar().file("big", big, 0644, 0, 0).bytes());
    }

    /** Sends the first {@code cut} bytes of {@code blob} then breaks the connection, once. */
    private static FakeRegistry.Interceptor cutOnce(Digest digest, byte[] blob, int cut, AtomicBoolean done) {
        return ex -> {
            if (ex.getRequestURI().getPath().endsWith("/blobs/" + digest) && ex.getRequestHeaders().getFirst("Range") == null
                    && done.compareAndSet(false, true)) {
                ex.sendResponseHeaders(200, blob.length);
                ex.getResponseBody().write(blob, 0, cut);
                ex.getResponseBody().flush();
                throw new IOException("cut"); // the server drops the connection mid-body
            }
            return false;
        };
    }

    @Test
    void stalledDownloadIsBrokenOffAndResumed() throws Exception {
        TestImage img = randomImage(300_000, 3);
        registry.put("repo/img", "t", img);
        Digest layer = img.blobs.keySet().iterator().next();
        byte[] blob = img.blobs.get(layer);
        java.util.concurrent.CountDownLatch end = new java.util.concurrent.CountDownLatch(1);
        AtomicBoolean stalled = new AtomicBoolean();
        registry.intercept(ex -> {
            if (ex.getRequestURI().getPath().endsWith("/blobs/" + layer) && stalled.compareAndSet(false, true)) {
                ex.sendResponseHeaders(200, blob.length);
                ex.getResponseBody().write(blob, 0, 1000);
                ex.getResponseBody().flush();
                try {
                    end.await(30, java.util.concurrent.TimeUnit.SECONDS); // then nothing more
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                throw new IOException("gave up");
            }
            return false;
        });
        try {
            PullFixtures.puller(store, null, out).withStallTimeout(java.time.Duration.ofMillis(500))
                    .pull(Reference.parse(registry.host() + "/repo/img:t"));
        } finally {
            end.countDown();
        }
        assertTrue(registry.requests.stream().anyMatch(r -> "bytes=1000-".equals(r.range())), registry.requests.toString());
    }

    @Test
    void killedDownloadResumesOnTheNextPull() throws Exception {
        TestImage img = randomImage(200_000, 2);
        Digest layer = img.blobs.keySet().iterator().next();
        byte[] blob = img.blobs.get(layer);
        registry.put("repo/img", "t", img);
        // A first pull that got 50000 bytes: its partial download survives it.
        try (var ingest = store.ingest(); var w = ingest.writer(layer, blob.length)) {
            w.write(blob, 0, 50_000);
        }
        pull("repo/img:t");
        assertTrue(registry.requests.stream().anyMatch(r -> "bytes=50000-".equals(r.range())), registry.requests.toString());
    }

    @Test
    void rangeIgnoredRestartsCleanly() throws Exception {
        TestImage img = image();
        Digest layer = img.blobs.keySet().iterator().next();
        byte[] blob = img.blobs.get(layer);
        registry.put("repo/img", "t", img);
        try (var ingest = store.ingest(); var w = ingest.writer(layer, blob.length)) {
            w.write(blob, 0, blob.length / 2);
        }
        registry.intercept(ex -> {
            if (ex.getRequestHeaders().getFirst("Range") != null) {
                FakeRegistry.send(ex, 200, "application/octet-stream", blob); // the whole blob: the registry ignored the range
                return true;
            }
            return false;
        });
        pull("repo/img:t");
        assertTrue(store.blobs().has(layer));
    }

    @Test
    void blobDigestMismatchKeepsNothing() throws Exception {
        TestImage img = image();
        Digest layer = img.blobs.keySet().iterator().next();
        byte[] bad = img.blobs.get(layer).clone();
        bad[bad.length / 2] ^= 1;
        registry.put("repo/img", "t", img);
        registry.blobs.put(layer, bad);
        Set<String> before = PullFixtures.storeContents(store);
        DigestMismatchException e = assertThrows(DigestMismatchException.class, () -> pull("repo/img:t"));
        assertTrue(e.getMessage().contains(layer.toString()), e.getMessage());
        assertEquals(before, PullFixtures.storeContents(store));
        assertEquals(List.of(), leftovers());
    }

    /** Files left in the store's tmp/ (partial downloads and staging); a completed or failed pull leaves none. */
    private List<String> leftovers() throws IOException {
        try (var s = Files.list(store.directory().resolve("tmp"))) {
            return s.map(p -> p.getFileName().toString()).toList();
        }
    }

    @Test
    void diffIdMismatchKeepsNothing() throws Exception {
        byte[] tar = Tars.tar().file("a", "a").bytes();
        TestImage img = new TestImage().rawLayer(Tars.gzip(tar), MediaTypes.OCI_LAYER_GZIP, Digest.of(new byte[] {1}).toString())
                .finish(MediaTypes.OCI_MANIFEST, MediaTypes.OCI_CONFIG, "amd64");
        registry.put("repo/img", "t", img);
        DigestMismatchException e = assertThrows(DigestMismatchException.class, () -> pull("repo/img:t"));
        assertTrue(e.getMessage().contains("rootfs.diff_ids"), e.getMessage());
        assertEquals(Set.of(), PullFixtures.storeContents(store));
    }

    @Test
    void manifestDigestMismatch() throws Exception {
        TestImage img = image();
        registry.put("repo/img", "t", img);
        Digest other = Digest.of(new byte[] {7});
        registry.putManifest("repo/img", other.toString(), img.manifest, img.manifestType);
        assertThrows(DigestMismatchException.class, () -> pull("repo/img@" + other));
        // A tag whose Docker-Content-Digest lies.
        registry.intercept(ex -> {
            if (ex.getRequestURI().getPath().endsWith("/manifests/lie")) {
                ex.getResponseHeaders().add("Docker-Content-Digest", other.toString());
                FakeRegistry.send(ex, 200, img.manifestType, img.manifest);
                return true;
            }
            return false;
        });
        assertThrows(DigestMismatchException.class, () -> pull("repo/img:lie"));
        assertEquals(Set.of(), PullFixtures.storeContents(store));
    }

    @Test
    void missingTagIsOneClearLine() {
        RegistryException e = assertThrows(RegistryException.class, () -> pull("repo/img:nope"));
        assertEquals("manifest for " + registry.host() + "/repo/img:nope not found: manifest unknown: manifest unknown", e.getMessage());
    }

    @Test
    void oversizedManifestRefused() {
        byte[] huge = new byte[RegistryClient.MAX_MANIFEST + 10];
        Arrays.fill(huge, (byte) ' ');
        registry.putManifest("repo/img", "t", huge, MediaTypes.OCI_MANIFEST);
        RegistryException e = assertThrows(RegistryException.class, () -> pull("repo/img:t"));
        assertTrue(e.getMessage().contains("too large"), e.getMessage());
    }

    @Test
    void malformedDocumentsRefused() throws Exception {
        registry.putManifest("repo/img", "t", "{\"schemaVersion\":2,".getBytes(StandardCharsets.UTF_8), MediaTypes.OCI_MANIFEST);
        InvalidImageException e = assertThrows(InvalidImageException.class, () -> pull("repo/img:t"));
        assertTrue(e.getMessage().contains("malformed JSON"), e.getMessage());

        // A digest that is a path, not a digest.
        String evil = "{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"config\":{\"mediaType\":\""
                + MediaTypes.OCI_CONFIG + "\",\"digest\":\"sha256:../../../etc/passwd\",\"size\":10},\"layers\":[]}";
        registry.putManifest("repo/img", "evil", evil.getBytes(StandardCharsets.UTF_8), MediaTypes.OCI_MANIFEST);
        e = assertThrows(InvalidImageException.class, () -> pull("repo/img:evil"));
        assertTrue(e.getMessage().contains("invalid sha256 digest"), e.getMessage());

        // A config that is not JSON.
        TestImage img = new TestImage().layer(Tars.tar().file("a", "a").bytes(), Compression.GZIP, MediaTypes.OCI_LAYER_GZIP)
                .finish(MediaTypes.OCI_MANIFEST, MediaTypes.OCI_CONFIG, "not json".getBytes(StandardCharsets.UTF_8));
        registry.put("repo/img", "cfg", img);
        e = assertThrows(InvalidImageException.class, () -> pull("repo/img:cfg"));
        assertTrue(e.getMessage().startsWith("config " + img.configDigest + ": malformed JSON"), e.getMessage());

        // An unknown layer media type.
        TestImage odd = new TestImage().layer(Tars.tar().file("a", "a").bytes(), Compression.GZIP, "application/x-evil")
                .finish(MediaTypes.OCI_MANIFEST, MediaTypes.OCI_CONFIG, "amd64");
        registry.put("repo/img", "odd", odd);
        e = assertThrows(InvalidImageException.class, () -> pull("repo/img:odd"));
        assertTrue(e.getMessage().contains("unsupported media type application/x-evil"), e.getMessage());
        assertEquals(Set.of(), PullFixtures.storeContents(store));
    }

    @Test
    void indexWithoutAmd64() throws Exception {
        TestImage arm = TestImage.oci(Compression.GZIP, "arm64", Tars.tar().file("a", "a").bytes());
        registry.put("repo/img", arm.digest().toString(), arm);
        registry.putManifest("repo/img", "t", TestImage.index(MediaTypes.OCI_INDEX, List.of(arm.entry("linux", "arm64", null))),
                MediaTypes.OCI_INDEX);
        InvalidImageException e = assertThrows(InvalidImageException.class, () -> pull("repo/img:t"));
        assertTrue(e.getMessage().startsWith("no matching manifest for linux/amd64"), e.getMessage());
    }

    @Test
    void layersDownloadConcurrently() throws Exception {
        TestImage img = TestImage.oci(Tars.tar().file("a", "a").bytes(), Tars.tar().file("b", "b").bytes(), Tars.tar().file("c", "c").bytes(),
                Tars.tar().file("d", "d").bytes());
        registry.put("repo/img", "t", img);
        // Each blob request waits until three are in flight at once: only concurrent downloads get through.
        java.util.concurrent.CountDownLatch three = new java.util.concurrent.CountDownLatch(3);
        AtomicInteger layerRequests = new AtomicInteger();
        registry.intercept(ex -> {
            String p = ex.getRequestURI().getPath();
            if (p.contains("/blobs/") && !p.endsWith(img.configDigest.toString())) {
                layerRequests.incrementAndGet();
                three.countDown();
                try {
                    if (!three.await(20, java.util.concurrent.TimeUnit.SECONDS)) {
                        FakeRegistry.error(ex, 500, "UNKNOWN", "downloads were not concurrent");
                        return true;
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            return false;
        });
        pull("repo/img:t");
        assertEquals(4, layerRequests.get());
        // The fourth waited for a free download, as docker shows it.
        String fourth = Digest.parse((String) img.layers.get(3).get("digest")).shortHex();
        assertTrue(out.toString(StandardCharsets.UTF_8).contains(fourth + ": Pulling fs layer\n" + fourth + ": Waiting\n"), out.toString());
    }

    // ---- hostile layers: each fails naming the layer and the entry, nothing kept -------------------

    private void assertHostile(byte[] tar, String entry, UnpackPolicy policy) throws Exception {
        if (policy != null) {
            store = ImageStore.open(dir.resolve("strict"), policy);
        }
        TestImage img = TestImage.oci(Compression.GZIP, "amd64", Tars.tar().file("ok", "ok").bytes(), tar);
        registry.put("repo/evil", "t", img);
        Digest layer = Digest.parse((String) img.layers.get(1).get("digest"));
        Exception e = assertThrows(Exception.class, () -> pull("repo/evil:t"));
        assertTrue(e instanceof InvalidImageException, e.toString());
        assertTrue(e.getMessage().contains(layer.toString()), e.getMessage());
        assertTrue(e.getMessage().contains(entry), e.getMessage());
        assertEquals(Set.of(), PullFixtures.storeContents(store));
        assertEquals(List.of(), leftovers());
    }

    @Test
    void hostileDotDot() throws Exception {
        assertHostile(Tars.tar().raw("../../escape", "x").bytes(), "../../escape", null);
    }

    @Test
    void hostileAbsolutePath() throws Exception {
        assertHostile(Tars.tar().raw("/etc/evil", "x").bytes(), "/etc/evil", null);
    }

    @Test
    void hostileHardlinkOutside() throws Exception {
        assertHostile(Tars.tar().hardlink("h", "../../etc/passwd").bytes(), "h", null);
    }

    @Test
    void hostileWriteThroughSymlinkedParent() throws Exception {
        assertHostile(Tars.tar().symlink("evil", "/etc").file("evil/passwd", "x").bytes(), "evil/passwd", null);
    }

    @Test
    void deviceNodesArePulledIntoTheImageAndLaterWhiteoutsDeleteThem() throws Exception {
        TestImage img = TestImage.oci(Tars.tar().dir("dev").charDevice("dev/null", 1, 3).charDevice("dev/zero", 1, 5)
                .blockDevice("dev/sda", 8, 0).fifo("dev/fifo").bytes(), Tars.tar().whiteout("dev/zero").bytes());
        registry.put("repo/devices", "t", img);
        Image image = pull("repo/devices:t").image();
        Path disk = store.ensureDisk(image);
        Ext4Inspect.Inode devNull = Ext4Inspect.stat(disk, "/dev/null");
        assertEquals(List.of("character special", 0666, 1, 3), List.of(devNull.type(), devNull.mode(), devNull.major(), devNull.minor()));
        Ext4Inspect.Inode sda = Ext4Inspect.stat(disk, "/dev/sda");
        assertEquals(List.of("block special", 0660, 6L, 8, 0), List.of(sda.type(), sda.mode(), sda.gid(), sda.major(), sda.minor()));
        assertEquals("FIFO", Ext4Inspect.stat(disk, "/dev/fifo").type());
        assertNull(Ext4Inspect.stat(disk, "/dev/zero"));
    }

    @Test
    void hostileDeviceNodeWhereRejected() throws Exception {
        assertHostile(Tars.tar().charDevice("dev/mem", 1, 1).bytes(), "dev/mem",
                UnpackPolicy.defaults().withDevices(UnpackPolicy.Devices.REJECT));
    }

    @Test
    void hostileDeviceNodeThroughASymlinkedParent() throws Exception {
        assertHostile(Tars.tar().symlink("dev", "/dev").charDevice("dev/null", 1, 3).bytes(), "dev/null", null);
    }

    @Test
    void hostileSetuidWhereRejected() throws Exception {
        assertHostile(Tars.tar().file("bin/su", new byte[] {1}, 04755, 0, 0).bytes(), "bin/su",
                UnpackPolicy.defaults().withSetuid(UnpackPolicy.Setuid.REJECT));
    }

    @Test
    void hostileDecompressionBomb() throws Exception {
        assertHostile(Tars.tar().file("bomb", new byte[3 << 20], 0644, 0, 0).bytes(), "bomb",
                UnpackPolicy.defaults().withMaxBytes(1 << 20));
    }

    @Test
    void hostileEntryCount() throws Exception {
        Tars t = Tars.tar();
        for (int i = 0; i < 50; i++) {
            t.file("f" + i, "x");
        }
        assertHostile(t.bytes(), "f", UnpackPolicy.defaults().withMaxEntries(20));
    }

    @Test
    void hostileMalformedTar() throws Exception {
        byte[] junk = new byte[2048];
        Arrays.fill(junk, (byte) 'A');
        assertHostile(junk, "", null);
    }

    @Test
    void configAndLayerCountMustAgree() throws Exception {
        TestImage img = TestImage.oci(Tars.tar().file("a", "a").bytes());
        img.diffIds.add(Digest.of(new byte[0]).toString());
        img.finish(MediaTypes.OCI_MANIFEST, MediaTypes.OCI_CONFIG, "amd64");
        registry.put("repo/img", "t", img);
        InvalidImageException e = assertThrows(InvalidImageException.class, () -> pull("repo/img:t"));
        assertTrue(e.getMessage().contains("lists 2 diff_ids for 1 layers"), e.getMessage());
        Json.MAPPER.readTree(img.manifest); // the manifest itself was well-formed
    }
}
