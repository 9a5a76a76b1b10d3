package dev.vessel.machine.standby;

import dev.vessel.host.Timing;
import dev.vessel.host.VesselJar;
import dev.vessel.sys.ErrnoException;
import dev.vessel.sys.Libc;
import dev.vessel.sys.Terminal;
import dev.vessel.sys.UnixSocket;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A standby VMM: a process started ahead of time that warms itself up the way the start-up cache's
 * training does, then waits on a Unix socket for one `vm run` that {@code vessel-agent
 * --vmm-client} hands over with the client's stdin, stdout and stderr, and runs it in this very
 * process: one VM is still one process, it just started earlier. Having taken a command, it starts
 * its successor (same command line, plus {@code --after-pid} of this process) at once, before its
 * VM is built and the process sandboxes itself (no program can be started after that); the
 * successor waits for this process to end, at the latest {@code successorDelay}, before it warms up,
 * because under software emulation its warm-up would slow this VM's boot.
 *
 * <p>Socket PATH: bound at a temporary name beside it and renamed onto it once listening, with
 * PATH's stem + ".pid" holding this process's pid while it waits (see {@link StandbySlot}). A
 * standby takes one connection from its own user, then gives up PATH; a request it cannot run
 * exactly as a fresh process would (another command, another working directory or VESSEL_*
 * environment) is dropped unanswered and the client runs the command itself. It exits after the
 * idle timeout, when another process took PATH over, when its jar changed, or on SIGTERM, removing
 * its files; a new standby stops (SIGTERM) the standbys it finds through the pid files of other
 * builds' sockets in the same directory (the same build's other slots, "STEM.1.sock", are left alone).
 */
public final class StandbyVmm {
    /** How long a connected client has to deliver its request. */
    static final int REQUEST_TIMEOUT_MS = 5_000;
    /** How often a waiting standby checks that PATH is still its socket. */
    static final int CHECK_INTERVAL_MS = 2_000;
    /** Standbys warm up at this nice value (when they can come back to 0: as root), not to slow running VMs. */
    static final int WARM_UP_NICE = 19;
    /** The client went away while its VM ran: the VMM stops at once, as the agent's SIGKILL would stop a fresh one. */
    static final int CLIENT_GONE = 137;

    private final StandbySlot slot;
    private final Duration idleTimeout;
    private final Duration successorDelay;
    private final CommandRunner commands;
    /** The predecessor whose end this standby waits for before warming up, or 0. */
    private final long afterPid;

    private Object socketKey;
    private volatile boolean committed;
    private volatile boolean statusSent;
    private long readyNanos;
    private boolean successorStarted;
    /** The jar this JVM loads its classes from, and its attributes at start; null when not run from a jar. */
    private Path jar;
    private List<Object> jarStamp;

    /**
     * A standby for socket {@code socket} (a name ending in .sock), gone after {@code idleTimeout}
     * (positive) without a command, starting its successor at the latest {@code successorDelay}
     * (0: at once) after taking one; {@code commands} warms up and runs them.
     *
     * @throws IllegalArgumentException when {@code socket} is no .sock name or too long for a
     *     Unix socket (the message follows the option's name, e.g. "--socket")
     */
    public StandbyVmm(Path socket, Duration idleTimeout, Duration successorDelay, long afterPid, CommandRunner commands) {
        this.afterPid = afterPid;
        this.slot = StandbySlot.of(socket);
        this.idleTimeout = Objects.requireNonNull(idleTimeout);
        this.successorDelay = Objects.requireNonNull(successorDelay);
        this.commands = Objects.requireNonNull(commands);
    }

