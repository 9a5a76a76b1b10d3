package dev.vessel.machine;

import dev.vessel.guest.DebianKernel;
import dev.vessel.guest.agent.AgentBinary;
import dev.vessel.host.HostCapabilities;
import dev.vessel.host.HostCommand;
import dev.vessel.host.PrivateFiles;
import dev.vessel.host.StateRoot;

import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * The helper machine: a QEMU software-emulated x86 machine with nested SVM, in which Vessel's
 * VMs run on real KVM where the host CPU has no hardware virtualization (like `podman machine`).
 * Started once and reused; its state lives on its own data disk.
 */
public final class HelperMachine {
    public static final long DEFAULT_MEMORY = 4L << 30;
    public static final long DATA_DISK_SIZE = 32L << 30;
    /** It boots in about 10 s; a boot still silent after this is stuck (seen under heavy host load). */
    static final Duration BOOT_TIMEOUT = Duration.ofSeconds(90);
    static final int BOOT_ATTEMPTS = 2;
    /** How much of a console's end to search for the kernel's last words. */
    static final long CONSOLE_TAIL = 1 << 20;

    private final MachineDirectory dir;
    private final Path kernelCache;

    /** {@code machineDir} holds the machine's files; {@code kernelCache} the default kernel cache. */
    public HelperMachine(Path machineDir, Path kernelCache) throws IOException {
        this.dir = MachineDirectory.at(machineDir);
        this.kernelCache = kernelCache;
    }

    /**
     * The helper machine of a state root: its files in machine/, its kernel in kernels/. Files sent
     * to it are named by content hash, remembered in cache/file-hashes so that later commands need
     * not hash them again.
     */
    public static HelperMachine of(StateRoot root) throws IOException {
        FileHashes.rememberIn(root.dir("cache").resolve("file-hashes"));
        return new HelperMachine(root.dir("machine"), root.dir("kernels"));
    }

    /** Default machine size: 4 GiB (at most half the host's RAM, at least 1 GiB). */
    public static long defaultMemory() {
        return Math.max(1L << 30, Math.min(DEFAULT_MEMORY, HostCapabilities.totalMemory() / 2)) & ~((1L << 20) - 1);
    }

    /** Default vCPUs: all the host's cores. */
    public static int defaultCpus() {
        return Math.max(1, Runtime.getRuntime().availableProcessors());
    }

    /** The running machine, started on demand with the default size (its progress on {@code log}). */
    public Endpoint ensureRunning(PrintStream log) throws IOException, MachineUnavailableException {
        Optional<Endpoint> running = running();
        if (running.isPresent()) {
            if (!runsThisBuildsImage() && OUTDATED_SAID.compareAndSet(false, true)) {
                log.println("vessel: " + OUTDATED);
            }
            return running.get();
        }
        try {
            return start(log, defaultMemory(), defaultCpus());
        } catch (MachineException e) {
            throw new MachineUnavailableException(e.getMessage(), e);
        }
    }

    /**
     * Stops a helper machine that no longer answers (its agent accepted but did not say hello:
     * the machine's kernel is stuck, which nested virtualization under emulation can do) and
     * starts a fresh one.
     */
    public Endpoint restartUnresponsive(PrintStream log) throws IOException, MachineUnavailableException {
        log.println("vessel: the helper machine does not answer; restarting it");
        stop(Duration.ofSeconds(5));
        return ensureRunning(log);
    }

    /**
     * Whether the running machine booted from the image this build of Vessel makes. One started by
     * another build may lack a kernel module or tool this one uses; only a restart (which ends the
     * VMs in it) brings them, so Vessel says so rather than restarting it unasked.
     */
    public boolean runsThisBuildsImage() throws IOException {
        DebianKernel.Release kernel = new DebianKernel(kernelCache).cached();
        if (kernel == null || !Files.isRegularFile(dir.imageFile())) {
            return false;
        }
        return Files.readString(dir.imageFile()).strip().equals(MachineImage.signature(kernel.name(), AgentBinary.fingerprint()));
    }

