package dev.vessel.image;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static net.jqwik.api.Tuple.of;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code vessel load} reads archives from anywhere: an OCI layout or a docker save, whole or
 * corrupted, with hostile entries (names with {@code ..}, absolute names, symbolic link chains and
 * loops, hard links out, device nodes), hostile layers and hostile names. Loading either works or
 * fails with an ImageException (never another exception); a failed load leaves the store as it
 * was and nothing staged; nothing outside the store changes; a well-formed archive loads.
 */
class ArchiveLoaderProperties {
    /** An archive's file: its name, and its bytes or (for a link) its target. */
    record Member(String name, byte[] content, String link, byte type) {
        static Member file(String name, byte[] content) {
            return new Member(name, content, null, TarConstants.LF_NORMAL);
        }

        @Override
        public String toString() {
            return (type == TarConstants.LF_NORMAL ? "file " : "link(" + (char) type + ") ") + name
                    + (link != null ? " -> " + link : " (" + content.length + " bytes)");
        }
    }

    /** A change to a well-formed archive. */
    record Corruption(int which, int how, Member extra) {}

    @Property(tries = 120, edgeCases = EdgeCasesMode.NONE)
    void anArchiveLoadsWhollyOrNotAtAll(@ForAll("images") List<Member> members, @ForAll("corruptions") List<Corruption> corruptions,
                                        @ForAll boolean gzip) throws Exception {
        List<Member> archive = corrupt(members, corruptions);
        Path dir = Files.createTempDirectory("load-props");
        try {
            Path outside = Files.createDirectory(dir.resolve("outside"));
            Files.writeString(outside.resolve("victim"), "victim\n");
            Path file = Files.write(dir.resolve("image.tar"), tar(archive, outside, gzip));
            ImageStore store = ImageStore.open(dir.resolve("store"), UnpackPolicy.defaults());
            Map<String, String> before = outsideTheStore(dir, store.directory());
            List<ImageSummary> images = store.list();
            try {
                List<ArchiveLoader.Loaded> loaded = store.load(file);
                for (ArchiveLoader.Loaded l : loaded) {
                    Image img = store.resolve(l.image().id().toString());
                    assertEquals(l.image().manifestDigest(), img.manifestDigest());
                    for (Descriptor layer : img.layers()) {
                        assertTrue(store.blobs().has(layer.digest()));
                    }
                }
            } catch (ImageException e) {
                assertEquals(images, store.list(), "a failed load changes no image: " + e.getMessage());
            }
            assertEquals(List.of(), leftovers(store), "nothing staged is left");
            assertEquals(before, outsideTheStore(dir, store.directory()));
        } finally {
            AtomicFiles.deleteTree(dir);
        }
    }

    @Property(tries = 30, edgeCases = EdgeCasesMode.NONE)
    void aWellFormedArchiveLoads(@ForAll("wellFormedImages") List<Member> members, @ForAll boolean gzip) throws Exception {
        Path dir = Files.createTempDirectory("load-props");
        try {
            Path file = Files.write(dir.resolve("image.tar"), tar(members, dir, gzip));
            ImageStore store = ImageStore.open(dir.resolve("store"), UnpackPolicy.defaults());
            List<ArchiveLoader.Loaded> loaded = store.load(file);
            assertFalse(loaded.isEmpty());
            for (ArchiveLoader.Loaded l : loaded) {
                if (l.name() != null) {
                    assertEquals(l.image().id(), store.resolve(l.name().toString()).id());
                }
            }
        } finally {
            AtomicFiles.deleteTree(dir);
        }
    }

    private static List<String> leftovers(ImageStore store) throws IOException {
        try (var s = Files.list(store.directory().resolve("tmp"))) {
            return s.map(p -> p.getFileName().toString()).toList();
        }
    }

