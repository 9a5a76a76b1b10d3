package dev.vessel.container;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vessel.guest.agent.AgentClient;
import dev.vessel.guest.agent.ArchiveRecord;
import dev.vessel.guest.agent.ExecRequest;
import dev.vessel.guest.agent.ExecSession;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayDeque;
import java.util.Base64;
import java.util.Deque;
import java.util.List;

/**
 * {@code docker cp}: a path of a running container as a tar, a tar extracted into one of its
 * directories, and a path's stat. The guest agent's archive builtins walk and write the
 * container's files (in its root, as its root user); tar is read and written here, with Commons
 * Compress, and every name of a client's tar is checked before the guest sees any of it, so a tar
 * that fails the checks changes nothing.
 */
public final class ContainerArchive {
    /** Finds a container by id or name, or fails with docker's 404. */
    @FunctionalInterface
    public interface Lookup {
        ContainerStore.Container require(String ref) throws IOException, ContainerException;
    }

    /** Opens a connection, hello done, to a running container's agent. */
    @FunctionalInterface
    public interface AgentDialer {
        AgentClient connect(ContainerStore.Container c) throws IOException;
    }

    /** What a path is ({@code X-Docker-Container-Path-Stat}): mode in Go's {@code os.FileMode} bits, as docker's client reads it. */
    public record PathStat(String name, long size, long mode, Instant mtime, String linkTarget) {
        static final long DIR = 1L << 31;
        static final long SYMLINK = 1L << 27;
        static final long DEVICE = 1L << 26;
        static final long NAMED_PIPE = 1L << 25;
        static final long SOCKET = 1L << 24;
        static final long SETUID = 1L << 23;
        static final long SETGID = 1L << 22;
        static final long CHAR_DEVICE = 1L << 21;
        static final long STICKY = 1L << 20;

        public boolean isDirectory() {
            return (mode & DIR) != 0;
        }

        /** The header's value: the JSON, base64 (standard alphabet, padded). */
        public String header() {
            ObjectNode n = JSON.createObjectNode();
            n.put("name", name).put("size", size).put("mode", mode).put("mtime", mtime.toString()).put("linkTarget", linkTarget);
            return Base64.getEncoder().encodeToString(n.toString().getBytes(StandardCharsets.UTF_8));
        }

        static PathStat of(ArchiveRecord r, String name) {
            long m = r.mode() & 0777;
            m |= (r.mode() & 04000) != 0 ? SETUID : 0;
            m |= (r.mode() & 02000) != 0 ? SETGID : 0;
            m |= (r.mode() & 01000) != 0 ? STICKY : 0;
            m |= switch (r.type()) {
                case ArchiveRecord.DIRECTORY -> DIR;
                case ArchiveRecord.SYMLINK -> SYMLINK;
                case ArchiveRecord.CHAR_DEVICE -> DEVICE | CHAR_DEVICE;
                case ArchiveRecord.BLOCK_DEVICE -> DEVICE;
                case ArchiveRecord.FIFO -> NAMED_PIPE;
                case ArchiveRecord.SOCKET -> SOCKET;
                default -> 0;
            };
            return new PathStat(name, r.size(), m, Instant.ofEpochSecond(r.mtime()), r.link());
        }
    }

    /** Options of an extraction, as the Engine API's PUT has them. */
    public record PutOptions(boolean noOverwriteDirNonDir, boolean copyUidGid) {}

    private static final ObjectMapper JSON = new ObjectMapper();
    /** The name the agent gives the path's own entry; replaced by docker's name here. */
    static final String TOP = "vessel-archive-top";
    private static final int PIPE_BUFFER = 1 << 20;

    private final Lookup containers;
    private final AgentDialer dialer;
    private final Path spoolDir;

    /**
     * @param spoolDir where a client's tar waits, checked and turned into records, until the guest takes it
     */
    public ContainerArchive(Lookup containers, AgentDialer dialer, Path spoolDir) {
        this.containers = containers;
        this.dialer = dialer;
        this.spoolDir = spoolDir;
    }

