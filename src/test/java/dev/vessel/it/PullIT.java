package dev.vessel.it;

import dev.vessel.image.Digest;
import dev.vessel.image.Tars;
import dev.vessel.registry.FakeRegistry;
import dev.vessel.registry.RealRegistry;
import dev.vessel.registry.TestImage;
import dev.vessel.image.Compression;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code vessel pull}, {@code login}, {@code logout} through the packaged CLI, each test with a
 * state root of its own: a real docker-registry for the happy path, an in-test registry for
 * credentials and for pulls killed with SIGKILL. No VM is started.
 */
class PullIT {
    @TempDir
    Path dir;

    private VesselCli.Result vessel(Map<String, String> env, byte[] stdin, String... args) throws Exception {
        return VesselCli.runIn(dir.resolve("root"), env, stdin, args);
    }

    private VesselCli.Result vessel(String... args) throws Exception {
        return vessel(Map.of("DOCKER_CONFIG", dir.resolve("docker").toString()), null, args);
    }

    @Test
    void pullFromARealRegistryLikeDocker() throws Exception {
        try (RealRegistry registry = new RealRegistry(Files.createDirectories(dir.resolve("registry")))) {
            TestImage img = TestImage.oci(Tars.tar().file("etc/hello", "hi").bytes(), Tars.tar().file("two", "2").bytes());
            registry.push("it/img", "t", img);
            String name = registry.host + "/it/img:t";

            VesselCli.Result r = vessel("pull", name);
            assertEquals(0, r.status(), r.toString());
            assertEquals("", r.stderr(), r.toString());
            List<String> lines = r.stdout().lines().toList();
            assertEquals("t: Pulling from it/img", lines.getFirst(), r.toString());
            assertTrue(lines.contains("Digest: " + img.digest()), r.toString());
            assertEquals("Status: Downloaded newer image for " + name, lines.get(lines.size() - 2), r.toString());
            assertEquals(name, lines.getLast(), r.toString());
            assertEquals(2, lines.stream().filter(l -> l.endsWith(": Pull complete")).count(), r.toString());

            VesselCli.Result images = vessel("images");
            assertTrue(images.stdout().contains(registry.host + "/it/img"), images.toString());

            VesselCli.Result quiet = vessel("pull", "-q", name);
            assertEquals(0, quiet.status(), quiet.toString());
            assertEquals(name + "\n", quiet.stdout(), quiet.toString());

            VesselCli.Result missing = vessel("pull", registry.host + "/it/img:nope");
            assertEquals(1, missing.status(), missing.toString());
            assertEquals("Error response from daemon: manifest for " + registry.host + "/it/img:nope not found: "
                    + "manifest unknown: manifest unknown\n", missing.stderr(), missing.toString());
        }
    }

    @Test
    void helpAndBadInput() throws Exception {
        for (String c : List.of("pull", "login", "logout")) {
            VesselCli.Result h = vessel(c, "--help");
            assertEquals(0, h.status(), h.toString());
            assertTrue(h.stdout().startsWith("Usage: vessel " + c), h.toString());
        }
        VesselCli.Result bad = vessel("pull", "bad//ref");
        assertEquals(1, bad.status(), bad.toString());
        assertTrue(bad.stderr().startsWith("Error response from daemon: invalid reference format"), bad.toString());
        // run of an image that is not there: docker's line, then the pull's failure, status 125 (no VM started).
        VesselCli.Result run = vessel("run", "--rm", "127.0.0.1:1/none:t", "true");
        assertEquals(125, run.status(), run.toString());
        assertTrue(run.stderr().startsWith("Unable to find image '127.0.0.1:1/none:t' locally\n"), run.toString());
        assertTrue(run.stderr().contains("cannot connect to registry 127.0.0.1:1"), run.toString());
    }

    @Test
    void loginStoresCredentialsThatPullUsesAndLogoutRemoves() throws Exception {
        try (FakeRegistry registry = new FakeRegistry()) {
            registry.requireBasic("me", "s3cret");
            registry.put("private/img", "t", TestImage.oci(Tars.tar().file("a", "a").bytes()));
            Map<String, String> env = Map.of("DOCKER_CONFIG", dir.resolve("docker").toString());

            VesselCli.Result denied = vessel("pull", registry.host() + "/private/img:t");
            assertEquals(1, denied.status(), denied.toString());
            assertTrue(denied.stderr().startsWith("Error response from daemon: pull access denied for private/img"), denied.toString());

            VesselCli.Result wrong = vessel(env, "nope\n".getBytes(StandardCharsets.UTF_8),
                    "login", "--username", "me", "--password-stdin", registry.host());
            assertEquals(1, wrong.status(), wrong.toString());
            assertFalse(Files.exists(dir.resolve("docker/config.json")), wrong.toString());

            VesselCli.Result login = vessel(env, "s3cret\n".getBytes(StandardCharsets.UTF_8),
                    "login", "-u", "me", "--password-stdin", registry.host());
            assertEquals(0, login.status(), login.toString());
            assertEquals("Login Succeeded\n", login.stdout(), login.toString());
            assertTrue(Files.readString(dir.resolve("docker/config.json")).contains(registry.host()));

            VesselCli.Result pull = vessel("pull", "-q", registry.host() + "/private/img:t");
            assertEquals(0, pull.status(), pull.toString());

            VesselCli.Result logout = vessel("logout", registry.host());
            assertEquals("Removing login credentials for " + registry.host() + "\n", logout.stdout(), logout.toString());
            assertFalse(Files.readString(dir.resolve("docker/config.json")).contains(registry.host()));
        }
    }

