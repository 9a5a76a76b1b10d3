package dev.vessel.registry;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/** Builds OCI image layouts with umoci, one layer per {@link #layer} (whiteouts for what it deletes). */
final class Umoci {
    /** Changes a root filesystem (a layer's worth). */
    interface Change {
        void apply(Path rootfs) throws IOException;
    }

    final Path layout;
    private final Path work;

    Umoci(Path dir) throws IOException, InterruptedException {
        RealRegistry.require(RealRegistry.UMOCI, "umoci", "to build the test images");
        layout = dir.resolve("layout");
        work = dir;
        RealRegistry.run(RealRegistry.UMOCI, "init", "--layout", layout.toString());
    }

    Umoci newImage(String tag) throws IOException, InterruptedException {
        RealRegistry.run(RealRegistry.UMOCI, "new", "--image", layout + ":" + tag);
        return this;
    }

    /** Unpacks {@code tag}, applies {@code change}, repacks it as a new layer. */
    Umoci layer(String tag, Change change) throws IOException, InterruptedException {
        Path bundle = work.resolve("bundle");
        deleteTree(bundle);
        RealRegistry.run(RealRegistry.UMOCI, "unpack", "--image", layout + ":" + tag, bundle.toString());
        change.apply(bundle.resolve("rootfs"));
        RealRegistry.run(RealRegistry.UMOCI, "repack", "--image", layout + ":" + tag, bundle.toString());
        deleteTree(bundle);
        return this;
    }

    Umoci config(String tag, String... options) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(RealRegistry.UMOCI, "config", "--image", layout + ":" + tag));
        cmd.addAll(List.of(options));
        RealRegistry.run(cmd.toArray(String[]::new));
        return this;
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path x : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(x);
            }
        }
    }
}