    /** The stat of {@code path} in the container (HEAD, and the header of GET). */
    public PathStat stat(String ref, String path) throws IOException, ContainerException {
        ContainerStore.Container c = running(ref);
        checkPath(path);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status = run(c, ExecRequest.of(path, TOP).withBuiltin("archive-stat"), null, out, err);
        failOn(status, err, c, path);
        ArchiveRecord r = ArchiveRecord.read(new java.io.ByteArrayInputStream(out.toByteArray()));
        if (!r.name().equals(TOP)) {
            throw ContainerException.failed("the container's agent answered a stat of " + path + " with " + r.name());
        }
        return PathStat.of(r, dockerName(path));
    }

    /**
     * Writes {@code path} and everything below it as a tar to {@code tar}; the stat is taken
     * first, so that a missing path fails before any byte is written.
     */
    public void get(String ref, String path, OutputStream tar) throws IOException, ContainerException {
        ContainerStore.Container c = running(ref);
        String name = stat(ref, path).name();
        PipedInputStream records = new PipedInputStream(PIPE_BUFFER);
        PipedOutputStream sink = new PipedOutputStream(records);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        AgentClient client = connect(c);
        ExecSession session;
        try {
            session = client.exec(ExecRequest.of(path, TOP).withBuiltin("archive-get"), null, sink, err);
        } catch (IOException | RuntimeException e) {
            client.close();
            throw ContainerException.failed("cannot reach the container's agent: " + e.getMessage());
        }
        // The records end with their end record; a builtin that fails before it ends the pipe.
        Thread closer = Thread.ofVirtual().name("archive-get-end").start(() -> {
            try {
                session.waitFor();
            } catch (IOException | InterruptedException ignored) {
                // the reader below sees the pipe end early and says so
            } finally {
                try {
                    sink.close();
                } catch (IOException ignored) {
                    // already closed
                }
            }
        });
        try (session) {
            session.closeStdin();
            recordsToTar(new BufferedInputStream(records, 65536), name, tar);
            int status = session.waitFor();
            failOn(status, err, c, path);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } finally {
            closer.interrupt();
            records.close();
        }
    }