    /**
     * Warms up, waits, and runs the one command it takes: returns that command's exit status, or 0
     * when it took none (idle timeout, replaced, jar changed, or another standby waits already).
     */
    public int serve() throws Exception {
        if (OwnProcess.ignoresStopSignals()) {
            // A JVM keeps them ignored, so forwarded signals would not stop its VM (nor its successors').
            throw new StandbyException("a standby must not start with SIGINT, SIGTERM or SIGHUP ignored (started with `&` "
                    + "by a shell without job control?)");
        }
        Files.createDirectories(slot.socket.getParent(),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        // Whoever started this standby claimed its slot (StandbySlot.claimOf): released once this
        // one is ready (its pid file then says it is there) or gone, so the next one may start.
        // Once only: after this standby is ready, a claim there is its successor's.
        AtomicBoolean released = new AtomicBoolean();
        Runnable release = () -> {
            if (released.compareAndSet(false, true)) {
                StandbySlot.releaseClaim(slot.claim);
            }
        };
        Runtime.getRuntime().addShutdownHook(new Thread(release, "standby-claim-release"));
        try {
            if (slot.liveStandby()) {
                return 0; // one is already waiting there
            }

            awaitPredecessor();
            jar = VesselJar.path().orElse(null);
            jarStamp = stamp(jar);
            WarmUp.run();
            Path temp = slot.publishingName();
            prime(temp);

            if (slot.liveStandby()) {
                return 0; // another one got ready first
            }
            slot.stopOtherStandbys();
            try (UnixSocket listener = publish(temp)) {
                release.run();
                readyNanos = System.nanoTime();
                OwnProcess.backToNormalPriority();
                return waitForCommand(listener);
            }
        } finally {
            release.run();
        }
    }

    /**
     * Beyond the warm-up boot: what taking a command touches before its VM starts, so the first
     * request does not pay for loading classes and linking downcalls the start-up cache does not
     * hold: one request over a loopback connection at {@code scratch} (through the same receive
     * code, with /dev/null for stdio), and the command layer's {@link CommandRunner#prime} (its
     * output discarded).
     */
    private void prime(Path scratch) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        try {
            Files.deleteIfExists(scratch);
            int devNull = Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC, 0);
            try (UnixSocket l = UnixSocket.listen(scratch, 1); UnixSocket c = UnixSocket.connect(scratch)) {
                l.awaitReadable(5_000);
                try (UnixSocket s = l.accept()) {
                    if (s != null) {
                        s.peerCredentials();
                        c.send(new StandbyRequest(List.of("vm", "run"), Map.of("VESSEL_PRIME", "1"), "/").encode(),
                                new int[] {devNull, devNull, devNull});
                        Handover h = Handover.receive(s, 5_000);
                        refusal(h.request(), System.getenv(), System.getProperty("user.dir"));
                        Libc.dup2(h.fds()[0], h.fds()[0]);
                        UnixSocket.closeAll(h.fds());
                        s.send(StandbyRequest.ACCEPTED, new int[0]);
                        s.send(StandbyRequest.encodeStatus(0), new int[0]);
                        c.receive(new byte[8], 0, 8, 0);
                    }
                }
            } finally {
                UnixSocket.closeAll(devNull);
                Files.deleteIfExists(scratch);
            }
            PrintStream discard = new PrintStream(OutputStream.nullOutputStream());
            System.setOut(discard);
            System.setErr(discard);
            commands.prime();
            Terminal.isTerminal(0);
            Terminal.windowSize(1);
        } catch (IOException | StandbyRequest.BadRequest | RuntimeException e) {
            // Only a warm-up: whatever fails here fails again, properly reported, in the real run.
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
    }

    /** Binds at {@code temp}, then renames onto PATH (so PATH is never a socket nobody listens on) and writes the pid file. */
    private UnixSocket publish(Path temp) throws IOException {
        Files.deleteIfExists(temp);
        UnixSocket listener = UnixSocket.listen(temp, 8);
        try {
            Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rw-------"));
            socketKey = fileKey(temp);
            Files.move(temp, slot.socket, StandardCopyOption.ATOMIC_MOVE); // rename(2): replaces a stale socket
            Path pidFile = slot.pidFile;
            Path tmpPid = pidFile.resolveSibling("." + pidFile.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
            Files.writeString(tmpPid, ProcessHandle.current().pid() + "\n");
            Files.move(tmpPid, pidFile, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException | RuntimeException e) {
            listener.close();
            Files.deleteIfExists(temp);
            throw e;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (!committed) {
                giveUpPath();
            }
        }, "standby-cleanup"));
        return listener;
    }

    private int waitForCommand(UnixSocket listener) throws Exception {
        long deadline = readyNanos + idleTimeout.toNanos();
        while (true) {
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (left <= 0) {
                giveUpPath();
                return 0;
            }
            if (listener.awaitReadable((int) Math.min(left, CHECK_INTERVAL_MS))) {
                UnixSocket conn = listener.accept();
                if (conn != null && jarChanged()) {
                    conn.close(); // its client runs the command itself, with the new jar
                    giveUpPath();
                    return 0;
                }
                if (conn != null) {
                    Integer status = take(listener, conn);
                    if (status != null) {
                        return status;
                    }
                }
            }
            if (!ours(slot.socket)) {
                removePidFileIfOurs(); // another standby took PATH over: it serves, this one leaves
                return 0;
            }
            if (jarChanged()) {
                giveUpPath(); // classes not loaded yet would come from the new jar, or not at all
                return 0;
            }
        }
    }

