package dev.vessel.cli;

import dev.vessel.host.Timing;
import dev.vessel.sys.ErrnoException;
import dev.vessel.sys.Libc;
import dev.vessel.sys.Terminal;
import dev.vessel.sys.UnixSocket;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * `vessel vm standby` (hidden): a VMM process started ahead of time. It warms itself up the way
 * `vm warm-up` does, then waits on a Unix socket for one `vm run` that {@code vessel-agent
 * --vmm-client} hands over with the client's stdin, stdout and stderr, and runs it in this very
 * process: one VM is still one process, it just started earlier. Having taken a command, it starts
 * its successor (same command line) so that one waits for the next: when its VM ends, at the
 * latest --successor-delay after taking it, not at once, because under software emulation the
 * successor's warm-up would slow this VM's boot.
 *
 * <p>Socket PATH: bound at a temporary name beside it and renamed onto it once listening, with
 * PATH's stem + ".pid" holding this process's pid while it waits. A standby takes one connection
 * from its own user, then gives up PATH; a request it cannot run exactly as a fresh process would
 * (another command, another working directory or VESSEL_* environment) is dropped unanswered and
 * the client runs the command itself. It exits after the idle timeout, when another process took
 * PATH over, or on SIGTERM, removing its files; a new standby stops (SIGTERM) the standbys it
 * finds through the pid files of other sockets in the same directory (other builds of Vessel; the
 * same build's second slot, "STEM.1.sock", is left alone: the machine keeps two standbys per build,
 * so that back-to-back commands both find one ready).
 */
@Command(name = "standby", hidden = true, mixinStandardHelpOptions = true,
        description = {"Warm up, then wait on a Unix socket for one `vm run` handed over by vessel-agent --vmm-client "
                + "and run it in this process (the helper machine's fast path)."})
final class VmStandbyCommand implements Callable<Integer> {
    /** How long a connected client has to deliver its request. */
    static final int REQUEST_TIMEOUT_MS = 5_000;
    /** How often a waiting standby checks that PATH is still its socket. */
    static final int CHECK_INTERVAL_MS = 2_000;
    /** Standbys warm up at this nice value (when they can come back to 0: as root), not to slow running VMs. */
    static final int WARM_UP_NICE = 19;
    /** The client went away while its VM ran: the VMM stops at once, as the agent's SIGKILL would stop a fresh one. */
    static final int CLIENT_GONE = 137;
    /** Descriptors per receive: enough to notice (and close) more than the three a request carries. */
    static final int MAX_RECEIVED_FDS = 8;

    private static final Pattern DURATION = Pattern.compile("(\\d{1,9})(ms|s|m|h|d)?");

    @Option(names = "--socket", required = true, paramLabel = "PATH",
            description = "Unix socket to wait on (a name ending in .sock; its stem + .pid holds the pid).")
    Path socket;

    @Option(names = "--idle-timeout", paramLabel = "DURATION", defaultValue = "30m",
            description = "Exit after waiting this long, e.g. 90s, 30m, 2h (default: ${DEFAULT-VALUE}).")
    String idleTimeout;

    @Option(names = "--successor-delay", paramLabel = "DURATION", defaultValue = "15s",
            description = "Start the next standby when the VM ends, at the latest this long after taking it; "
                    + "0: at once (default: ${DEFAULT-VALUE}).")
    String successorDelay;

    private Path sock;
    private Path pidFile;
    private Object socketKey;
    private volatile boolean committed;
    private volatile boolean statusSent;
    private long readyNanos;
    private boolean successorStarted;
    /** The jar this JVM loads its classes from, and its attributes at start; null when not run from a jar. */
    private Path jar;
    private List<Object> jarStamp;

