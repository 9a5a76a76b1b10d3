package dev.vessel.machine.standby;

import dev.vessel.sys.UnixSocket;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;

/**
 * Where one standby waits, and the files that say so: the socket PATH ("vmm-SHA.sock", a build's
 * first slot; "vmm-SHA.1.sock" its second), its pid file (PATH's stem + ".pid", written once the
 * standby is ready) and the slot's claim (stem + ".starting", while a standby starts). The helper
 * machine's command script (dev.vessel.machine.MachineCommandScript) reads and makes the same files.
 */
public final class StandbySlot {
    /** A claim older than this is stale: its starter died. */
    public static final int CLAIM_STALE_MINUTES = 5;

    final Path socket;
    final Path pidFile;
    final Path claim;

    private StandbySlot(Path socket) {
        this.socket = socket;
        this.pidFile = sibling(socket, ".pid");
        this.claim = claimOf(socket);
    }

    /**
     * The slot of socket {@code path}: a name ending in .sock, short enough for a Unix socket while
     * it is published. The messages of its IllegalArgumentException follow the option's name.
     */
    static StandbySlot of(Path path) {
        Path sock = path.toAbsolutePath().normalize();
        String name = sock.getFileName() == null ? "" : sock.getFileName().toString();
        if (!name.endsWith(".sock") || name.length() == ".sock".length()) {
            throw new IllegalArgumentException("must name a .sock file: " + path);
        }
        StandbySlot slot = new StandbySlot(sock);
        if (slot.publishingName().toString().getBytes(StandardCharsets.UTF_8).length > UnixSocket.MAX_PATH_BYTES) {
            throw new IllegalArgumentException(path + ": the path is too long for a Unix socket");
        }
        return slot;
    }

    /** Where this process binds before renaming onto the socket path. */
    Path publishingName() {
        return socket.resolveSibling("." + socket.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
    }

    private static Path sibling(Path sock, String suffix) {
        String name = sock.getFileName().toString();
        return sock.resolveSibling(name.substring(0, name.length() - ".sock".length()) + suffix);
    }

    // ---- the claim ----

    /**
     * The claim on a standby slot while its standby starts and warms up (no pid file yet): a
     * directory beside the socket, made with mkdir (atomic: one starter wins) by whoever starts a
     * standby — the machine command's cold path, or a standby starting its successor. Without it,
     * every command that found the slot empty during a warm-up (~30-60 s under emulation) started
     * one more: a burst of commands piled up dozens of warming JVMs and the machine crawled.
     * A claim older than {@link #CLAIM_STALE_MINUTES} is stale (its starter died).
     */
    static Path claimOf(Path sock) {
        return sibling(sock, ".starting");
    }

    /** Claims the slot of {@code sock}: false when another start holds a claim that is not stale. */
    static boolean claim(Path sock) {
        Path c = claimOf(sock);
        try {
            Files.createDirectory(c);
            return true;
        } catch (FileAlreadyExistsException e) {
            try {
                if (Files.getLastModifiedTime(c).toInstant()
                        .isBefore(Instant.now().minus(Duration.ofMinutes(CLAIM_STALE_MINUTES)))) {
                    Files.deleteIfExists(c);
                    Files.createDirectory(c);
                    return true;
                }
            } catch (IOException ignored) {
                // lost a race with another starter: it holds the claim
            }
            return false;
        } catch (IOException e) {
            return true; // cannot record a claim: start anyway, as before claims existed
        }
    }

    static void releaseClaim(Path claim) {
        try {
            Files.deleteIfExists(claim);
        } catch (IOException e) {
            // it goes stale and is ignored after CLAIM_STALE_MINUTES
        }
    }

    // ---- pid files and the standbys behind them ----

    static long readPid(Path pidFile) {
        try {
            return Long.parseLong(Files.readString(pidFile).strip());
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    /** Does a standby other than this process wait here (per the pid file)? */
    boolean liveStandby() {
        long pid = readPid(pidFile);
        return pid > 0 && pid != ProcessHandle.current().pid() && isStandbyFor(pid, socket)
                && Files.exists(socket, LinkOption.NOFOLLOW_LINKS);
    }

    /** Is process {@code pid} a live `vm standby` for {@code sockPath}? (Guards against a recycled pid.) */
    static boolean isStandbyFor(long pid, Path sockPath) {
        List<String> args;
        try {
            byte[] raw = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline"));
            args = Arrays.asList(new String(raw, StandardCharsets.UTF_8).split("\0"));
        } catch (IOException e) {
            return false;
        }
        int vm = args.indexOf("vm");
        if (vm < 0 || vm + 1 >= args.size() || !args.get(vm + 1).equals("standby")) {
            return false;
        }
        for (int i = vm + 2; i < args.size(); i++) {
            String a = args.get(i);
            String value = a.equals("--socket") && i + 1 < args.size() ? args.get(i + 1)
                    : a.startsWith("--socket=") ? a.substring("--socket=".length()) : null;
            if (value != null) {
                Path p = Path.of(value);
                if (!p.isAbsolute()) {
                    try {
                        p = Path.of("/proc", Long.toString(pid), "cwd").toRealPath().resolve(p);
                    } catch (IOException e) {
                        return false;
                    }
                }
                return p.normalize().equals(sockPath);
            }
        }
        return false;
    }

    /**
     * The build a standby file belongs to: its name up to the first dot ("vmm-SHA" for both
     * "vmm-SHA.sock" and the second slot's "vmm-SHA.1.sock").
     */
    static String buildOf(String fileName) {
        int dot = fileName.indexOf('.');
        return dot < 0 ? fileName : fileName.substring(0, dot);
    }

    /**
     * SIGTERM to the waiting standbys of other builds' sockets in this directory (this build's other
     * slots stay); stale pid files go.
     */
    void stopOtherStandbys() {
        String ours = buildOf(pidFile.getFileName().toString());
        try (DirectoryStream<Path> files = Files.newDirectoryStream(pidFile.getParent(), "*.pid")) {
            for (Path other : files) {
                if (other.equals(pidFile) || other.getFileName().toString().startsWith(".")) {
                    continue;
                }
                String n = other.getFileName().toString();
                long pid = readPid(other);
                if (buildOf(n).equals(ours) && pid > 0 && ProcessHandle.of(pid).isPresent()) {
                    continue; // this build's other slot
                }
                Path otherSock = other.resolveSibling(n.substring(0, n.length() - ".pid".length()) + ".sock");
                if (pid > 0 && pid != ProcessHandle.current().pid() && isStandbyFor(pid, otherSock)) {
                    ProcessHandle.of(pid).ifPresent(ProcessHandle::destroy); // SIGTERM: it removes its own files
                } else {
                    Files.deleteIfExists(other);
                }
            }
        } catch (IOException e) {
            // Best effort: an old standby also leaves after its idle timeout.
        }
    }
}
