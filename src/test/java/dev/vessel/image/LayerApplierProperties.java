package dev.vessel.image;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static net.jqwik.api.Tuple.of;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Layers are hostile: whatever entries they hold, applying them either works or fails with a
 * LayerException (never another exception), what must be refused is refused, nothing outside the
 * tree changes, the checker (used when an image is stored) refuses nothing the applier would take,
 * and a well-formed layer comes out exactly as it went in.
 */
class LayerApplierProperties {
    private static final boolean ROOT = "root".equals(System.getProperty("user.name"));

    /** One layer: its entries, and whether a last entry claims far more bytes than follow. */
    record Layer(List<TarEntries.Entry> entries, long hugeSize) {
        byte[] tar(Path outside) {
            return TarEntries.tar(entries, outside, hugeSize);
        }
    }

    /** A sandbox: the tree to apply into, and beside it a folder that must never change. */
    private record Sandbox(Path dir, Path tree, Path outside) implements AutoCloseable {
        static Sandbox create() throws IOException {
            Path dir = Files.createTempDirectory("layer-props");
            Path tree = Files.createDirectory(dir.resolve("root"));
            Path outside = Files.createDirectory(dir.resolve("outside"));
            Files.writeString(outside.resolve("victim"), "victim\n");
            Files.createDirectory(outside.resolve("dir"));
            Files.writeString(outside.resolve("dir/f"), "f\n");
            return new Sandbox(dir, tree, outside);
        }

        /** Everything in the sandbox but the tree: type, mode, owner, size, time, link target, content. */
        Map<String, String> outsideTheTree() throws IOException {
            Map<String, String> seen = new TreeMap<>();
            Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult preVisitDirectory(Path d, BasicFileAttributes a) throws IOException {
                    if (d.equals(tree)) {
                        return FileVisitResult.SKIP_SUBTREE;
                    }
                    seen.put(dir.relativize(d).toString(), describe(d));
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFile(Path f, BasicFileAttributes a) throws IOException {
                    seen.put(dir.relativize(f).toString(), describe(f));
                    return FileVisitResult.CONTINUE;
                }
            });
            return seen;
        }

        private static String describe(Path p) throws IOException {
            PosixFileAttributes a = Files.readAttributes(p, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            String what = a.isSymbolicLink() ? "link " + Files.readSymbolicLink(p)
                    : a.isRegularFile() ? "file " + Arrays.hashCode(Files.readAllBytes(p)) : a.isDirectory() ? "dir" : "other";
            return what + " " + a.permissions() + " " + a.owner() + " " + a.size() + " " + a.lastModifiedTime();
        }

        @Override
        public void close() throws IOException {
            AtomicFiles.deleteTree(dir);
        }
    }

