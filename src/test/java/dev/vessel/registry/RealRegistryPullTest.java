package dev.vessel.registry;

import dev.vessel.image.Compression;
import dev.vessel.image.Descriptor;
import dev.vessel.image.Digest;
import dev.vessel.image.Image;
import dev.vessel.image.ImageStore;
import dev.vessel.image.Json;
import dev.vessel.image.MediaTypes;
import dev.vessel.image.Reference;
import dev.vessel.image.Tars;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Pulls from a real registry (Debian's docker-registry) images that umoci built and skopeo pushed
 * — multi-layer with whiteouts, gzip and zstd, OCI and Docker formats, a two-platform index — and
 * compares the unpacked tree with what was built. Fails, never skips, without the tools.
 */
class RealRegistryPullTest {
    @TempDir
    static Path shared;
    static RealRegistry registry;

    @TempDir
    Path dir;

    @BeforeAll
    static void start() throws Exception {
        registry = new RealRegistry(shared);
    }

    @AfterAll
    static void stop() throws Exception {
        if (registry != null) {
            registry.close();
        }
    }

    /** Three umoci layers: files, then deletions (whiteouts) and additions, then a directory re-created. */
    private static Umoci threeLayers(Path dir, String tag) throws Exception {
        Umoci u = new Umoci(dir).newImage(tag);
        u.layer(tag, r -> {
            Files.createDirectories(r.resolve("etc"));
            Files.writeString(r.resolve("etc/hello"), "hi");
            Files.createDirectories(r.resolve("d"));
            Files.writeString(r.resolve("d/gone"), "gone");
            Files.writeString(r.resolve("d/keep"), "keep");
            Files.createDirectories(r.resolve("lib"));
            Files.writeString(r.resolve("lib/x"), "x");
            Files.createSymbolicLink(r.resolve("link"), Path.of("etc/hello"));
        });
        u.layer(tag, r -> {
            Files.delete(r.resolve("d/gone"));
            Files.delete(r.resolve("lib/x"));
            Files.delete(r.resolve("lib"));
            Files.writeString(r.resolve("two"), "two");
        });
        u.layer(tag, r -> {
            Files.writeString(r.resolve("etc/hello"), "hello again");
            Files.createDirectories(r.resolve("lib"));
            Files.writeString(r.resolve("lib/y"), "y");
        });
        u.config(tag, "--config.cmd", "/bin/sh");
        return u;
    }

    private static final Map<String, String> THREE_LAYERS_TREE = new TreeMap<>(Map.of(
            "etc", "dir", "etc/hello", "file hello again", "d", "dir", "d/keep", "file keep",
            "two", "file two", "lib", "dir", "lib/y", "file y", "link", "link -> etc/hello"));

    private Image pullAndCompare(String repoTag, Map<String, String> expected, ByteArrayOutputStream out) throws Exception {
        ImageStore store = PullFixtures.store(dir);
        Puller.Result r = PullFixtures.puller(store, new DockerConfig(dir.resolve("config.json")), out)
                .pull(Reference.parse(registry.host + "/" + repoTag));
        assertEquals(expected, PullFixtures.tree(PullFixtures.unpack(store, r.image(), dir.resolve("rootfs"))));
        return r.image();
    }

    @Test
    void multiLayerGzipWithWhiteouts() throws Exception {
        Umoci u = threeLayers(dir.resolve("build"), "t");
        registry.skopeoPush(u.layout, "t", "umoci/three:t");
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Image img = pullAndCompare("umoci/three:t", THREE_LAYERS_TREE, out);
        assertEquals(3, img.layers().size());
        for (Descriptor l : img.layers()) {
            assertEquals(MediaTypes.OCI_LAYER_GZIP, l.mediaType());
        }
        String text = out.toString(StandardCharsets.UTF_8);
        assertTrue(text.startsWith("t: Pulling from umoci/three\n"), text);
        assertEquals(3, text.split("Pull complete", -1).length - 1, text);
        assertTrue(text.contains("Digest: " + img.manifestDigest() + "\n"), text);
        assertTrue(text.endsWith("Status: Downloaded newer image for " + registry.host + "/umoci/three:t\n"), text);

        // Again: nothing to do.
        ByteArrayOutputStream again = new ByteArrayOutputStream();
        Puller.Result r = PullFixtures.puller(PullFixtures.store(dir), null, again).pull(Reference.parse(registry.host + "/umoci/three:t"));
        assertTrue(r.upToDate());
        assertTrue(again.toString(StandardCharsets.UTF_8).endsWith("Status: Image is up to date for " + registry.host + "/umoci/three:t\n"));
    }

    @Test
    void zstdLayers() throws Exception {
        Umoci u = threeLayers(dir.resolve("build"), "t");
        Path zstd = dir.resolve("zstd-layout");
        RealRegistry.run(RealRegistry.SKOPEO, "copy", "-q", "--dest-compress", "--dest-compress-format", "zstd",
                "oci:" + u.layout + ":t", "oci:" + zstd + ":t");
        registry.skopeoPush(zstd, "t", "umoci/zstd:t");
        Image img = pullAndCompare("umoci/zstd:t", THREE_LAYERS_TREE, new ByteArrayOutputStream());
        for (Descriptor l : img.layers()) {
            assertEquals(MediaTypes.OCI_LAYER_ZSTD, l.mediaType());
        }
    }

    @Test
    void dockerV2Manifest() throws Exception {
        Umoci u = threeLayers(dir.resolve("build"), "t");
        registry.skopeoPush(u.layout, "t", "umoci/docker:t", "--format", "v2s2");
        Image img = pullAndCompare("umoci/docker:t", THREE_LAYERS_TREE, new ByteArrayOutputStream());
        assertEquals(MediaTypes.DOCKER_MANIFEST, img.manifest().mediaType());
        assertEquals(MediaTypes.DOCKER_LAYER_GZIP, img.layers().getFirst().mediaType());
    }

    @Test
    void twoPlatformIndexPicksAmd64AndSkipsAttestations() throws Exception {
        Umoci u = new Umoci(dir.resolve("build"));
        for (String arch : List.of("amd64", "arm64")) {
            u.newImage(arch).layer(arch, r -> Files.writeString(r.resolve("arch"), arch)).config(arch, "--architecture", arch);
        }
        JsonNode layoutIndex = Json.MAPPER.readTree(Files.readAllBytes(u.layout.resolve("index.json")));
        Map<String, JsonNode> byTag = new TreeMap<>();
        for (JsonNode m : layoutIndex.get("manifests")) {
            byTag.put(m.get("annotations").get("org.opencontainers.image.ref.name").asText(), m);
        }
        // The attestation-like entry comes first and points at the arm64 image: picking it would show.
        List<Object> entries = List.of(
                entry(byTag.get("arm64"), "unknown", "unknown", Map.of("vnd.docker.reference.type", "attestation-manifest")),
                entry(byTag.get("arm64"), "linux", "arm64", null),
                entry(byTag.get("amd64"), "linux", "amd64", null));
        byte[] index = Json.write(Map.of("schemaVersion", 2, "mediaType", MediaTypes.OCI_INDEX, "manifests", entries));
        Digest indexDigest = Digest.of(index);
        Files.write(u.layout.resolve("blobs/sha256/" + indexDigest.hex()), index);
        ObjectNode li = (ObjectNode) layoutIndex;
        li.withArray("manifests").add(Json.MAPPER.valueToTree(Map.of("mediaType", MediaTypes.OCI_INDEX,
                "digest", indexDigest.toString(), "size", index.length,
                "annotations", Map.of("org.opencontainers.image.ref.name", "multi"))));
        Files.write(u.layout.resolve("index.json"), Json.write(li));
        registry.skopeoPush(u.layout, "multi", "umoci/multi:t", "--multi-arch", "all");

        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Image img = pullAndCompare("umoci/multi:t", Map.of("arch", "file amd64"), out);
        assertEquals("amd64", img.config().architecture());
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("Digest: " + indexDigest + "\n"), out.toString(StandardCharsets.UTF_8));
        // By the index's digest too.
        Image byDigest = pullAndCompareIn(dir.resolve("second"), "umoci/multi@" + indexDigest);
        assertEquals(img.manifestDigest(), byDigest.manifestDigest());
    }

    private Image pullAndCompareIn(Path other, String repoRef) throws Exception {
        ImageStore store = PullFixtures.store(other);
        return PullFixtures.puller(store, null, new ByteArrayOutputStream()).pull(Reference.parse(registry.host + "/" + repoRef)).image();
    }

    private static Map<String, Object> entry(JsonNode m, String os, String arch, Map<String, String> annotations) {
        Map<String, Object> e = new TreeMap<>();
        e.put("mediaType", m.get("mediaType").asText());
        e.put("digest", m.get("digest").asText());
        e.put("size", m.get("size").asLong());
        e.put("platform", Map.of("os", os, "architecture", arch));
        if (annotations != null) {
            e.put("annotations", annotations);
        }
        return e;
    }

    /** The built-in busybox (what PullRunIT runs) goes through a registry byte for byte. */
    @Test
    void builtinBusyboxRoundTrips() throws Exception {
        ImageStore scratch = ImageStore.open(dir.resolve("scratch"), dev.vessel.image.UnpackPolicy.defaults());
        Image img = dev.vessel.image.BuiltinBusybox.create(scratch);
        registry.push("it/busybox", "t", scratch, img);
        Puller.Result r = PullFixtures.puller(PullFixtures.store(dir), null, new ByteArrayOutputStream())
                .pull(Reference.parse(registry.host + "/it/busybox:t"));
        assertEquals(img.manifestDigest(), r.image().manifestDigest());
        assertEquals(img.config(), r.image().config());
    }

    /** A Docker manifest list pushed by hand: uncompressed and zstd layers, an opaque whiteout, shared layers not fetched twice. */
    @Test
    void dockerManifestListWithUncompressedLayersAndOpaqueWhiteout() throws Exception {
        byte[] base = Tars.tar().dir("opq").file("opq/old", "old").file("keep", "keep").bytes();
        byte[] top = Tars.tar().dir("opq").opaque("opq").file("opq/new", "new").bytes();
        TestImage amd = new TestImage()
                .layer(base, Compression.NONE, MediaTypes.DOCKER_LAYER)
                .layer(top, Compression.ZSTD, MediaTypes.DOCKER_LAYER_ZSTD)
                .finish(MediaTypes.DOCKER_MANIFEST, MediaTypes.DOCKER_CONFIG, "amd64");
        TestImage arm = new TestImage().layer(TestImage.simpleLayer("arm", "arm"), Compression.GZIP, MediaTypes.DOCKER_LAYER_GZIP)
                .finish(MediaTypes.DOCKER_MANIFEST, MediaTypes.DOCKER_CONFIG, "arm64");
        registry.push("hand/list", arm.digest().toString(), arm);
        registry.push("hand/list", amd.digest().toString(), amd);
        byte[] list = TestImage.index(MediaTypes.DOCKER_MANIFEST_LIST,
                List.of(arm.entry("linux", "arm64", null), amd.entry("linux", "amd64", null)));
        registry.push("hand/list", "t", Map.of(), list, MediaTypes.DOCKER_MANIFEST_LIST);

        Image img = pullAndCompare("hand/list:t", Map.of("opq", "dir", "opq/new", "file new", "keep", "file keep"),
                new ByteArrayOutputStream());
        assertEquals(amd.digest(), img.manifestDigest());

        // An image sharing the base layer: the store has it, it is not fetched again.
        TestImage next = new TestImage().layer(base, Compression.NONE, MediaTypes.DOCKER_LAYER)
                .layer(TestImage.simpleLayer("more", "more"), Compression.GZIP, MediaTypes.DOCKER_LAYER_GZIP)
                .finish(MediaTypes.DOCKER_MANIFEST, MediaTypes.DOCKER_CONFIG, "amd64");
        registry.push("hand/next", "t", next);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PullFixtures.puller(PullFixtures.store(dir), null, out).pull(Reference.parse(registry.host + "/hand/next:t"));
        String text = out.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains(Digest.of(base).shortHex() + ": Already exists\n"), text);
    }
}
