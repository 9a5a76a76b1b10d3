package dev.vessel.image;

import com.fasterxml.jackson.databind.JsonNode;
import dev.vessel.host.DiskUsage;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The image store's housekeeping: save (and its archive loaded back), prune, and what images take on disk. */
class ImageHousekeepingTest {
    @TempDir
    Path dir;
    ImageStore store;
    /** Two images with the same single layer (the same root filesystem) but their own configs. */
    Image app;
    Image tool;

    private static final byte[] ROOTFS = Tars.tar().dir("bin").file("bin/sh", "not a real shell").bytes();

    @BeforeEach
    void images() throws Exception {
        store = ImageStore.open(dir.resolve("images"), UnpackPolicy.defaults());
        app = store.importRootfs(new ByteArrayInputStream(ROOTFS), "example.com/team/app:1", List.of("LABEL tier=web"), null);
        tool = store.importRootfs(new ByteArrayInputStream(ROOTFS), "tool:latest", List.of("CMD [\"/bin/sh\"]"), null);
    }

    private Image dangling(String label) throws Exception {
        return store.importRootfs(new ByteArrayInputStream(Tars.tar().file("f", label).bytes()), null,
                List.of("LABEL kind=" + label), null);
    }

    /** The archive's entries, by name in their order, with their contents. */
    private static Map<String, byte[]> entries(byte[] tar) throws Exception {
        Map<String, byte[]> out = new LinkedHashMap<>();
        try (TarArchiveInputStream in = new TarArchiveInputStream(new ByteArrayInputStream(tar))) {
            TarArchiveEntry e;
            while ((e = in.getNextEntry()) != null) {
                assertEquals(0, e.getLastModifiedTime().toMillis(), e.getName());
                out.put(e.getName(), in.readAllBytes());
            }
        }
        return out;
    }

