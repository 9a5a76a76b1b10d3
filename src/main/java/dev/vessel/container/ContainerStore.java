package dev.vessel.container;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.vessel.host.PrivateFiles;
import dev.vessel.host.StateRoot;
import dev.vessel.host.StoreLock;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.function.UnaryOperator;

/**
 * Containers under {@code ROOT/containers/ID/}: {@code config.json} (written once),
 * {@code state.json} (replaced atomically: temp file + rename, so a crash leaves the old or the
 * new one, never half of one), the writable disk {@code rw.img}, the logs and the sockets.
 * Creating, renaming and removing take a store-wide lock, so names stay unique between concurrent CLIs.
 */
public final class ContainerStore {
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final Path dir;

    private ContainerStore(Path dir) {
        this.dir = dir;
    }

    public static ContainerStore open(StateRoot root) throws IOException {
        return new ContainerStore(root.dir("containers"));
    }

    public static ContainerStore open(Path dir) throws IOException {
        PrivateFiles.createDirectories(dir);
        return new ContainerStore(dir);
    }

    /** A container's files. */
    public record Container(Path dir, ContainerConfig config) {
        public Path stateFile() {
            return dir.resolve("state.json");
        }

        public Path rwDisk() {
            return dir.resolve("rw.img");
        }

        /**
         * The first file of the container's stdout and stderr, one JSON object per chunk
         * ({@link ContainerLog}); rotated files follow it as {@code container.log.POSITION}.
         */
        public Path log() {
            return dir.resolve("container.log");
        }

        /** The VM's own console (kernel and init messages): for diagnosing a container that fails to start. */
        public Path consoleLog() {
            return dir.resolve("console.log");
        }

        /**
         * The hybrid-vsock socket of the VM (the agent listens on port 1024 behind it). Sockets
         * live in {@code ROOT/run/} under the short id: a Unix socket path has at most 107 bytes.
         */
        public Path vsockSocket() {
            return runDir().resolve(config.shortId() + ".vsock");
        }

        /** Files copied into the container while it did not run (docker cp), waiting for its next start. */
        public Path pendingCopies() {
            return dir.resolve("pending-copies");
        }

        /** Where the supervisor takes attach, stop and kill requests. */
        public Path shimSocket() {
            return runDir().resolve(config.shortId() + ".shim");
        }

        private Path runDir() {
            return dir.getParent().resolveSibling("run");
        }

        public ContainerState state() throws IOException {
            try {
                return JSON.readValue(Files.readAllBytes(stateFile()), ContainerState.class);
            } catch (NoSuchFileException e) {
                return ContainerState.created();
            }
        }

        public void writeState(ContainerState s) throws IOException {
            writeAtomically(stateFile(), JSON.writeValueAsBytes(s));
        }
    }

    /** Where a client's files wait on their way into a container (docker cp); private, as the store. */
    public Path spoolDirectory() throws IOException {
        Path d = dir.resolve(".spool");
        PrivateFiles.createDirectories(d);
        return d;
    }

    /** Generates a fresh 64-hex id. */
    public static String newId() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    /**
     * Creates the container's folder with its config and state; the name must be free.
     *
     * @throws ContainerException with status 125 when the name is in use
     */
    public Container create(ContainerConfig config) throws IOException, ContainerException {
        try (StoreLock.Held ignored = lock()) {
            for (Container c : list()) {
                if (c.config().name().equals(config.name())) {
                    throw new ContainerException(ContainerException.Kind.CONFLICT, nameInUse(config.name(), c.config().id()), 125);
                }
            }
            Path tmp = dir.resolve("." + config.id() + ".tmp");
            PrivateFiles.createDirectories(tmp);
            writeAtomically(tmp.resolve("config.json"), JSON.writeValueAsBytes(config));
            writeAtomically(tmp.resolve("state.json"), JSON.writeValueAsBytes(ContainerState.created()));
            Path target = dir.resolve(config.id());
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
            return new Container(target, config);
        }
    }

    /** Docker's message for a name another container holds. */
    static String nameInUse(String name, String holderId) {
        return "Conflict. The container name \"/" + name + "\" is already in use by container \"" + holderId
                + "\". You have to remove (or rename) that container to be able to reuse that name.";
    }

    /**
     * Changes a container's config (its networks, which change while it is stopped): {@code change}
     * is applied to the config as it is on disk under the store's lock, so that changes made
     * meanwhile (a rename, another connect) are kept. Returns the container with the new config.
     *
     * @throws ContainerException NOT_FOUND when the container was removed meanwhile
     */
    public Container updateConfig(Container c, UnaryOperator<ContainerConfig> change) throws IOException, ContainerException {
        try (StoreLock.Held ignored = lock()) {
            ContainerConfig config = change.apply(current(c));
            if (!config.id().equals(c.config().id())) {
                throw new IllegalArgumentException("a container's id never changes");
            }
            writeAtomically(c.dir().resolve("config.json"), JSON.writeValueAsBytes(config));
            return new Container(c.dir(), config);
        }
    }

