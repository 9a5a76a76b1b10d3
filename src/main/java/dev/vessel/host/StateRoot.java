package dev.vessel.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where Vessel keeps its state: {@code --root}, else $VESSEL_ROOT, else /var/lib/vessel for
 * root and $XDG_DATA_HOME/vessel (~/.local/share/vessel) for other users.
 */
public final class StateRoot {
    private final Path root;

    private StateRoot(Path root) {
        this.root = root;
    }

    public static StateRoot resolve(Path explicit) {
        if (explicit != null) {
            return new StateRoot(explicit.toAbsolutePath());
        }
        String env = System.getenv("VESSEL_ROOT");
        if (env != null && !env.isBlank()) {
            return new StateRoot(Path.of(env).toAbsolutePath());
        }
        if ("root".equals(System.getProperty("user.name"))) {
            return new StateRoot(Path.of("/var/lib/vessel"));
        }
        String xdg = System.getenv("XDG_DATA_HOME");
        Path base = xdg != null && !xdg.isBlank() ? Path.of(xdg) : Path.of(System.getProperty("user.home"), ".local", "share");
        return new StateRoot(base.resolve("vessel"));
    }

    public Path path() {
        return root;
    }

    /** A subdirectory, created on demand. */
    public Path dir(String name) throws IOException {
        Path d = root.resolve(name);
        Files.createDirectories(d);
        return d;
    }
}