    /** Handles one connection: the command's exit status, or null when it was dropped and the standby waits on. */
    private Integer take(UnixSocket listener, UnixSocket conn) throws Exception {
        Handover h;
        try {
            UnixSocket.PeerCredentials peer = conn.peerCredentials();
            if (peer.uid() != Libc.geteuid()) {
                throw new StandbyRequest.BadRequest("connection from uid " + peer.uid());
            }
            h = Handover.receive(conn, REQUEST_TIMEOUT_MS);
            String why = refusal(h.request(), System.getenv(), System.getProperty("user.dir"));
            if (why != null) {
                UnixSocket.closeAll(h.fds());
                throw new StandbyRequest.BadRequest(why);
            }
        } catch (StandbyRequest.BadRequest | IOException e) {
            System.err.println("vessel: standby: dropped a request: " + e.getMessage());
            conn.close();
            return null;
        }
        return run(listener, conn, h);
    }

    /**
     * Why this process cannot run {@code req} exactly as a fresh VMM started for it would (null
     * when it can): only `vm run`, in the same working directory, with the same VESSEL_*
     * environment — VESSEL_TIMING aside, which a standby reports on its own.
     */
    static String refusal(StandbyRequest req, Map<String, String> ownEnv, String ownCwd) {
        List<String> a = req.args();
        if (a.size() < 2 || !a.get(0).equals("vm") || !a.get(1).equals("run")) {
            return "a standby runs `vm run` only";
        }
        if (!req.cwd().equals(ownCwd)) {
            return "working directory " + req.cwd() + " is not " + ownCwd;
        }
        Map<String, String> theirs = new TreeMap<>(req.env());
        Map<String, String> mine = new TreeMap<>();
        ownEnv.forEach((k, v) -> {
            if (k.startsWith("VESSEL_")) {
                mine.put(k, v);
            }
        });
        theirs.remove("VESSEL_TIMING");
        mine.remove("VESSEL_TIMING");
        if (!theirs.equals(mine)) {
            return "its VESSEL_* environment differs from this standby's";
        }
        return null;
    }

    /** Waits until the predecessor that started this standby has ended, at the latest {@code successorDelay}. */
    private void awaitPredecessor() throws InterruptedException {
        if (afterPid <= 0) {
            return;
        }
        Optional<ProcessHandle> p = ProcessHandle.of(afterPid);
        if (p.isPresent()) {
            try {
                p.get().onExit().get(successorDelay.toMillis(), TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                // its VM still runs: warm up anyway, at low priority
            }
        }
    }

    /**
     * Takes the command: gives up PATH, answers, and runs it with the client's stdio. Its successor
     * starts now, while this process may still start programs; it waits for this one to end (or
     * {@code successorDelay}) before its warm-up competes with this VM's boot for the machine's CPUs.
     */
    private int run(UnixSocket listener, UnixSocket conn, Handover h) throws Exception {
        committed = true;
        OwnProcess.resetPeakRss();
        giveUpPath();
        listener.close(); // connections queued behind this one are refused: their clients run their commands themselves
        startSuccessorOnce();
        try {
            conn.send(StandbyRequest.ACCEPTED, new int[0]);
        } catch (ErrnoException e) {
            UnixSocket.closeAll(h.fds()); // the client is gone before the command started: run nothing
            return CLIENT_GONE;
        }
        watchClient(conn);
        System.out.flush();
        System.err.flush();
        for (int i = 0; i < StandbyRequest.FDS; i++) {
            Libc.dup2(h.fds()[i], i);
        }
        UnixSocket.closeAll(h.fds());
        long pid = ProcessHandle.current().pid();
        boolean timing = h.request().env().containsKey("VESSEL_TIMING");
        if (timing) {
            long jvmStart = ProcessHandle.current().info().startInstant().map(Instant::toEpochMilli).orElse(0L);
            System.err.printf("timing: standby pid %d took this command: its JVM started %d ms before, ready for %d ms"
                    + " (no JVM start-up in this run)%n", pid, System.currentTimeMillis() - jvmStart,
                    (System.nanoTime() - readyNanos) / 1_000_000);
            Timing.enableForStandbyCommand(pid);
        }
        int status = commands.run(h.request().args()) & 0xFF;
        if (timing) {
            System.err.println("timing: standby pid " + pid + " peak RSS " + OwnProcess.peakRssKb() + " kB");
        }
        System.out.flush();
        System.err.flush();
        statusSent = true;
        try {
            conn.send(StandbyRequest.encodeStatus(status), new int[0]);
        } catch (ErrnoException e) {
            // The client is gone; nobody is waiting for the status.
        }
        releaseStdio();
        return status;
    }

    /** Lets go of the client's stdin, stdout and stderr, so its output ends now, not when this process does. */
    private static void releaseStdio() {
        try {
            int devNull = Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC, 0);
            for (int i = 0; i < StandbyRequest.FDS; i++) {
                Libc.dup2(devNull, i);
            }
            Libc.close(devNull);
        } catch (ErrnoException e) {
            // Then they close when this process exits, a moment later.
        }
    }