    @Override
    public Integer call() throws Exception {
        Duration idle = parseDuration("--idle-timeout", idleTimeout, false);
        Duration delay = parseDuration("--successor-delay", successorDelay, true);
        sock = socket.toAbsolutePath().normalize();
        String name = sock.getFileName().toString();
        if (!name.endsWith(".sock") || name.length() == ".sock".length()) {
            throw new UserError("--socket must name a .sock file: " + socket);
        }
        Path dir = sock.getParent();
        pidFile = dir.resolve(name.substring(0, name.length() - ".sock".length()) + ".pid");
        Path temp = dir.resolve("." + name + "." + ProcessHandle.current().pid() + ".tmp");
        if (temp.toString().getBytes(StandardCharsets.UTF_8).length > UnixSocket.MAX_PATH_BYTES) {
            throw new UserError("--socket " + socket + ": the path is too long for a Unix socket");
        }
        if (ignoresStopSignals()) {
            // A JVM keeps them ignored, so forwarded signals would not stop its VM (nor its successors').
            throw new UserError("a standby must not start with SIGINT, SIGTERM or SIGHUP ignored (started with `&` "
                    + "by a shell without job control?)", 1);
        }
        Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        // Whoever started this standby claimed its slot (claimOf): released once this one is
        // ready (its pid file then says it is there) or gone, so the next one may start.
        Path claim = claimOf(sock);
        // Once only: after this standby is ready, a claim there is its successor's.
        java.util.concurrent.atomic.AtomicBoolean released = new java.util.concurrent.atomic.AtomicBoolean();
        Runnable release = () -> {
            if (released.compareAndSet(false, true)) {
                releaseClaim(claim);
            }
        };
        Thread releaseAtExit = new Thread(release, "standby-claim-release");
        Runtime.getRuntime().addShutdownHook(releaseAtExit);
        try {
            if (liveStandby(pidFile, sock)) {
                return 0; // one is already waiting there
            }

            jar = ownJar();
            jarStamp = stamp(jar);
            new VmWarmUpCommand().call();
            prime(temp);

            if (liveStandby(pidFile, sock)) {
                return 0; // another one got ready first
            }
            stopOtherStandbys(dir);
            try (UnixSocket listener = publish(temp)) {
                release.run();
                readyNanos = System.nanoTime();
                backToNormalPriority();
                return serve(listener, idle, delay);
            }
        } finally {
            release.run();
        }
    }

    /**
     * The claim on a standby slot while its standby starts and warms up (no pid file yet): a
     * directory beside the socket, made with mkdir (atomic: one starter wins) by whoever starts a
     * standby — the machine command's cold path, or a standby starting its successor. Without it,
     * every command that found the slot empty during a warm-up (~30-60 s under emulation) started
     * one more: a burst of commands piled up dozens of warming JVMs and the machine crawled.
     * A claim older than {@link #CLAIM_STALE_MINUTES} is stale (its starter died).
     */
    static Path claimOf(Path sock) {
        String name = sock.getFileName().toString();
        return sock.resolveSibling(name.substring(0, name.length() - ".sock".length()) + ".starting");
    }

    static final int CLAIM_STALE_MINUTES = 5;