    @Property(tries = 250, edgeCases = EdgeCasesMode.NONE)
    void hostileLayersAreAppliedOrRefusedAndNeverReachOutside(@ForAll("layers") List<Layer> layers,
                                                              @ForAll("policies") UnpackPolicy policy) throws Exception {
        try (Sandbox s = Sandbox.create()) {
            Map<String, String> before = s.outsideTheTree();
            LayerApplier applier = new LayerApplier(s.tree(), policy);
            for (int i = 0; i < layers.size(); i++) {
                Layer layer = layers.get(i);
                boolean refused = false;
                try {
                    applier.apply(new ByteArrayInputStream(layer.tar(s.outside())), "L" + i);
                } catch (LayerException e) {
                    refused = true;
                }
                for (TarEntries.Entry e : layer.entries()) {
                    if (TarEntries.mustBeRefused(e, policy, s.outside())) {
                        assertTrue(refused, "layer " + i + " holds " + e + " and was applied");
                    }
                }
                if (layer.hugeSize() > 0) {
                    assertTrue(refused, "layer " + i + " ends in a truncated entry of " + layer.hugeSize() + " bytes");
                }
                assertEquals(before, s.outsideTheTree(), "outside the tree, after layer " + i);
                if (refused) {
                    break; // the tree is half applied: callers discard it
                }
                for (LayerApplier.DeviceNode d : applier.deviceNodes()) {
                    Path p = s.tree().resolve(d.path());
                    assertTrue(Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) && Files.size(p) == 0,
                            "after layer " + i + ", device node " + d.path() + " is listed but its placeholder is gone");
                }
            }
            assertNoDevices(s.tree()); // kept ones have placeholders: never a node on the host
        }
    }

    @Property(tries = 200, edgeCases = EdgeCasesMode.NONE)
    void theCheckerRefusesNothingTheApplierTakes(@ForAll("layers") List<Layer> layers,
                                                 @ForAll("policies") UnpackPolicy policy) throws Exception {
        try (Sandbox s = Sandbox.create()) {
            int checkerRefused = firstRefused(LayerApplier.checker(policy), layers, s.outside());
            int applierRefused = firstRefused(new LayerApplier(s.tree(), policy), layers, s.outside());
            if (checkerRefused >= 0) {
                assertTrue(applierRefused >= 0 && applierRefused <= checkerRefused,
                        "the checker refused layer " + checkerRefused + ", the applier " + (applierRefused < 0 ? "none" : applierRefused));
            }
        }
    }

    private static int firstRefused(LayerApplier a, List<Layer> layers, Path outside) throws IOException {
        for (int i = 0; i < layers.size(); i++) {
            try {
                a.apply(new ByteArrayInputStream(layers.get(i).tar(outside)), "L" + i);
            } catch (LayerException e) {
                return i;
            }
        }
        return -1;
    }

    /** Fails when a character or block device node is anywhere under {@code tree}. */
    static void assertNoDevices(Path tree) throws IOException {
        try (var all = Files.walk(tree)) {
            for (Path p : all.toList()) {
                int fmt = (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 0170000;
                if (fmt == 020000 || fmt == 060000) {
                    fail("a device node was made: " + p);
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Well-formed layers come out exactly

    /** A node of a well-formed tree: a folder, a file, a symbolic link or a FIFO. */
    record Node(String path, TarEntries.Kind kind, int mode, int size, String target, long uid) {}

    @Property(tries = 200, edgeCases = EdgeCasesMode.NONE)
    void aWellFormedLayerComesOutExactly(@ForAll("trees") List<Node> nodes) throws Exception {
        List<TarEntries.Entry> entries = new ArrayList<>();
        for (Node n : nodes) {
            entries.add(new TarEntries.Entry(n.kind(), n.path(), n.target(), n.mode(), n.size(), n.uid()));
        }
        try (Sandbox s = Sandbox.create()) {
            new LayerApplier(s.tree(), UnpackPolicy.defaults())
                    .apply(new ByteArrayInputStream(TarEntries.tar(entries, s.outside(), 0)), "L");
            Map<String, String> want = new TreeMap<>();
            for (Node n : nodes) {
                String what = switch (n.kind()) {
                    case DIR -> "dir";
                    case FILE -> "file " + Arrays.hashCode(entries.get(nodes.indexOf(n)).content());
                    case SYMLINK -> "link " + n.target();
                    default -> "fifo";
                };
                int mode = n.kind() == TarEntries.Kind.SYMLINK ? 0777 : n.mode();
                want.put(n.path(), what + " " + Integer.toOctalString(mode) + (ROOT ? " " + n.uid() : "") + " " + Tars.MTIME.toMillis());
            }
            Map<String, String> got = new TreeMap<>();
            try (var all = Files.walk(s.tree())) {
                for (Path p : all.toList()) {
                    if (p.equals(s.tree())) {
                        continue;
                    }
                    PosixFileAttributes a = Files.readAttributes(p, PosixFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
                    String what = a.isDirectory() ? "dir" : a.isRegularFile() ? "file " + Arrays.hashCode(Files.readAllBytes(p))
                            : a.isSymbolicLink() ? "link " + Files.readSymbolicLink(p) : "fifo";
                    int mode = ((Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS)) & 07777;
                    got.put(s.tree().relativize(p).toString(), what + " " + Integer.toOctalString(mode)
                            + (ROOT ? " " + Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS) : "")
                            + " " + a.lastModifiedTime().toMillis());
                }
            }
            assertEquals(want, got);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Generators

    @Provide
    Arbitrary<List<Layer>> layers() {
        Arbitrary<Long> huge = Arbitraries.frequency(of(8, 0L), of(1, 1L << 40), of(1, 100_000L));
        return Combinators.combine(TarEntries.layerEntries(), huge)
                .as(Layer::new).list().ofMinSize(1).ofMaxSize(3);
    }

    @Provide
    Arbitrary<UnpackPolicy> policies() {
        return Arbitraries.of(UnpackPolicy.defaults(), UnpackPolicy.defaults().withMaxBytes(4096),
                UnpackPolicy.defaults().withMaxEntries(6), UnpackPolicy.defaults().withDevices(UnpackPolicy.Devices.SKIP),
                UnpackPolicy.defaults().withDevices(UnpackPolicy.Devices.REJECT),
                UnpackPolicy.defaults().withSetuid(UnpackPolicy.Setuid.REJECT),
                UnpackPolicy.defaults().withSetuid(UnpackPolicy.Setuid.STRIP));
    }

    /** Well-formed trees: unique paths, every parent a folder of the tree, in any order. */
    @Provide
    Arbitrary<List<Node>> trees() {
        // A non-ASCII name only where the JVM can name such files (a UTF-8 locale).
        String accented = "UTF-8".equals(System.getProperty("sun.jnu.encoding")) ? "d\u00e9" : "d";
        Arbitrary<String> path = Arbitraries.of("a", "b", "c", accented).list().ofMinSize(1).ofMaxSize(3)
                .map(l -> String.join("/", l));
        Arbitrary<TarEntries.Kind> kind = Arbitraries.of(TarEntries.Kind.FILE, TarEntries.Kind.FILE, TarEntries.Kind.SYMLINK,
                TarEntries.Kind.FIFO, TarEntries.Kind.DIR);
        Arbitrary<Integer> mode = Arbitraries.oneOf(Arbitraries.of(0644, 0755, 0600, 04755, 02750, 01777, 0),
                Arbitraries.integers().between(0, 07777));
        Arbitrary<String> target = Arbitraries.of("a", "../..", "/etc/passwd", "b/c", "x y", "\u00e9");
        Arbitrary<Node> leaf = Combinators.combine(path, kind, mode, Arbitraries.integers().between(0, 3000), target,
                Arbitraries.of(0L, 1000L, 65534L)).as(Node::new);
        return leaf.list().ofMaxSize(10).map(LayerApplierProperties::closeUnderParents)
                .flatMap(Arbitraries::shuffle);
    }

    /** Drops a node that sits under a non-folder, and adds every missing parent as a folder. */
    private static List<Node> closeUnderParents(List<Node> leaves) {
        Map<String, Node> byPath = new TreeMap<>();
        for (Node n : leaves) {
            byPath.putIfAbsent(n.path(), n);
        }
        Map<String, Node> out = new TreeMap<>();
        for (Node n : byPath.values()) {
            String[] parts = n.path().split("/");
            boolean underNonFolder = false;
            for (int i = 1; i < parts.length; i++) {
                Node parent = byPath.get(String.join("/", Arrays.copyOf(parts, i)));
                underNonFolder |= parent != null && parent.kind() != TarEntries.Kind.DIR;
            }
            if (underNonFolder) {
                continue;
            }
            out.put(n.path(), n);
            for (int i = 1; i < parts.length; i++) {
                String p = String.join("/", Arrays.copyOf(parts, i));
                out.putIfAbsent(p, byPath.getOrDefault(p, new Node(p, TarEntries.Kind.DIR, 0755, 0, null, 0)));
            }
        }
        return new ArrayList<>(out.values());
    }
}