    /** When the client goes away before the status is sent, nobody can see or stop this VM: end it. */
    private void watchClient(UnixSocket conn) {
        Thread.ofPlatform().daemon(true).name("standby-client").start(() -> {
            byte[] b = new byte[256];
            try {
                while (conn.awaitReadable(-1) && conn.receive(b, 0, b.length, 0).bytes() > 0) {
                    // A client sends nothing after its request; ignore it if it does.
                }
            } catch (IOException e) {
                // Reset, or descriptors sent where none belong: gone either way.
            }
            if (!statusSent) {
                Runtime.getRuntime().halt(CLIENT_GONE);
            }
        });
    }

    /** Starts the successor unless that happened already (or is happening: then waits for it). */
    private synchronized void startSuccessorOnce() {
        if (!successorStarted) {
            successorStarted = true;
            if (StandbySlot.claim(slot.socket) && !startSuccessor()) { // else a command's cold path is starting one already
                StandbySlot.releaseClaim(slot.claim);
            }
        }
    }

    /**
     * Starts the next standby: same command line with {@code --after-pid} of this process, new
     * session, stdio on /dev/null, low priority while it warms up.
     */
    private static boolean startSuccessor() {
        boolean nice = Libc.geteuid() == 0;
        try {
            List<String> cmd = new ArrayList<>(List.of("setsid"));
            cmd.addAll(successorCommandLine(OwnProcess.commandLine(), ProcessHandle.current().pid()));
            ProcessBuilder pb = new ProcessBuilder(cmd)
                    .redirectInput(new File("/dev/null"))
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(ProcessBuilder.Redirect.DISCARD);
            if (nice) {
                Libc.setThreadNice(0, WARM_UP_NICE); // this thread only; the new process inherits it
            }
            pb.start();
            return true;
        } catch (IOException | RuntimeException e) {
            return false; // no successor: the next `vm run` finds no standby, runs cold and starts one
        } finally {
            if (nice) {
                try {
                    Libc.setThreadNice(0, 0);
                } catch (ErrnoException ignored) {
                    // Stays niced; this thread only starts processes.
                }
            }
        }
    }

    /** {@code own} without its {@code --after-pid}, then {@code --after-pid pid}. */
    static List<String> successorCommandLine(List<String> own, long pid) {
        List<String> cmd = new ArrayList<>();
        for (int i = 0; i < own.size(); i++) {
            String a = own.get(i);
            if (a.equals(AFTER_PID)) {
                i++;
            } else if (!a.startsWith(AFTER_PID + "=")) {
                cmd.add(a);
            }
        }
        cmd.add(AFTER_PID);
        cmd.add(Long.toString(pid));
        return cmd;
    }

    /** The option that names a successor's predecessor (`vm standby --after-pid PID`). */
    public static final String AFTER_PID = "--after-pid";

    // ---- PATH, its pid file, and the jar ----

    private static List<Object> stamp(Path file) {
        if (file == null) {
            return null;
        }
        try {
            BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
            return Arrays.asList(a.fileKey(), a.size(), a.lastModifiedTime());
        } catch (IOException e) {
            return List.of();
        }
    }

    /** Was the jar replaced or rewritten since this JVM started? Then this process cannot run a command faithfully. */
    private boolean jarChanged() {
        return jar != null && !Objects.equals(stamp(jar), jarStamp);
    }

    private static Object fileKey(Path p) throws IOException {
        return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
    }

    /** Is PATH still the socket this process bound? */
    private boolean ours(Path p) {
        try {
            return Objects.equals(fileKey(p), socketKey);
        } catch (IOException e) {
            return false;
        }
    }

    private void giveUpPath() {
        if (ours(slot.socket)) {
            try {
                Files.deleteIfExists(slot.socket);
            } catch (IOException ignored) {
                // Someone else removed or replaced it.
            }
        }
        removePidFileIfOurs();
    }

    private void removePidFileIfOurs() {
        if (StandbySlot.readPid(slot.pidFile) == ProcessHandle.current().pid()) {
            try {
                Files.deleteIfExists(slot.pidFile);
            } catch (IOException ignored) {
                // Gone already.
            }
        }
    }
}