    /** Claims the slot of {@code sock}: false when another start holds a claim that is not stale. */
    static boolean claim(Path sock) {
        Path c = claimOf(sock);
        try {
            Files.createDirectory(c);
            return true;
        } catch (java.nio.file.FileAlreadyExistsException e) {
            try {
                if (Files.getLastModifiedTime(c).toInstant()
                        .isBefore(java.time.Instant.now().minus(Duration.ofMinutes(CLAIM_STALE_MINUTES)))) {
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

    private static void releaseClaim(Path claim) {
        try {
            Files.deleteIfExists(claim);
        } catch (IOException e) {
            // it goes stale and is ignored after CLAIM_STALE_MINUTES
        }
    }

    /** 90s, 30m, 2h, 1d, 500ms, a bare number of seconds, or ISO-8601 (PT5M). */
    static Duration parseDuration(String option, String s, boolean zeroAllowed) throws UserError {
        Matcher m = DURATION.matcher(s.strip());
        Duration d;
        if (m.matches()) {
            long n = Long.parseLong(m.group(1));
            String unit = m.group(2) == null ? "s" : m.group(2);
            d = switch (unit) {
                case "ms" -> Duration.ofMillis(n);
                case "m" -> Duration.ofMinutes(n);
                case "h" -> Duration.ofHours(n);
                case "d" -> Duration.ofDays(n);
                default -> Duration.ofSeconds(n);
            };
        } else {
            try {
                d = Duration.parse(s.strip());
            } catch (DateTimeParseException e) {
                throw new UserError(option + ": not a duration: '" + s + "' (e.g. 90s, 30m, 2h)");
            }
        }
        if (d.isNegative() || (d.isZero() && !zeroAllowed)) {
            throw new UserError(option + " must be " + (zeroAllowed ? "0 or more" : "positive"));
        }
        return d;
    }

    /**
     * Beyond the warm-up boot: what taking a command touches before its VM starts, so the first
     * request does not pay for loading classes and linking downcalls the start-up cache does not
     * hold: one request over a loopback connection at {@code scratch} (through the same receive
     * code, with /dev/null for stdio), and `vm run` through {@link Main#run} up to its argument
     * checks (it stops at --cpus 0; its output is discarded).
     */
    private static void prime(Path scratch) {
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
                        Received r = receive(s, 5_000);
                        refusal(r.request(), System.getenv(), System.getProperty("user.dir"));
                        Libc.dup2(r.fds()[0], r.fds()[0]);
                        UnixSocket.closeAll(r.fds());
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
            Main.run("vm", "run", "--accel", "kvm", "--cpus", "0", "--memory", "256M");
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
            Files.move(temp, sock, StandardCopyOption.ATOMIC_MOVE); // rename(2): replaces a stale socket
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

    private int serve(UnixSocket listener, Duration idle, Duration successorDelay) throws Exception {
        long deadline = readyNanos + idle.toNanos();
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
                    Integer status = take(listener, conn, successorDelay);
                    if (status != null) {
                        return status;
                    }
                }
            }
            if (!ours(sock)) {
                removePidFileIfOurs(); // another standby took PATH over: it serves, this one leaves
                return 0;
            }
            if (jarChanged()) {
                giveUpPath(); // classes not loaded yet would come from the new jar, or not at all
                return 0;
            }
        }
    }

    /** A request and the stdin, stdout and stderr that came with it. */
    record Received(StandbyRequest request, int[] fds) {}

    /** Handles one connection: the command's exit status, or null when it was dropped and the standby waits on. */
    private Integer take(UnixSocket listener, UnixSocket conn, Duration successorDelay) throws Exception {
        Received r;
        try {
            UnixSocket.PeerCredentials peer = conn.peerCredentials();
            if (peer.uid() != Libc.geteuid()) {
                throw new StandbyRequest.BadRequest("connection from uid " + peer.uid());
            }
            r = receive(conn, REQUEST_TIMEOUT_MS);
            String why = refusal(r.request(), System.getenv(), System.getProperty("user.dir"));
            if (why != null) {
                UnixSocket.closeAll(r.fds());
                throw new StandbyRequest.BadRequest(why);
            }
        } catch (StandbyRequest.BadRequest | IOException e) {
            System.err.println("vessel: standby: dropped a request: " + e.getMessage());
            conn.close();
            return null;
        }
        return run(listener, conn, r, successorDelay);
    }

    /** Reads one request within {@code timeoutMillis}; on any failure every descriptor received is closed. */
    static Received receive(UnixSocket conn, int timeoutMillis) throws IOException, StandbyRequest.BadRequest {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        List<int[]> fdBatches = new ArrayList<>();
        boolean ok = false;
        try {
            byte[] header = new byte[StandbyRequest.HEADER_SIZE];
            readFully(conn, header, 0, fdBatches, deadline);
            byte[] payload = new byte[StandbyRequest.payloadLength(header)];
            readFully(conn, payload, header.length, fdBatches, deadline);
            if (fdBatches.size() != 1 || fdBatches.get(0).length != StandbyRequest.FDS) {
                throw new StandbyRequest.BadRequest("a request carries exactly " + StandbyRequest.FDS
                        + " descriptors with its first bytes; got " + fdBatches.stream().mapToInt(b -> b.length).sum());
            }
            int[] fds = fdBatches.get(0);
            for (int fd : fds) {
                if (fd <= 2) {
                    throw new StandbyRequest.BadRequest("received descriptor " + fd + " (standard streams closed?)");
                }
            }
            Received r = new Received(StandbyRequest.decode(payload), fds);
            ok = true;
            return r;
        } finally {
            if (!ok) {
                fdBatches.forEach(UnixSocket::closeAll);
            }
        }
    }

    /** Fills {@code buf}, the part of the request after its first {@code before} bytes. */
    private static void readFully(UnixSocket conn, byte[] buf, int before, List<int[]> fdBatches, long deadline)
            throws IOException, StandbyRequest.BadRequest {
        int off = 0;
        while (off < buf.length) {
            long left = (deadline - System.nanoTime()) / 1_000_000;
            if (left <= 0 || !conn.awaitReadable((int) left)) {
                throw new StandbyRequest.BadRequest("request not complete within the time limit");
            }
            UnixSocket.Received r = conn.receive(buf, off, buf.length - off, MAX_RECEIVED_FDS);
            if (r.fds().length > 0) {
                fdBatches.add(r.fds());
                if (before + off > 0 || fdBatches.size() > 1) {
                    throw new StandbyRequest.BadRequest("descriptors after the request's first bytes");
                }
            }
            if (r.bytes() == 0) {
                throw new StandbyRequest.BadRequest("connection closed in the middle of a request");
            }
            off += r.bytes();
        }
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

    /**
     * Takes the command: gives up PATH, answers, and runs it with the client's stdio. Its successor
     * starts when the VM ends (whatever way: status, signal, client gone), at the latest
     * {@code successorDelay} after taking it: its warm-up then does not compete with this VM's boot
     * for the machine's CPUs.
     */
    private int run(UnixSocket listener, UnixSocket conn, Received r, Duration successorDelay) throws Exception {
        committed = true;
        resetPeakRss();
        giveUpPath();
        listener.close(); // connections queued behind this one are refused: their clients run their commands themselves
        CountDownLatch vmEnded = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(this::startSuccessorOnce, "standby-successor-at-exit"));
        Thread.ofPlatform().daemon(true).name("standby-successor").start(() -> {
            try {
                vmEnded.await(successorDelay.toMillis(), TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            startSuccessorOnce();
        });
        try {
            conn.send(StandbyRequest.ACCEPTED, new int[0]);
        } catch (ErrnoException e) {
            UnixSocket.closeAll(r.fds()); // the client is gone before the command started: run nothing
            return CLIENT_GONE;
        }
        watchClient(conn);
        System.out.flush();
        System.err.flush();
        for (int i = 0; i < StandbyRequest.FDS; i++) {
            Libc.dup2(r.fds()[i], i);
        }
        UnixSocket.closeAll(r.fds());
        boolean timing = r.request().env().containsKey("VESSEL_TIMING");
        if (timing) {
            long jvmStart = ProcessHandle.current().info().startInstant().map(java.time.Instant::toEpochMilli).orElse(0L);
            System.err.printf("timing: standby pid %d took this command: its JVM started %d ms before, ready for %d ms"
                            + " (no JVM start-up in this run)%n", ProcessHandle.current().pid(),
                    System.currentTimeMillis() - jvmStart, (System.nanoTime() - readyNanos) / 1_000_000);
        }
        if (timing) {
            Timing.enableForStandbyCommand(ProcessHandle.current().pid());
        }
        int status = Main.run(r.request().args().toArray(String[]::new)) & 0xFF;
        if (timing) {
            System.err.println("timing: standby pid " + ProcessHandle.current().pid() + " peak RSS " + peakRssKb() + " kB");
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
        vmEnded.countDown();
        startSuccessorOnce();
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
                startSuccessorOnce();
                Runtime.getRuntime().halt(CLIENT_GONE);
            }
        });
    }

    /** Starts the successor unless that happened already (or is happening: then waits for it). */
    private synchronized void startSuccessorOnce() {
        if (!successorStarted) {
            successorStarted = true;
            if (claim(sock) && !startSuccessor()) { // else a command's cold path is starting one already
                releaseClaim(claimOf(sock));
            }
        }
    }

    /** Starts the next standby: same command line, new session, stdio on /dev/null, low priority while it warms up. */
    private static boolean startSuccessor() {
        boolean nice = Libc.geteuid() == 0;
        try {
            List<String> cmd = new ArrayList<>(List.of("setsid"));
            cmd.addAll(ownCommandLine());
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

    static List<String> ownCommandLine() throws IOException {
        byte[] raw = Files.readAllBytes(Path.of("/proc/self/cmdline"));
        List<String> args = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < raw.length; i++) {
            if (raw[i] == 0) {
                args.add(new String(raw, start, i - start, StandardCharsets.UTF_8));
                start = i + 1;
            }
        }
        if (args.isEmpty()) {
            throw new IOException("empty /proc/self/cmdline");
        }
        return args;
    }

    /**
     * Resets this process's peak RSS (VmHWM, and so its rusage maximum) to what it holds now: one
     * VM is one process, and the warm-up's short-lived guest is no part of this VM's peak (Linux:
     * 5 written to clear_refs).
     */
    private static void resetPeakRss() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (IOException | SecurityException e) {
            // No /proc or an older kernel: the peak then includes the warm-up.
        }
    }

    /** Every thread back to nice 0 (only root may lower it; standbys are niced only as root). */
    private static void backToNormalPriority() {
        if (Libc.geteuid() != 0) {
            return;
        }
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
            for (Path t : tasks) {
                try {
                    Libc.setThreadNice(Integer.parseInt(t.getFileName().toString()), 0);
                } catch (ErrnoException | NumberFormatException e) {
                    // The thread ended meanwhile.
                }
            }
        } catch (IOException e) {
            // No /proc: stay as we are.
        }
    }

    /** Does this process ignore SIGHUP, SIGINT or SIGTERM (SigIgn in /proc/self/status)? */
    static boolean ignoresStopSignals() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("SigIgn:")) {
                    long ignored = Long.parseUnsignedLong(line.substring("SigIgn:".length()).strip(), 16);
                    long stop = 1L << (1 - 1) | 1L << (2 - 1) | 1L << (15 - 1);
                    return (ignored & stop) != 0;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // Unknown: assume not.
        }
        return false;
    }

    private static long peakRssKb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | NumberFormatException e) {
            // Unknown.
        }
        return -1;
    }

    // ---- the files: PATH, its pid file, and those of other standbys; the jar ----

    private static Path ownJar() {
        try {
            Path p = Path.of(VmStandbyCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            return Files.isRegularFile(p) ? p : null;
        } catch (java.net.URISyntaxException | RuntimeException e) {
            return null;
        }
    }

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
        if (ours(sock)) {
            try {
                Files.deleteIfExists(sock);
            } catch (IOException ignored) {
                // Someone else removed or replaced it.
            }
        }
        removePidFileIfOurs();
    }

    private void removePidFileIfOurs() {
        if (readPid(pidFile) == ProcessHandle.current().pid()) {
            try {
                Files.deleteIfExists(pidFile);
            } catch (IOException ignored) {
                // Gone already.
            }
        }
    }

    private static long readPid(Path pidFile) {
        try {
            return Long.parseLong(Files.readString(pidFile).strip());
        } catch (IOException | NumberFormatException e) {
            return -1;
        }
    }

    /** Does a standby other than this process wait on {@code sockPath} (per its pid file)? */
    private static boolean liveStandby(Path pidFile, Path sockPath) {
        long pid = readPid(pidFile);
        return pid > 0 && pid != ProcessHandle.current().pid() && isStandbyFor(pid, sockPath) && Files.exists(sockPath,
                LinkOption.NOFOLLOW_LINKS);
    }

    /** Is process {@code pid} a live `vm standby` for {@code sockPath}? (Guards against a recycled pid.) */
    static boolean isStandbyFor(long pid, Path sockPath) {
        List<String> args;
        try {
            byte[] raw = Files.readAllBytes(Path.of("/proc", Long.toString(pid), "cmdline"));
            args = Arrays.asList(new String(raw, StandardCharsets.UTF_8).split("\0"));
        } catch (NoSuchFileException e) {
            return false;
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
     * "vmm-SHA.sock" and the second slot's "vmm-SHA.1.sock", see MachineForwarding).
     */
    static String buildOf(String fileName) {
        int dot = fileName.indexOf('.');
        return dot < 0 ? fileName : fileName.substring(0, dot);
    }

    /**
     * SIGTERM to the waiting standbys of other builds' sockets in this directory (this build's other
     * slot stays); stale pid files go.
     */
    private void stopOtherStandbys(Path dir) {
        String ours = buildOf(pidFile.getFileName().toString());
        try (DirectoryStream<Path> files = Files.newDirectoryStream(dir, "*.pid")) {
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