    /**
     * SIGKILL while the manifest is being fetched, at a random moment, and in the middle of a
     * layer: no image appears, and the next pull succeeds, resuming the layer where the killed one stopped.
     */
    @Test
    void pullKilledAnywhereLeavesNoHalfImageAndTheNextOneResumes() throws Exception {
        byte[] big = new byte[4 << 20];
        new Random(5).nextBytes(big);
        TestImage img = TestImage.oci(Compression.NONE, "amd64", Tars.tar().file("a", "a").bytes(),
                Tars.tar().file("big", big, 0644, 0, 0).bytes());
        Digest layer = img.blobs.keySet().stream().filter(d -> img.blobs.get(d).length > big.length).findFirst().orElseThrow();
        byte[] blob = img.blobs.get(layer);
        try (FakeRegistry registry = new FakeRegistry()) {
            registry.put("kill/img", "t", img);
            AtomicBoolean stall = new AtomicBoolean(true);
            CountDownLatch release = new CountDownLatch(1);
            CountDownLatch[] halfSent = {new CountDownLatch(1)};
            CountDownLatch[] manifestAsked = {new CountDownLatch(1)};
            AtomicBoolean stallManifest = new AtomicBoolean(false);
            registry.intercept(ex -> {
                String p = ex.getRequestURI().getPath();
                if (stallManifest.get() && p.contains("/manifests/")) {
                    manifestAsked[0].countDown();
                    await(release);
                    return true;
                }
                if (stall.get() && p.endsWith("/blobs/" + layer) && ex.getRequestHeaders().getFirst("Range") == null) {
                    ex.sendResponseHeaders(200, blob.length);
                    ex.getResponseBody().write(blob, 0, blob.length / 2);
                    ex.getResponseBody().flush();
                    halfSent[0].countDown();
                    await(release);
                    throw new java.io.IOException("stalled until the client died");
                }
                return false;
            });
            String name = registry.host() + "/kill/img:t";
            Path root = dir.resolve("root");
            Map<String, String> env = Map.of("DOCKER_CONFIG", dir.resolve("docker").toString());

            // 1. At a random moment (the blob stalls, so it is somewhere before the image is complete).
            Process p = VesselCli.startIn(root, env, List.of("pull", name));
            p.waitFor(new Random().nextInt(1500), TimeUnit.MILLISECONDS);
            killAndCheck(p);

            // 2. While the manifest is being fetched.
            stallManifest.set(true);
            p = VesselCli.startIn(root, env, List.of("pull", name));
            assertTrue(manifestAsked[0].await(60, TimeUnit.SECONDS), "the pull never asked for the manifest");
            killAndCheck(p);
            stallManifest.set(false);

            // 3. Half-way through the big layer, once its partial file has bytes.
            p = VesselCli.startIn(root, env, List.of("pull", name));
            assertTrue(halfSent[0].await(60, TimeUnit.SECONDS), "the pull never fetched the layer");
            Path partial = root.resolve("images/tmp/partial-" + layer.hex());
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while (!(Files.exists(partial) && Files.size(partial) > 0) && System.nanoTime() < deadline) {
                p.waitFor(20, TimeUnit.MILLISECONDS);
            }
            assertTrue(Files.size(partial) > 0, "no partial download at " + partial);
            killAndCheck(p);

            stall.set(false);
            release.countDown();
            VesselCli.Result ok = vessel("pull", name);
            assertEquals(0, ok.status(), ok.toString());
            assertTrue(registry.requests.stream().anyMatch(r -> r.path().endsWith(layer.toString()) && r.range() != null
                    && r.range().startsWith("bytes=") && !r.range().equals("bytes=0-")), registry.requests.toString());
            VesselCli.Result images = vessel("images");
            assertTrue(images.stdout().lines().anyMatch(l -> l.startsWith(registry.host() + "/kill/img ") && l.contains(" t ")),
                    images.toString());
        }
    }

    private void killAndCheck(Process p) throws Exception {
        p.destroyForcibly(); // SIGKILL
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        VesselCli.Result images = vessel("images", "-q");
        assertEquals(0, images.status(), images.toString());
        assertEquals("", images.stdout(), "a killed pull left an image behind:\n" + images);
    }

    private static void await(CountDownLatch l) {
        try {
            l.await(120, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