    private static Map<String, String> outsideTheStore(Path dir, Path store) throws IOException {
        Map<String, String> seen = new TreeMap<>();
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes a) {
                if (d.equals(store)) {
                    return FileVisitResult.SKIP_SUBTREE;
                }
                seen.put(dir.relativize(d).toString(), "dir " + a.lastModifiedTime());
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes a) throws IOException {
                seen.put(dir.relativize(f).toString(), a.isRegularFile()
                        ? Arrays.hashCode(Files.readAllBytes(f)) + " " + a.lastModifiedTime()
                        : Files.readAttributes(f, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).toString());
                return FileVisitResult.CONTINUE;
            }
        });
        return seen;
    }

    // ---------------------------------------------------------------------------------------------
    // Archives

    private static byte[] tar(List<Member> members, Path outside, boolean gzip) {
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        try (TarArchiveOutputStream t = new TarArchiveOutputStream(bo, "UTF-8")) {
            t.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            t.setAddPaxHeadersForNonAsciiNames(true);
            for (Member m : members) {
                String name = m.name().replace(TarEntries.OUTSIDE, outside.toString());
                TarArchiveEntry e = new TarArchiveEntry(name, m.type(), true);
                if (m.link() != null) {
                    e.setLinkName(m.link().replace(TarEntries.OUTSIDE, outside.toString()));
                }
                if (m.type() == TarConstants.LF_CHR) {
                    e.setDevMajor(1);
                    e.setDevMinor(3);
                }
                boolean hasBytes = m.type() == TarConstants.LF_NORMAL && !name.endsWith("/");
                if (hasBytes) {
                    e.setSize(m.content().length);
                }
                t.putArchiveEntry(e);
                if (hasBytes) {
                    t.write(m.content());
                }
                t.closeArchiveEntry();
            }
            t.finish();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return gzip ? Tars.gzip(bo.toByteArray()) : bo.toByteArray();
    }

    private static List<Member> corrupt(List<Member> members, List<Corruption> corruptions) {
        List<Member> out = new ArrayList<>(members);
        for (Corruption c : corruptions) {
            if (out.isEmpty()) {
                out.add(c.extra());
                continue;
            }
            int i = c.which() % out.size();
            Member m = out.get(i);
            switch (c.how()) {
                case 0 -> out.remove(i);
                case 1 -> out.set(i, Member.file(m.name(), "{\"schemaVersion\":2}".getBytes(StandardCharsets.UTF_8)));
                case 2 -> out.set(i, Member.file(m.name(), m.content() == null ? new byte[1]
                        : Arrays.copyOf(m.content(), Math.max(0, m.content().length - 1 - c.which() % 7))));
                case 3 -> out.add(i, c.extra());
                case 4 -> out.add(c.extra());
                default -> out.add(Member.file(m.name(), new byte[] {'x'})); // the same name again
            }
        }
        return out;
    }

    // ---------------------------------------------------------------------------------------------
    // Generators

    /** A name an archive gives an image: good, odd, or longer than a name may be. */
    private static Arbitrary<String> imageNames() {
        return Arbitraries.frequencyOf(of(4, Arbitraries.of("busybox:latest", "docker.io/library/app:1",
                        "localhost:5000/team/app:v2", "app@sha256:" + "0".repeat(64))),
                of(2, Arbitraries.of("", ":", "UPPER/x", "a/../b", "1.0", "tag", "/abs:1", "x".repeat(300))),
                of(1, Arbitraries.integers().between(1, 20_000).map(n -> "a-".repeat(n) + "a")));
    }

    /** Extra members: hostile names, links (in chains, loops, out), folders, device nodes. */
    @Provide
    Arbitrary<Member> extras() {
        Arbitrary<String> names = Arbitraries.of("index.json", "manifest.json", "oci-layout", "blobs/sha256/" + "a".repeat(64),
                "blobs/sha256/nothex", "../escape", "/abs", "a/../../b", "x/layer.tar", "loop1", "loop2", "dir/",
                TarEntries.OUTSIDE + "/victim", "\u00e9t\u00e9");
        Arbitrary<String> targets = Arbitraries.of("loop2", "loop1", "../outside/victim", "/etc/passwd", TarEntries.OUTSIDE + "/victim",
                "index.json", "x/layer.tar", "../../..", "blobs/sha256/" + "a".repeat(64));
        Arbitrary<Byte> type = Arbitraries.of(TarConstants.LF_NORMAL, TarConstants.LF_SYMLINK, TarConstants.LF_LINK,
                TarConstants.LF_DIR, TarConstants.LF_CHR, TarConstants.LF_FIFO);
        Arbitrary<byte[]> content = Arbitraries.of("{}", "[]", "{\"manifests\":[]}", "not json", "")
                .map(s -> s.getBytes(StandardCharsets.UTF_8));
        return Combinators.combine(names, content, targets, type)
                .as((n, c, t, ty) -> new Member(n, c, ty == TarConstants.LF_SYMLINK || ty == TarConstants.LF_LINK ? t : null, ty));
    }

    @Provide
    Arbitrary<List<Corruption>> corruptions() {
        return Combinators.combine(Arbitraries.integers().between(0, 1000), Arbitraries.integers().between(0, 5), extras())
                .as(Corruption::new).list().ofMaxSize(3);
    }

    /** Images whose layers are hostile, with hostile names, in either format. */
    @Provide
    Arbitrary<List<Member>> images() {
        Arbitrary<List<byte[]>> layers = TarEntries.layerEntries().map(e -> TarEntries.tar(e, Path.of("/nonexistent"), 0))
                .list().ofMinSize(1).ofMaxSize(2);
        return Arbitraries.frequencyOf(of(2, image(layers, imageNames())), of(1, wellFormedImages()));
    }

    @Provide
    Arbitrary<List<Member>> wellFormedImages() {
        Arbitrary<byte[]> layer = Arbitraries.of("a", "b", "etc/passwd", "bin/sh").list().uniqueElements().ofMinSize(1).ofMaxSize(3)
                .map(paths -> {
                    Tars t = Tars.tar();
                    for (String p : paths) {
                        t.file(p, p);
                    }
                    return t.bytes();
                });
        return image(layer.list().ofMinSize(1).ofMaxSize(3), Arbitraries.of("busybox:latest", "localhost:5000/app:1"));
    }

    private static Arbitrary<List<Member>> image(Arbitrary<List<byte[]>> layers, Arbitrary<String> names) {
        return Combinators.combine(layers, names.list().ofMaxSize(2), Arbitraries.of(true, false), Arbitraries.of(true, false))
                .as((tars, refs, oci, sharedLink) -> oci ? oci(tars, refs) : dockerSave(tars, refs, sharedLink));
    }

    private static byte[] config(List<byte[]> tars) {
        List<String> diffIds = tars.stream().map(t -> Digest.of(t).toString()).toList();
        return Json.write(Map.of("architecture", "amd64", "os", "linux", "config", Map.of("Cmd", List.of("/bin/sh")),
                "rootfs", Map.of("type", "layers", "diff_ids", diffIds)));
    }

    private static List<Member> oci(List<byte[]> tars, List<String> refs) {
        List<Member> out = new ArrayList<>();
        out.add(Member.file("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8)));
        byte[] config = config(tars);
        List<Map<String, Object>> layers = new ArrayList<>();
        for (byte[] t : tars) {
            layers.add(Map.of("mediaType", MediaTypes.OCI_LAYER, "digest", Digest.of(t).toString(), "size", t.length));
            out.add(Member.file("blobs/sha256/" + Digest.of(t).hex(), t));
        }
        byte[] manifest = Json.write(Map.of("schemaVersion", 2, "mediaType", MediaTypes.OCI_MANIFEST,
                "config", Map.of("mediaType", MediaTypes.OCI_CONFIG, "digest", Digest.of(config).toString(), "size", config.length),
                "layers", layers));
        out.add(Member.file("blobs/sha256/" + Digest.of(config).hex(), config));
        out.add(Member.file("blobs/sha256/" + Digest.of(manifest).hex(), manifest));
        List<Map<String, Object>> entries = new ArrayList<>();
        for (String ref : refs.isEmpty() ? List.of("") : refs) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("mediaType", MediaTypes.OCI_MANIFEST);
            e.put("digest", Digest.of(manifest).toString());
            e.put("size", manifest.length);
            if (!ref.isEmpty()) {
                e.put("annotations", Map.of(Descriptor.CONTAINERD_IMAGE_NAME, ref, Descriptor.REF_NAME, ref));
            }
            entries.add(e);
        }
        out.add(Member.file("index.json", Json.write(Map.of("schemaVersion", 2, "manifests", entries))));
        return out;
    }

    private static List<Member> dockerSave(List<byte[]> tars, List<String> refs, boolean sharedLink) {
        List<Member> out = new ArrayList<>();
        byte[] config = config(tars);
        String configName = Digest.of(config).hex() + ".json";
        out.add(Member.file(configName, config));
        List<String> layerNames = new ArrayList<>();
        for (int i = 0; i < tars.size(); i++) {
            String name = "l" + i + "/layer.tar";
            layerNames.add(name);
            if (sharedLink && i > 0 && Arrays.equals(tars.get(i), tars.get(0))) {
                out.add(new Member(name, null, "../l0/layer.tar", TarConstants.LF_SYMLINK)); // docker save links shared layers
            } else {
                out.add(Member.file(name, tars.get(i)));
            }
        }
        Map<String, Object> entry = new LinkedHashMap<>();
        entry.put("Config", configName);
        entry.put("RepoTags", refs);
        entry.put("Layers", layerNames);
        out.add(Member.file("manifest.json", Json.write(List.of(entry))));
        return out;
    }
}