    private byte[] save(String... names) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ArchiveWriter w = store.save(List.of(names))) {
            w.write(out);
        }
        return out.toByteArray();
    }

    private static String text(byte[] b) {
        return new String(b, StandardCharsets.UTF_8);
    }

    @Test
    void saveWritesDockersArchiveWhichLoadsBackTheSameImages() throws Exception {
        app = store.resolve("example.com/team/app:1");
        store.tag("tool:latest", "tool:2");
        byte[] tar = save("example.com/team/app:1", "tool");
        Map<String, byte[]> e = entries(tar);
        String layer = app.layers().getFirst().digest().hex();
        assertEquals(List.of("blobs/", "blobs/sha256/"), new ArrayList<>(e.keySet()).subList(0, 2));
        assertEquals(List.of("index.json", "manifest.json", "oci-layout", "repositories"),
                new ArrayList<>(e.keySet()).subList(e.size() - 4, e.size()), "docker's order: its folder walked");
        assertEquals(Set.of(app.manifestDigest().hex(), app.id().hex(), layer, tool.manifestDigest().hex(), tool.id().hex()),
                Set.copyOf(e.keySet().stream().filter(n -> n.startsWith("blobs/sha256/") && n.length() > 13)
                        .map(n -> n.substring(13)).toList()), "the shared layer once");
        assertArrayEquals(Files.readAllBytes(store.blobs().path(app.id())), e.get("blobs/sha256/" + app.id().hex()));

        assertEquals("[{\"Config\":\"blobs/sha256/" + app.id().hex() + "\",\"RepoTags\":[\"example.com/team/app:1\"],"
                + "\"Layers\":[\"blobs/sha256/" + layer + "\"]},{\"Config\":\"blobs/sha256/" + tool.id().hex()
                + "\",\"RepoTags\":[\"tool:2\",\"tool:latest\"],\"Layers\":[\"blobs/sha256/" + layer + "\"]}]\n",
                text(e.get("manifest.json")), "a repository alone is all its tags");
        assertEquals("{\"imageLayoutVersion\": \"1.0.0\"}", text(e.get("oci-layout")));
        JsonNode index = Json.MAPPER.readTree(e.get("index.json"));
        assertEquals(3, index.get("manifests").size(), "an entry per name");
        JsonNode first = index.at("/manifests/0");
        assertEquals(app.manifestDigest().toString(), first.get("digest").asText());
        assertEquals("example.com/team/app:1", first.at("/annotations/io.containerd.image.name").asText());
        assertEquals("1", first.at("/annotations/org.opencontainers.image.ref.name").asText());
        JsonNode repositories = Json.MAPPER.readTree(e.get("repositories"));
        assertEquals(app.diffIds().getLast().hex(), repositories.at("/example.com~1team~1app/1").asText());
        assertArrayEquals(tar, save("example.com/team/app:1", "tool"), "the same images make the same bytes");

        ImageStore other = ImageStore.open(dir.resolve("other"), UnpackPolicy.defaults());
        List<ArchiveLoader.Loaded> loaded = other.load(new ByteArrayInputStream(tar), "the test's archive");
        assertEquals(Set.of("Loaded image: example.com/team/app:1", "Loaded image: tool:latest", "Loaded image: tool:2"),
                Set.copyOf(loaded.stream().map(ArchiveLoader.Loaded::message).toList()));
        assertEquals(app.id(), other.resolve("example.com/team/app:1").id());
        assertEquals(app.manifestDigest(), other.resolve("example.com/team/app:1").manifestDigest(), "the same manifest");
        assertEquals(tool.id(), other.resolve("tool:2").id());
    }

    @Test
    void anIdSavesTheImageWithoutNamesAndAnUnknownNameFailsBeforeAnyByte() throws Exception {
        Map<String, byte[]> e = entries(save(tool.id().shortHex()));
        assertEquals("[{\"Config\":\"blobs/sha256/" + tool.id().hex() + "\",\"RepoTags\":null,\"Layers\":[\"blobs/sha256/"
                + tool.layers().getFirst().digest().hex() + "\"]}]\n", text(e.get("manifest.json")));
        assertFalse(e.containsKey("repositories"), "no names, no repositories file (as docker)");
        assertFalse(Json.MAPPER.readTree(e.get("index.json")).at("/manifests/0").has("annotations"));
        ImageStore other = ImageStore.open(dir.resolve("other"), UnpackPolicy.defaults());
        assertEquals(List.of("Loaded image ID: " + tool.id()), other.load(new ByteArrayInputStream(save(tool.id().toString())),
                "x").stream().map(ArchiveLoader.Loaded::message).toList());

        NoSuchImageException missing = assertThrows(NoSuchImageException.class, () -> store.save(List.of("tool", "nosuch:1")));
        assertEquals("No such image: nosuch:1", missing.getMessage());
        assertThrows(InvalidReferenceException.class, () -> store.save(List.of("Bad Name")));
    }

    @Test
    void anArchiveReadFromAStreamThatIsNoArchiveLeavesNothing() throws Exception {
        ImageStore other = ImageStore.open(dir.resolve("other"), UnpackPolicy.defaults());
        InvalidImageException e = assertThrows(InvalidImageException.class,
                () -> other.load(new ByteArrayInputStream("not a tar".getBytes(StandardCharsets.UTF_8)), "the body"));
        assertTrue(e.getMessage().startsWith("invalid archive the body: "), e.getMessage());
        assertEquals(List.of(), other.list());
        assertEquals(Set.of(), other.blobs().list());
    }

    @Test
    void pruneRemovesDanglingImagesOrEveryUnusedOneButNeverOneAContainerUses() throws Exception {
        Image old = dangling("old");
        Image used = dangling("used");
        ImageUsers users = id -> id.equals(used.id()) || id.equals(tool.id())
                ? Optional.of(new ImageUsers.Container("c".repeat(64), false)) : Optional.empty();
        Path oldDisk = store.ensureDisk(old);
        long oldBytes = DiskUsage.of(oldDisk) + DiskUsage.of(store.blobs().path(old.id()))
                + DiskUsage.of(store.blobs().path(old.manifestDigest())) + DiskUsage.of(store.blobs().path(old.layers().getFirst().digest()));

        ImageStore.PruneResult nothing = store.prune(true, img -> img.config().labels().containsKey("other"), users);
        assertEquals(List.of(), nothing.removed());
        assertEquals(0, nothing.reclaimed());

        ImageStore.PruneResult dangling = store.prune(true, img -> true, users);
        assertEquals(List.of(new RemoveResult(List.of(), List.of(old.id()))), dangling.removed());
        assertEquals(oldBytes, dangling.reclaimed(), "its blobs and its disk");
        assertFalse(Files.exists(oldDisk));
        assertTrue(store.find(used.id().toString()).isPresent(), "a container uses it");

        ImageStore.PruneResult all = store.prune(false, img -> true, users);
        assertEquals(List.of(new RemoveResult(List.of("example.com/team/app:1"), List.of(app.id()))), all.removed());
        assertTrue(store.find("tool:latest").isPresent(), "used: not even untagged");
        assertTrue(store.blobs().has(tool.layers().getFirst().digest()), "the layer tool shares stays");
        assertTrue(all.reclaimed() > 0 && all.reclaimed() < oldBytes, "app's config and manifest only: " + all.reclaimed());
    }

    @Test
    void diskUsageCountsSharedBlobsOnceAndTheDisks() throws Exception {
        Path disk = store.ensureDisk(app);
        ImageStore.Usage u = store.diskUsage();
        assertEquals(2, u.images().size());
        ImageStore.ImageUsage a = u.images().stream().filter(i -> i.image().id().equals(app.id())).findFirst().orElseThrow();
        ImageStore.ImageUsage t = u.images().stream().filter(i -> i.image().id().equals(tool.id())).findFirst().orElseThrow();
        long layer = DiskUsage.of(store.blobs().path(app.layers().getFirst().digest()));
        long appOwn = DiskUsage.of(store.blobs().path(app.id())) + DiskUsage.of(store.blobs().path(app.manifestDigest()));
        long toolOwn = DiskUsage.of(store.blobs().path(tool.id())) + DiskUsage.of(store.blobs().path(tool.manifestDigest()));
        long diskBytes = DiskUsage.of(disk);
        assertTrue(diskBytes > 0 && diskBytes < Files.size(disk), "the disk's allocated blocks, not its size");
        assertEquals(appOwn + layer + diskBytes, a.size());
        assertEquals(layer, a.shared());
        assertEquals(toolOwn + layer, t.size(), "no disk built yet");
        assertEquals(layer, t.shared());
        assertEquals(appOwn + toolOwn + layer + diskBytes, u.total(), "the shared layer once");
        assertEquals(List.of("example.com/team/app:1"), a.image().references().stream().map(Reference::familiar).toList());
    }
}