    /** Said once per process when the running machine is another build's. */
    public static final String OUTDATED = "the helper machine runs an image of another build of Vessel, which may lack what "
            + "this one needs; `vessel machine stop` (it ends the VMs in it) lets the next command start this build's";
    private static final java.util.concurrent.atomic.AtomicBoolean OUTDATED_SAID = new java.util.concurrent.atomic.AtomicBoolean();

    /** Where a running machine's agent listens, with the token to present. */
    public record Endpoint(long pid, int port, String token) {}

    /** The running machine, if any: a live QEMU whose pid file and port file we wrote. */
    public Optional<Endpoint> running() throws IOException {
        if (!Files.isRegularFile(dir.pidFile()) || !Files.isRegularFile(dir.portFile())) {
            return Optional.empty();
        }
        long pid;
        int port;
        try {
            pid = Long.parseLong(Files.readString(dir.pidFile()).strip());
            port = Integer.parseInt(Files.readString(dir.portFile()).strip());
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
        Optional<ProcessHandle> p = ProcessHandle.of(pid);
        if (p.isEmpty() || !p.get().isAlive() || !isOurQemu(pid)) {
            return Optional.empty();
        }
        return Optional.of(new Endpoint(pid, port, Files.readString(dir.tokenFile()).strip()));
    }

    private boolean isOurQemu(long pid) {
        try {
            String cmdline = Files.readString(Path.of("/proc", Long.toString(pid), "cmdline"), StandardCharsets.ISO_8859_1);
            return cmdline.contains(QemuCommand.BINARY) && cmdline.contains(dir.pidFile().toString());
        } catch (IOException e) {
            return false;
        }
    }

    /** Starts the machine unless it runs; returns its endpoint. Serialised across processes by a file lock. */
    public Endpoint start(PrintStream log, long memoryBytes, int cpus) throws IOException, MachineException {
        try (FileChannel lockChannel = PrivateFiles.open(dir.lockFile(), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock ignored = lockChannel.lock()) {
            Optional<Endpoint> existing = running();
            if (existing.isPresent()) {
                return existing.get();
            }
            MachineException last = null;
            for (int attempt = 1; attempt <= BOOT_ATTEMPTS; attempt++) {
                try {
                    return boot(log, memoryBytes, cpus);
                } catch (MachineBootFailure e) {
                    last = e;
                    log.println("vessel: " + e.getMessage() + (attempt < BOOT_ATTEMPTS ? "; trying again" : ""));
                }
            }
            throw last;
        }
    }

    /**
     * The machine started but never said it was ready: it stayed silent, or QEMU ended (a panic of
     * its kernel ends QEMU, a soft lockup included). Worth one more try.
     */
    static final class MachineBootFailure extends MachineException {
        MachineBootFailure(String message) {
            super(message);
        }
    }

    private Endpoint boot(PrintStream log, long memoryBytes, int cpus) throws IOException, MachineException {
        if (!HostCommand.available(QemuCommand.BINARY)) {
            throw new MachineException("the helper machine needs QEMU: apt-get install qemu-system-x86");
        }
        if (!HostCommand.available("mkfs.ext4")) {
            throw new MachineException("the helper machine needs mkfs.ext4: apt-get install e2fsprogs");
        }
        long started = System.nanoTime();
        log.println("vessel: starting the helper machine (QEMU software emulation with nested KVM; first start builds its disks)");
        DebianKernel.Release kernel = new DebianKernel(kernelCache).ensure(log);
        Path agent = AgentFiles.extractAgent(dir.path());
        String token = newToken();
        Files.deleteIfExists(dir.tokenFile());
        Files.createFile(dir.tokenFile(), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.writeString(dir.tokenFile(), token);
        MachineImage image = new MachineImage(dir);
        Path initramfs = image.initramfs(kernel, agent, token);
        Path javaDisk = image.javaRuntimeDisk();
        Path dataDisk = image.dataDisk(DATA_DISK_SIZE);
        Path toolsDisk = image.networkToolsDisk();
        killLeftover();
        Files.deleteIfExists(dir.portFile());
        // The last machine's console survives one restart: when a machine dies under a command
        // (a kernel crash under nested emulation), the next command starts a new one.
        if (Files.exists(dir.consoleLog())) {
            Files.move(dir.consoleLog(), dir.path().resolve("console.previous.log"), StandardCopyOption.REPLACE_EXISTING);
        }
        PrivateFiles.ensureFile(dir.consoleLog()); // QEMU keeps the mode of the file it opens

        int agentPort = freeLoopbackPort();
        try (ServerSocket notify = new ServerSocket()) {
            notify.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            QemuCommand qemu = new QemuCommand(kernel.vmlinuz(), initramfs, javaDisk, dataDisk, toolsDisk, dir.pidFile(),
                    dir.consoleLog(), cpus, memoryBytes, agentPort, notify.getLocalPort());
            launch(qemu);
            long pid = Long.parseLong(Files.readString(dir.pidFile()).strip());
            ProcessHandle qemuProcess = ProcessHandle.of(pid)
                    .orElseThrow(() -> new MachineException("QEMU exited right after starting; see " + dir.consoleLog()));
            // If QEMU dies while we wait, closing the socket ends accept() at once.
            qemuProcess.onExit().thenRun(() -> closeQuietly(notify));
            notify.setSoTimeout((int) BOOT_TIMEOUT.toMillis());
            try (Socket s = notify.accept(); InputStream in = s.getInputStream()) {
                String line = new String(in.readNBytes(64), StandardCharsets.US_ASCII).strip();
                if (!line.startsWith("ready")) {
                    throw new MachineException("the helper machine sent '" + line + "' instead of ready");
                }
            } catch (SocketException e) {
                // Closed by QEMU's exit (above); let its last console lines land.
                awaitExit(qemuProcess);
                throw new MachineBootFailure("the helper machine stopped while booting"
                        + MachineConsole.fatalLine(MachineConsole.readFrom(dir.consoleLog(), 0, CONSOLE_TAIL))
                                .map(line -> " (its kernel: " + line + ")").orElse("")
                        + "; its console is in " + keepFailedBootConsole());
            } catch (java.net.SocketTimeoutException e) {
                qemuProcess.destroy();
                qemuProcess.onExit().join();
                throw new MachineBootFailure("the helper machine did not come up within " + BOOT_TIMEOUT.toSeconds()
                        + " s; its console is in " + keepFailedBootConsole());
            }
        }
        PrivateFiles.writeString(dir.imageFile(), MachineImage.signature(kernel.name(), AgentBinary.fingerprint()) + "\n");
        PrivateFiles.writeString(dir.portFile(), Integer.toString(agentPort));
        log.printf("vessel: helper machine up in %.1f s%n", (System.nanoTime() - started) / 1e9);
        return running().orElseThrow(() -> new MachineException("the helper machine stopped right after booting; see "
                + dir.consoleLog()));
    }

    private static void awaitExit(ProcessHandle process) {
        try {
            process.onExit().get(10, TimeUnit.SECONDS);
        } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
            process.destroyForcibly();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Keeps a failed boot's console for diagnosis (a retry writes a new one); returns where it is. */
    private Path keepFailedBootConsole() throws IOException {
        Path kept = dir.path().resolve("console.failed-boot.log");
        if (Files.exists(dir.consoleLog())) {
            Files.move(dir.consoleLog(), kept, StandardCopyOption.REPLACE_EXISTING);
        }
        return kept;
    }

    /**
     * Why a command lost its connection to the machine, if the machine itself ended: its QEMU
     * exited within {@code grace} (a kernel that panics ends QEMU at once: QemuCommand.PANIC_DEVICE).
     * Empty while QEMU still runs: the connection was lost some other way.
     */
    public Optional<String> stoppedUnder(Endpoint endpoint, Duration grace) throws IOException {
        Optional<ProcessHandle> qemu = ProcessHandle.of(endpoint.pid());
        if (qemu.isPresent()) {
            try {
                qemu.get().onExit().get(grace.toMillis(), TimeUnit.MILLISECONDS);
            } catch (java.util.concurrent.TimeoutException e) {
                return Optional.empty();
            } catch (java.util.concurrent.ExecutionException e) {
                // onExit does not fail; treat as ended.
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return Optional.empty();
            }
        }
        Optional<String> line = MachineConsole.fatalLine(MachineConsole.readFrom(dir.consoleLog(), 0, CONSOLE_TAIL));
        return Optional.of(line.map(l -> "the helper machine died under this command (its kernel: " + l + ")")
                .orElse("the helper machine stopped under this command, with no kernel error in its console")
                + "; its console is " + dir.consoleLog() + " (kept as console.previous.log when the next machine starts)");
    }

    /** The running machine's serial console: its kernel's and init's messages. */
    public Path consoleLog() {
        return dir.consoleLog();
    }

    /**
     * A QEMU from a start that never finished (its starter was killed while it booted) still holds
     * the disks; we hold the start lock, so it is nobody's: end it before booting a new one.
     */
    private void killLeftover() throws IOException {
        if (Files.isRegularFile(dir.pidFile())) {
            try {
                long pid = Long.parseLong(Files.readString(dir.pidFile()).strip());
                Optional<ProcessHandle> p = ProcessHandle.of(pid);
                if (p.isPresent() && p.get().isAlive() && isOurQemu(pid)) {
                    p.get().destroy();
                    p.get().onExit().get(30, TimeUnit.SECONDS);
                }
            } catch (NumberFormatException | java.util.concurrent.ExecutionException
                     | java.util.concurrent.TimeoutException e) {
                // Not ours or already gone.
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        Files.deleteIfExists(dir.pidFile());
    }

    private void launch(QemuCommand qemu) throws IOException, MachineException {
        Process p = new ProcessBuilder(qemu.argv())
                .redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .start();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        try {
            // With -daemonize the launching process exits once the machine is set up.
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new MachineException("QEMU did not daemonize");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MachineException("interrupted while starting QEMU");
        }
        if (p.exitValue() != 0 || !Files.isRegularFile(dir.pidFile())) {
            throw new MachineException("QEMU failed to start the helper machine: " + output);
        }
    }

    /** Powers the machine off cleanly (sync, then ACPI power-off), or kills QEMU if it does not answer. */
    public boolean stop(Duration timeout) throws IOException {
        Optional<Endpoint> ep = running();
        if (ep.isEmpty()) {
            return false;
        }
        ProcessHandle qemu = ProcessHandle.of(ep.get().pid()).orElse(null);
        if (qemu == null) {
            return false;
        }
        try (MachineConnection c = MachineConnection.open(ep.get())) {
            c.runQuietly(List.of("/bin/sh", "-c", "sync; poweroff -f"));
        } catch (IOException | MachineException e) {
            // Not answering: fall through to killing QEMU.
        }
        try {
            qemu.onExit().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (Exception e) {
            qemu.destroy();
            try {
                qemu.onExit().get(10, TimeUnit.SECONDS);
            } catch (Exception e2) {
                qemu.destroyForcibly();
            }
        }
        Files.deleteIfExists(dir.portFile());
        Files.deleteIfExists(dir.pidFile());
        return true;
    }

    public Path directory() {
        return dir.path();
    }

    static String newToken() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    static int freeLoopbackPort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return s.getLocalPort();
        }
    }

    private static void closeQuietly(ServerSocket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // Already closed.
        }
    }
}
