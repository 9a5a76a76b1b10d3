package dev.vessel.host;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Set;

/**
 * Where Vessel keeps its state: {@code --root}, else $VESSEL_ROOT, else /var/lib/vessel for
 * root and $XDG_DATA_HOME/vessel (~/.local/share/vessel) for other users.
 *
 * <p>The state root is its owner's alone: containers' configs hold their {@code -e} secrets, their
 * disks whatever their guests wrote. The root is 0700, every folder in it 0700 and every file 0600
 * ({@link PrivateFiles}); no group may enter it (a socket meant for other users, such as a future
 * Engine API socket with docker's group access, belongs outside the root). Opening the root makes
 * it so: it is created 0700, or set back to 0700. Its file {@code format} holds the layout's
 * version; a root without one was made by an older Vessel (format 1, with 0755 folders and 0644
 * files), and every folder and file Vessel made in it is restricted once, on the first open.
 */
public final class StateRoot {
    /** The layout this Vessel writes: 2, everything private. */
    public static final int FORMAT = 2;
    static final String FORMAT_FILE = "format";
    /** What Vessel (any version) makes at the top of a root: the only entries an upgrade touches. */
    static final List<String> OWN_ENTRIES = List.of("containers", "images", "run", "cache", "kernels", "machine");
    /**
     * Not entered by the upgrade: unpacked image trees whose modes become the image disk's (one
     * being built by another process must keep them); its folder was 0700 already.
     */
    private static final Path UNPACKING = Path.of("images", "tmp");

    private static final System.Logger LOG = System.getLogger(StateRoot.class.getName());

    private final Path root;
    private boolean opened;

    private StateRoot(Path root) {
        this.root = root;
    }

    /** Where the state root is; nothing is created or checked yet. */
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

    /** The root's location (use {@link #open} or {@link #dir} to create anything in it). */
    public Path path() {
        return root;
    }

    /**
     * The root, created if missing, made private (0700), and brought up to {@link #FORMAT} when an
     * older Vessel made it. Cheap after the first time: one mode check and one small read.
     */
    public synchronized Path open() throws IOException {
        if (opened) {
            return root;
        }
        if (root.getParent() != null) {
            Files.createDirectories(root.getParent());
        }
        try {
            PrivateFiles.createDirectory(root);
        } catch (FileAlreadyExistsException e) {
            if (!Files.isDirectory(root)) {
                throw new IOException("the state root " + root + " is not a folder");
            }
        }
        makeRootPrivate();
        if (format() < FORMAT) {
            upgrade();
        }
        opened = true;
        return root;
    }

    /** A subdirectory (0700), created on demand. */
    public Path dir(String name) throws IOException {
        return PrivateFiles.createDirectories(open().resolve(name));
    }

    private void makeRootPrivate() throws IOException {
        Set<PosixFilePermission> p = Files.getPosixFilePermissions(root);
        if (p.contains(PosixFilePermission.OTHERS_WRITE)) {
            // /tmp or a shared folder: making it 0700 would lock everyone else out of it.
            throw new IOException("the state root " + root + " is writable by every user ("
                    + PosixFilePermissions.toString(p) + "): choose a folder of your own with --root or VESSEL_ROOT");
        }
        Set<PosixFilePermission> others = Set.of(PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE,
                PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_EXECUTE);
        if (p.stream().anyMatch(others::contains)) {
            try {
                Files.setPosixFilePermissions(root, PosixFilePermissions.fromString("rwx------"));
            } catch (IOException e) {
                throw new IOException("cannot make the state root " + root + " private to its owner (mode 0700): "
                        + e.getMessage(), e);
            }
        }
    }

    /** The root's layout version: 1 without a format file (an older Vessel's, or a new root). */
    private int format() throws IOException {
        try {
            String s = Files.readString(root.resolve(FORMAT_FILE), StandardCharsets.US_ASCII).strip();
            return s.matches("[0-9]{1,9}") ? Integer.parseInt(s) : 1;
        } catch (NoSuchFileException e) {
            return 1;
        }
    }

    /** Format 1 to 2: everything Vessel made in the root becomes its owner's alone. */
    private void upgrade() throws IOException {
        for (String name : OWN_ENTRIES) {
            Path top = root.resolve(name);
            if (!Files.exists(top, LinkOption.NOFOLLOW_LINKS)) {
                continue;
            }
            List<PrivateFiles.Failure> failures = PrivateFiles.restrictTree(top, p -> root.relativize(p).equals(UNPACKING));
            for (PrivateFiles.Failure f : failures) {
                LOG.log(System.Logger.Level.WARNING, "could not make " + f.path() + " private to its owner: " + f.error());
            }
        }
        Path tmp = root.resolve("." + FORMAT_FILE + "." + ProcessHandle.current().pid() + ".tmp");
        PrivateFiles.writeString(tmp, FORMAT + "\n");
        try {
            Files.move(tmp, root.resolve(FORMAT_FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
    }
}
