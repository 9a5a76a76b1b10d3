package dev.vessel.registry;

import dev.vessel.image.Compression;
import dev.vessel.image.Descriptor;
import dev.vessel.image.Image;
import dev.vessel.image.ImageStore;
import dev.vessel.image.LayerApplier;
import dev.vessel.image.MediaTypes;
import dev.vessel.image.UnpackPolicy;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

/** What the pull tests share: a store, a puller with captured plain output, unpacking and describing trees. */
final class PullFixtures {
    private PullFixtures() {}

    /** A puller on {@code store} writing docker's plain progress to {@code out}, credentials from {@code config}. */
    static Puller puller(ImageStore store, DockerConfig config, ByteArrayOutputStream out) {
        return new Puller(store, config, Set.of(),
                new PullProgress(new PrintStream(out, true, StandardCharsets.UTF_8), PullProgress.Mode.PLAIN));
    }

    static ImageStore store(Path dir) throws IOException {
        return ImageStore.open(dir.resolve("images"), UnpackPolicy.defaults());
    }

    /** Applies the image's layers, lowest first, to {@code root}. */
    static Path unpack(ImageStore store, Image image, Path root) throws Exception {
        Files.createDirectories(root);
        LayerApplier applier = new LayerApplier(root, store.policy());
        for (Descriptor l : image.layers()) {
            Compression c = MediaTypes.layerCompression(l.mediaType());
            try (InputStream in = c.decompress(new BufferedInputStream(store.blobs().open(l.digest())))) {
                applier.apply(in, l.digest().toString());
            }
        }
        return root;
    }

    /** Every entry under {@code root}: "dir", "file CONTENT" or "link -> TARGET". */
    static Map<String, String> tree(Path root) throws IOException {
        Map<String, String> out = new TreeMap<>();
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.toList()) {
                if (p.equals(root)) {
                    continue;
                }
                String rel = root.relativize(p).toString();
                if (Files.isSymbolicLink(p)) {
                    out.put(rel, "link -> " + Files.readSymbolicLink(p));
                } else if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    out.put(rel, "dir");
                } else {
                    out.put(rel, "file " + Files.readString(p));
                }
            }
        }
        return out;
    }

    /** Everything in the store's blobs and index: what a failed pull must not have changed. */
    static Set<String> storeContents(ImageStore store) throws IOException {
        Set<String> out = new java.util.TreeSet<>();
        for (var d : store.blobs().list()) {
            out.add(d.toString());
        }
        for (var s : assumeList(store)) {
            out.add("image " + s);
        }
        return out;
    }

    private static java.util.List<String> assumeList(ImageStore store) throws IOException {
        try {
            return store.list().stream().map(Object::toString).toList();
        } catch (dev.vessel.image.ImageException e) {
            throw new IOException(e);
        }
    }
}