    /**
     * Extracts the tar {@code tar} into the directory {@code dir} of the container. The whole tar
     * is read and checked first: one bad entry (a name that leads out of {@code dir}, a link to
     * outside the archive, an entry kind a tar should not hold) fails it before anything changes.
     */
    public void put(String ref, String dir, InputStream tar, PutOptions options) throws IOException, ContainerException {
        ContainerStore.Container found = containers.require(ref);
        if (!found.state().isRunning() && !ContainerState.RESTARTING.equals(found.state().status())) {
            keepForNextStart(found, dir, tar, options);
            return;
        }
        ContainerStore.Container c = running(ref);
        PathStat target = stat(ref, dir);
        if (!target.isDirectory()) {
            throw ContainerException.invalid("extraction point is not a directory");
        }
        Files.createDirectories(spoolDir);
        Path spool = Files.createTempFile(spoolDir, "archive-put-", ".records");
        try {
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(spool), 65536)) {
                tarToRecords(tar, out, options.copyUidGid(), c.config().diskBytes());
            }
            ExecRequest request = options.noOverwriteDirNonDir()
                    ? ExecRequest.of(dir, "no-overwrite-dir-non-dir").withBuiltin("archive-put")
                    : ExecRequest.of(dir).withBuiltin("archive-put");
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            int status;
            try (InputStream records = new BufferedInputStream(Files.newInputStream(spool), 65536)) {
                status = run(c, request, records, OutputStream.nullOutputStream(), err);
            }
            failOn(status, err, c, dir);
        } finally {
            Files.deleteIfExists(spool);
        }
    }

    /**
     * A copy into a container that does not run (Testcontainers copies its files between create
     * and start): the tar is checked and kept as records in the container's folder, and its next
     * start extracts it ({@link #applyPending}) before the main process runs. Whether {@code dir}
     * exists is known only then: a missing one fails that start, with docker's words.
     */
    private void keepForNextStart(ContainerStore.Container c, String dir, InputStream tar, PutOptions options)
            throws IOException, ContainerException {
        checkPath(dir);
        Path pending = c.pendingCopies();
        Files.createDirectories(pending);
        String name = String.format("%020d", System.nanoTime());
        Path tmp = pending.resolve("." + name + ".tmp");
        try {
            try (OutputStream out = new BufferedOutputStream(Files.newOutputStream(tmp), 65536)) {
                tarToRecords(tar, out, options.copyUidGid(), c.config().diskBytes());
            }
            ObjectNode meta = JSON.createObjectNode().put("dir", dir).put("noOverwriteDirNonDir", options.noOverwriteDirNonDir());
            Files.writeString(pending.resolve(name + ".json"), meta.toString());
            Files.move(tmp, pending.resolve(name + ".records"), java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /**
     * Extracts, in the order they came, the copies kept while the container did not run, through
     * its agent (the supervisor calls this once the VM is ready, before the main process starts).
     *
     * @return null when all went in (or there were none), else why one did not: the start fails
     */
    public static String applyPending(ContainerStore.Container c, AgentDialer dialer) {
        Path pending = c.pendingCopies();
        if (!Files.isDirectory(pending)) {
            return null;
        }
        try {
            List<Path> copies;
            try (var list = Files.list(pending)) {
                copies = list.filter(p -> p.getFileName().toString().endsWith(".records")).sorted().toList();
            }
            for (Path records : copies) {
                Path metaFile = records.resolveSibling(records.getFileName().toString().replace(".records", ".json"));
                com.fasterxml.jackson.databind.JsonNode meta = JSON.readTree(Files.readString(metaFile));
                String dir = meta.path("dir").asText();
                ExecRequest request = meta.path("noOverwriteDirNonDir").asBoolean()
                        ? ExecRequest.of(dir, "no-overwrite-dir-non-dir").withBuiltin("archive-put")
                        : ExecRequest.of(dir).withBuiltin("archive-put");
                ByteArrayOutputStream err = new ByteArrayOutputStream();
                int status;
                try (AgentClient client = dialer.connect(c);
                     InputStream in = new BufferedInputStream(Files.newInputStream(records), 65536);
                     ExecSession s = client.exec(request, in, OutputStream.nullOutputStream(), err)) {
                    status = s.waitFor();
                }
                Files.delete(records);
                Files.delete(metaFile);
                if (status == 2) {
                    return "Could not find the file " + dir + " in container " + c.config().name()
                            + " (files copied in before it started)";
                }
                if (status != 0) {
                    return "copying files into the container before it started failed: "
                            + err.toString(StandardCharsets.UTF_8).strip();
                }
            }
            return null;
        } catch (IOException e) {
            return "copying files into the container before it started failed: " + e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return "interrupted while copying files into the container";
        }
    }

    private ContainerStore.Container running(String ref) throws IOException, ContainerException {
        ContainerStore.Container c = containers.require(ref);
        if (!c.state().isRunning()) {
            throw ContainerException.conflict("container " + c.config().name()
                    + " is not running: Vessel copies files in and out of running containers only (their files are in their VM)");
        }
        return c;
    }

    private static void checkPath(String path) throws ContainerException {
        if (path == null || path.isEmpty()) {
            throw ContainerException.invalid("path is required");
        }
        if (!path.startsWith("/")) {
            throw ContainerException.invalid("path " + path + " is not absolute");
        }
        if (path.indexOf('\0') >= 0 || path.getBytes(StandardCharsets.UTF_8).length > ArchiveRecord.MAX_NAME) {
            throw ContainerException.invalid("invalid path");
        }
    }

    private AgentClient connect(ContainerStore.Container c) throws ContainerException {
        try {
            return dialer.connect(c);
        } catch (IOException e) {
            throw ContainerException.failed("cannot reach the container's agent: " + e.getMessage());
        }
    }

    private int run(ContainerStore.Container c, ExecRequest request, InputStream stdin, OutputStream out, OutputStream err)
            throws ContainerException, IOException {
        AgentClient client = connect(c);
        try (ExecSession s = client.exec(request, stdin, out, err)) {
            if (stdin == null) {
                s.closeStdin();
            }
            return s.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } finally {
            client.close();
        }
    }

    /** Exit 2 is "no such path" (404, with dockerd's words); any other failure says what the guest said. */
    private static void failOn(int status, ByteArrayOutputStream err, ContainerStore.Container c, String path)
            throws ContainerException {
        if (status == 0) {
            return;
        }
        if (status == 2) {
            throw new ContainerException(ContainerException.Kind.NOT_FOUND,
                    "Could not find the file " + path + " in container " + c.config().name(), 1);
        }
        String said = err.toString(StandardCharsets.UTF_8).strip();
        if (said.startsWith("cannot overwrite")) {
            throw ContainerException.invalid(said);
        }
        throw ContainerException.failed(said.isEmpty() ? "copying " + path + " failed in the container (status " + status + ")"
                : said.lines().limit(5).reduce((a, b) -> a + "; " + b).orElse(said));
    }

    /**
     * The name docker gives a path's own entry: its last component, or "." for a path that ends
     * in "/." (copy a directory's contents), or "/" for the root.
     */
    static String dockerName(String path) {
        if (path.endsWith("/.")) {
            return ".";
        }
        String p = path;
        while (p.length() > 1 && p.endsWith("/")) {
            p = p.substring(0, p.length() - 1);
        }
        if (p.equals("/")) {
            return "/";
        }
        return p.substring(p.lastIndexOf('/') + 1);
    }

    // ---- records -> tar

    /** Turns the agent's records (their top entry named {@link #TOP}) into a tar whose top entry is {@code name}. */
    static void recordsToTar(InputStream records, String name, OutputStream tar) throws IOException {
        TarArchiveOutputStream out = new TarArchiveOutputStream(tar, StandardCharsets.UTF_8.name());
        out.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        out.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        out.setAddPaxHeadersForNonAsciiNames(true);
        String top = name.equals("/") ? "." : name;
        for (ArchiveRecord r = ArchiveRecord.read(records); r.type() != ArchiveRecord.END; r = ArchiveRecord.read(records)) {
            String entryName = rebase(r.name(), top);
            TarArchiveEntry e = switch (r.type()) {
                case ArchiveRecord.DIRECTORY -> new TarArchiveEntry(entryName + "/", TarConstants.LF_DIR, true);
                case ArchiveRecord.SYMLINK -> link(entryName, TarConstants.LF_SYMLINK, r.link());
                case ArchiveRecord.HARD_LINK -> link(entryName, TarConstants.LF_LINK, rebase(r.link(), top));
                case ArchiveRecord.CHAR_DEVICE -> device(entryName, TarConstants.LF_CHR, r);
                case ArchiveRecord.BLOCK_DEVICE -> device(entryName, TarConstants.LF_BLK, r);
                case ArchiveRecord.FIFO -> new TarArchiveEntry(entryName, TarConstants.LF_FIFO, true);
                case ArchiveRecord.FILE -> {
                    TarArchiveEntry f = new TarArchiveEntry(entryName, TarConstants.LF_NORMAL, true);
                    f.setSize(r.size());
                    yield f;
                }
                default -> throw new IOException("the container's agent sent an archive record of type " + (char) r.type());
            };
            e.setMode(tarMode(r));
            e.setUserId(r.uid());
            e.setGroupId(r.gid());
            e.setModTime(r.mtime() * 1000);
            out.putArchiveEntry(e);
            if (r.type() == ArchiveRecord.FILE) {
                long copied = copy(records, out, r.size());
                if (copied != r.size()) {
                    throw new IOException("the archive stream ended inside " + r.name());
                }
            }
            out.closeArchiveEntry();
        }
        out.finish();
        out.flush();
    }

    private static String rebase(String recordName, String top) throws IOException {
        if (recordName.equals(TOP)) {
            return top;
        }
        if (!recordName.startsWith(TOP + "/")) {
            throw new IOException("the container's agent sent an entry outside the path: " + recordName);
        }
        return top + recordName.substring(TOP.length());
    }

    private static TarArchiveEntry link(String name, byte kind, String target) {
        TarArchiveEntry e = new TarArchiveEntry(name, kind, true);
        e.setLinkName(target);
        return e;
    }

    private static TarArchiveEntry device(String name, byte kind, ArchiveRecord r) {
        TarArchiveEntry e = new TarArchiveEntry(name, kind, true);
        e.setDevMajor(r.devMajor());
        e.setDevMinor(r.devMinor());
        return e;
    }

    private static int tarMode(ArchiveRecord r) {
        int kind = switch (r.type()) {
            case ArchiveRecord.DIRECTORY -> 0040000;
            case ArchiveRecord.SYMLINK -> 0120000;
            case ArchiveRecord.CHAR_DEVICE -> 0020000;
            case ArchiveRecord.BLOCK_DEVICE -> 0060000;
            case ArchiveRecord.FIFO -> 0010000;
            default -> 0100000;
        };
        return kind | r.mode();
    }

    private static long copy(InputStream in, OutputStream out, long n) throws IOException {
        byte[] buf = new byte[65536];
        long left = n;
        while (left > 0) {
            int k = in.read(buf, 0, (int) Math.min(buf.length, left));
            if (k < 0) {
                break;
            }
            out.write(buf, 0, k);
            left -= k;
        }
        return n - left;
    }

    // ---- tar -> records

    /**
     * Checks a client's tar and writes it as records: names cleaned as docker does (a leading
     * "/" or "./" dropped, "." components gone), and refused when ".." leads out of the
     * destination, when a hard link points outside the archive, for kinds a copy cannot hold,
     * or when the files add up to more than {@code limit} bytes.
     *
     * @param copyUidGid keep the tar's owners (docker cp -a); else everything is root's
     */
    static void tarToRecords(InputStream tar, OutputStream records, boolean copyUidGid, long limit)
            throws IOException, ContainerException {
        long total = 0;
        TarArchiveInputStream in = new TarArchiveInputStream(tar, StandardCharsets.UTF_8.name());
        TarArchiveEntry e;
        while ((e = nextEntry(in)) != null) {
            String name = clean(e.getName());
            if (name.isEmpty()) {
                continue; // the destination itself
            }
            byte type;
            String link = "";
            if (e.isDirectory()) {
                type = ArchiveRecord.DIRECTORY;
            } else if (e.isSymbolicLink()) {
                type = ArchiveRecord.SYMLINK;
                link = e.getLinkName();
                if (link.isEmpty() || link.indexOf('\0') >= 0) {
                    throw ContainerException.invalid("invalid symlink " + e.getName() + " in the archive");
                }
            } else if (e.isLink()) {
                type = ArchiveRecord.HARD_LINK;
                link = clean(e.getLinkName());
                if (link.isEmpty()) {
                    throw ContainerException.invalid("invalid hardlink " + e.getName() + " -> " + e.getLinkName());
                }
            } else if (e.isCharacterDevice()) {
                type = ArchiveRecord.CHAR_DEVICE;
            } else if (e.isBlockDevice()) {
                type = ArchiveRecord.BLOCK_DEVICE;
            } else if (e.isFIFO()) {
                type = ArchiveRecord.FIFO;
            } else if (e.isFile()) {
                type = ArchiveRecord.FILE;
            } else {
                throw ContainerException.invalid("unhandled tar header type for " + e.getName());
            }
            long size = type == ArchiveRecord.FILE ? e.getSize() : 0;
            total += size;
            if (size < 0 || total > limit) {
                throw ContainerException.invalid("the archive holds more than the container's disk (" + limit + " bytes)");
            }
            ArchiveRecord r;
            try {
                r = new ArchiveRecord(type, e.getMode() & 07777, copyUidGid ? e.getLongUserId() : 0,
                        copyUidGid ? e.getLongGroupId() : 0, e.getModTime().getTime() / 1000,
                        (int) e.getDevMajor(), (int) e.getDevMinor(), size, name, link);
            } catch (IllegalArgumentException bad) {
                throw ContainerException.invalid("invalid entry " + e.getName() + " in the archive: " + bad.getMessage());
            }
            r.write(records);
            if (size > 0 && copy(in, records, size) != size) {
                throw ContainerException.invalid("the archive ended inside " + e.getName());
            }
        }
        ArchiveRecord.end().write(records);
    }

    private static TarArchiveEntry nextEntry(TarArchiveInputStream in) throws ContainerException {
        try {
            return in.getNextEntry();
        } catch (IOException | RuntimeException e) {
            throw ContainerException.invalid("Error processing tar file: " + e.getMessage());
        }
    }

    /** docker's cleaning of an entry name, relative to the destination; "" for the destination itself. */
    static String clean(String name) throws ContainerException {
        if (name.indexOf('\0') >= 0) {
            throw ContainerException.invalid("invalid entry name in the archive");
        }
        Deque<String> parts = new ArrayDeque<>();
        for (String c : name.split("/")) {
            if (c.isEmpty() || c.equals(".")) {
                continue;
            }
            if (c.equals("..")) {
                if (parts.isEmpty()) {
                    throw ContainerException.invalid("invalid tar entry \"" + name + "\": it leads out of the destination");
                }
                parts.removeLast();
            } else {
                parts.addLast(c);
            }
        }
        return String.join("/", List.copyOf(parts));
    }
}