    /** What must change with a container's name, under the store's lock (its networks' records). */
    @FunctionalInterface
    public interface NameFollower {
        void follow(ContainerConfig renamed) throws IOException;
    }

    /**
     * Gives a container another name, which no other container may hold: the check, the change and
     * {@code follower} are one step under the store's lock, as a create's check and write are. When
     * the follower fails, the old name is put back. Returns the container with its new name.
     *
     * @throws ContainerException CONFLICT when another container has the name (docker's message);
     *     NOT_FOUND when the container was removed meanwhile
     */
    public Container rename(Container c, String name, NameFollower follower) throws IOException, ContainerException {
        try (StoreLock.Held ignored = lock()) {
            for (Container other : list()) {
                if (other.config().name().equals(name) && !other.config().id().equals(c.config().id())) {
                    throw new ContainerException(ContainerException.Kind.CONFLICT, nameInUse(name, other.config().id()), 1);
                }
            }
            ContainerConfig before = current(c);
            Container renamed = updateConfig(c, cfg -> cfg.withName(name));
            try {
                follower.follow(renamed.config());
            } catch (IOException | RuntimeException e) {
                try {
                    writeAtomically(c.dir().resolve("config.json"), JSON.writeValueAsBytes(before));
                } catch (IOException undo) {
                    e.addSuppressed(undo);
                }
                throw e;
            }
            return renamed;
        }
    }

    /** The config on disk now (the caller holds the lock). */
    private ContainerConfig current(Container c) throws IOException, ContainerException {
        try {
            return JSON.readValue(Files.readAllBytes(c.dir().resolve("config.json")), ContainerConfig.class);
        } catch (NoSuchFileException e) {
            throw new ContainerException(ContainerException.Kind.NOT_FOUND, "No such container: " + c.config().id(), 1);
        }
    }

    /** Every container, newest first; folders without a readable config (a crash mid-create) are skipped. */
    public List<Container> list() throws IOException {
        List<Container> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path d : ds) {
                String n = d.getFileName().toString();
                if (!n.matches("[0-9a-f]{64}")) {
                    continue;
                }
                try {
                    out.add(new Container(d, JSON.readValue(Files.readAllBytes(d.resolve("config.json")), ContainerConfig.class)));
                } catch (IOException e) {
                    // removed meanwhile, or never finished: not a container
                }
            }
        }
        out.sort(Comparator.comparing((Container c) -> c.config().created()).reversed());
        return out;
    }

    /** By full id, unique id prefix, or name (docker's lookup order). */
    public Optional<Container> find(String idOrName) throws IOException, ContainerException {
        if (idOrName == null || idOrName.isEmpty()) {
            return Optional.empty();
        }
        String want = idOrName.startsWith("/") ? idOrName.substring(1) : idOrName;
        List<Container> all = list();
        for (Container c : all) {
            if (c.config().id().equals(want) || c.config().name().equals(want)) {
                return Optional.of(c);
            }
        }
        if (!want.matches("[0-9a-f]+")) {
            return Optional.empty();
        }
        List<Container> byPrefix = all.stream().filter(c -> c.config().id().startsWith(want)).toList();
        if (byPrefix.size() > 1) {
            throw ContainerException.invalid("multiple containers found with provided prefix: " + want);
        }
        return byPrefix.stream().findFirst();
    }

    /** Docker's message for a container that is not there. */
    public Container require(String idOrName) throws IOException, ContainerException {
        return find(idOrName).orElseThrow(() -> new ContainerException(ContainerException.Kind.NOT_FOUND,
                "No such container: " + idOrName, 1));
    }

    /** Removes the container's folder (the caller made sure it is not running). */
    public void remove(Container c) throws IOException {
        try (StoreLock.Held ignored = lock()) {
            Path trash = dir.resolve("." + c.config().id() + ".removing");
            try {
                Files.move(c.dir(), trash, StandardCopyOption.ATOMIC_MOVE);
            } catch (NoSuchFileException e) {
                return;
            }
            deleteTree(trash);
        }
    }

    /** Names in use, for generating new ones. */
    public boolean nameInUse(String name) throws IOException {
        for (Container c : list()) {
            if (c.config().name().equals(name)) {
                return true;
            }
        }
        return false;
    }

    /** The store's lock, between this process's threads (the Engine API serves requests at once) and other processes. */
    private StoreLock.Held lock() throws IOException {
        return StoreLock.acquire(dir.resolve(".lock"));
    }

    static void writeAtomically(Path target, byte[] bytes) throws IOException {
        Path tmp = target.resolveSibling("." + target.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
        try (FileChannel ch = PrivateFiles.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(bytes));
            ch.force(true);
        }
        try {
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            Files.deleteIfExists(tmp);
            throw e;
        }
    }

    static void deleteTree(Path p) throws IOException {
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        Files.walkFileTree(p, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path f, BasicFileAttributes a) throws IOException {
                Files.deleteIfExists(f);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                Files.deleteIfExists(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }
}
