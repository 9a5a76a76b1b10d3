package dev.vessel.container;

import dev.vessel.events.EventJournal;
import dev.vessel.guest.agent.AgentClient;
import dev.vessel.guest.agent.AgentProtocol;
import dev.vessel.guest.agent.ExecFailure;
import dev.vessel.guest.agent.ExecRequest;
import dev.vessel.guest.agent.ExecSession;
import dev.vessel.guest.agent.GuestAgent;
import dev.vessel.host.PrivateFiles;
import dev.vessel.network.Network;
import dev.vessel.network.ports.PortProxy;
import dev.vessel.vmm.VmConfig;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * A container's supervisor: one process per running container (the seed's "one KVM process per
 * VM"), detached from the CLI that started it. It boots the container's VM, runs the main process
 * through the guest agent, keeps its output in the container's log and passes it to attached
 * clients, takes stop/kill/attach/wait requests on its socket ({@link ShimProtocol}), and when the
 * main process ends it powers the VM off, writes the final state and (with --rm) removes the
 * container. Under a restart policy ({@link RestartManager}) it boots a fresh VM of the container
 * instead, after docker's delay, unless the user stopped or killed it: the container lives on
 * without a CLI or the service. It records what only it sees in the state root's events: the
 * signals it sends ({@code kill}), each end ({@code die}, with the exit status), each start by the
 * policy ({@code start}), the container joining and leaving its networks ({@code connect}, {@code
 * disconnect}), and the removal with --rm ({@code destroy}).
 * It runs the container's health check ({@link ShimHealth}) while each main process runs.
 */
public final class Shim {
    private static final System.Logger LOG = System.getLogger(Shim.class.getName());
    /** How long the guest may take from VMM start to a listening agent. */
    private static final Duration BOOT_TIMEOUT = Duration.ofMinutes(3);

    /**
     * Runs the container's VM to its end, with its console on this process's stdout, and returns
     * its exit status as `vessel vm run` gives it: on this host's KVM or in the helper machine,
     * which the layer above decides.
     */
    @FunctionalInterface
    public interface VmRunner {
        int run(VmConfig config) throws Exception;
    }

    /** Time as the restart policy sees it: the system's, or a test's (so that no test sleeps). */
    interface Clock {
        long nanoTime();

        /** Waits {@code delay}, or less when {@code cancel} completes first; true when it waited all of it. */
        boolean pause(Duration delay, CompletableFuture<?> cancel) throws InterruptedException;

        Clock SYSTEM = new Clock() {
            @Override
            public long nanoTime() {
                return System.nanoTime();
            }

            @Override
            public boolean pause(Duration delay, CompletableFuture<?> cancel) throws InterruptedException {
                try {
                    cancel.get(delay.toNanos(), TimeUnit.NANOSECONDS);
                    return false;
                } catch (TimeoutException e) {
                    return true;
                } catch (ExecutionException e) {
                    return false;
                }
            }
        };
    }

    /**
     * What the VM boots, resolved by the caller.
     *
     * @param network the cards, addresses and /etc files of this start ({@link GuestNetwork#plan})
     * @param networks the networks it is on, in the order of its cards
     */
    public record Boot(Path kernel, Path initrd, Path imageDisk, GuestNetwork network, List<Network> networks) {
        public Boot {
            networks = List.copyOf(networks);
        }
    }

    private static final boolean TIMING = System.getenv("VESSEL_TIMING") != null;

    /** VESSEL_TIMING=1: milestones on stderr (the console log), wall clock in ms mod 10^6 to line up with the CLI's. */
    private static void mark(String what) {
        if (TIMING) {
            System.err.printf("timing: shim %s (at %d)%n", what, System.currentTimeMillis() % 1_000_000);
        }
    }

    private final ContainerStore store;
    private final ContainerStore.Container container;
    private final ContainerConfig config;
    private final EventJournal events;
    private final Clock clock;
    private final Set<Client> clients = ConcurrentHashMap.newKeySet();
    private final CountDownLatch firstAttach = new CountDownLatch(1);
    /** The terminal size the first attached client reported (rows, cols), for the main process's pty. */
    private volatile int[] attachSize = {24, 80};
    /** The container's last status, once it ended for good (no restart follows). */
    private final CompletableFuture<Integer> exitCode = new CompletableFuture<>();
    /** The VM's boot and main process of now (of the last one while a restart waits). */
    private volatile Run current = new Run();
    /** Guards {@link Run#main} against {@link #stoppedByUser}: a stop never misses a process that is starting. */
    private final Object mainLock = new Object();
    /** The user stopped or killed the container (docker's HasBeenManuallyStopped): the policy restarts it no more. */
    private volatile boolean stoppedByUser;
    /** The grace of the last stop, for a main process that starts after it. */
    private volatile int stopGrace = 10;
    /** A kill's signal that came while the main process was starting (0: none, a stop's SIGTERM then). */
    private int pendingSignal;
    /** Completes when the user stops or kills the container: ends a restart's wait. */
    private final CompletableFuture<Void> userStop = new CompletableFuture<>();
    private ContainerLog log;

    private Shim(ContainerStore store, ContainerStore.Container container, EventJournal events, Clock clock) {
        this.store = store;
        this.container = container;
        this.config = container.config();
        this.events = events;
        this.clock = clock;
    }

    /** One boot of the container's VM and its main process; a restart by the policy is another. */
    private static final class Run {
        /** The main process's status once it ended (or 125 when the VM did not run it). */
        final CompletableFuture<Integer> exit = new CompletableFuture<>();
        /** Completes with the main process's session once it started (null if it never does). */
        final CompletableFuture<ExecSession> started = new CompletableFuture<>();
        volatile ExecSession main;
        volatile boolean stdinClosed;

        synchronized void closeStdin() {
            ExecSession s = main;
            if (stdinClosed || s == null) {
                return;
            }
            try {
                s.closeStdin();
                stdinClosed = true;
            } catch (IOException e) {
                // the process is gone
            }
        }
    }

    /** How one boot ended: the main process's status, or why the VM did not run it (then 125). */
    private record Ended(int code, String failure) {}

    /** One connected CLI. */
    private final class Client {
        final SocketChannel ch;
        final boolean attached;
        final boolean stdin;

        Client(SocketChannel ch, boolean attached, boolean stdin) {
            this.ch = ch;
            this.attached = attached;
            this.stdin = stdin;
        }

        synchronized void send(byte type, byte[] b, int off, int len) {
            try {
                AgentProtocol.write(ch, type, b, off, len);
            } catch (IOException e) {
                drop();
            }
        }

        void drop() {
            clients.remove(this);
            try {
                ch.close();
            } catch (IOException e) {
                // gone
            }
        }
    }

    /**
     * Runs the container to its end. {@code ready} is called once the supervisor's socket listens
     * (the CLI may attach from then on). With {@code waitForAttach} the main process starts only
     * after the first client attached (so `run` sees all output), or after 30 s without one.
     */
    public static int run(ContainerStore store, ContainerStore.Container c, Boot boot, VmRunner vm,
                          boolean waitForAttach, boolean restart, PortProxy ports, EventJournal events, Runnable ready)
            throws IOException {
        return run(store, c, boot, vm, waitForAttach, restart, ports, events, ready, Clock.SYSTEM);
    }

    /**
     * {@link #run}, telling {@code failed} why the container could not run (the VM did not boot,
     * the files copied in did not go): the launcher says it to the user, as the container's own
     * log may be gone with it (--rm) by the time anyone looks.
     */
    public static int run(ContainerStore store, ContainerStore.Container c, Boot boot, VmRunner vm,
                          boolean waitForAttach, boolean restart, PortProxy ports, EventJournal events, Runnable ready,
                          java.util.function.Consumer<String> failed) throws IOException {
        Shim shim = new Shim(store, c, events, Clock.SYSTEM);
        shim.failed = failed;
        return shim.run(boot, vm, waitForAttach, restart, ports, ready);
    }

    /** Told of each failure of the container's start (null: nobody). */
    private java.util.function.Consumer<String> failed;

    /** {@link #run} on {@code clock}'s time. */
    static int run(ContainerStore store, ContainerStore.Container c, Boot boot, VmRunner vm, boolean waitForAttach,
                   boolean restart, PortProxy ports, EventJournal events, Runnable ready, Clock clock) throws IOException {
        return new Shim(store, c, events, clock).run(boot, vm, waitForAttach, restart, ports, ready);
    }

    /**
     * @param ports the container's published ports, bound already (null: none); served from now
     *     on, kept across restarts, and closed once the container ended, before anyone is told it stopped
     */
    private int run(Boot boot, VmRunner vm, boolean waitForAttach, boolean restart, PortProxy ports,
                    Runnable ready) throws IOException {
        Path shimSock = container.shimSocket();
        Path readySock = Path.of(container.vsockSocket() + "_" + AgentProtocol.READY_PORT);
        PrivateFiles.createDirectories(shimSock.getParent());
        Files.deleteIfExists(shimSock);
        Files.deleteIfExists(readySock);
        ProcessHandle self = ProcessHandle.current();
        long selfStart = self.info().startInstant().map(java.time.Instant::toEpochMilli).orElse(0L);
        log = ContainerLog.append(container.log(), container.config().logLimits());

        try (ServerSocketChannel control = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
             ServerSocketChannel readyListener = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            control.bind(UnixDomainSocketAddress.of(shimSock));
            readyListener.bind(UnixDomainSocketAddress.of(readySock));
            PrivateFiles.restrict(shimSock);
            PrivateFiles.restrict(readySock);
            Thread.ofPlatform().daemon(true).name("shim-control").start(() -> acceptClients(control));

            RestartManager restarts = new RestartManager(config.restartPolicy());
            boolean again = restart;
            while (true) {
                Run run = new Run();
                current = run;
                container.writeState(ShimHealth.starting(config, container.state().running(self.pid(), selfStart, again,
                        ports == null ? List.of() : ports.bound())));
                long started = clock.nanoTime();
                for (Network n : boot.networks()) {
                    events.emit(n.event("connect", Map.of("container", config.id())));
                }
                boolean first = restarts.restarts() == 0;
                if (!first) {
                    // The service records the starts it makes; those of the policy happen here.
                    events.emit(config.event("start", Map.of()));
                } else if (ports != null) {
                    ports.start();
                }
                // Only the first boot holds its main process for the CLI that started it.
                Ended end = boot(run, boot, vm, readyListener, first && waitForAttach, first ? ready : () -> { });
                Duration ran = Duration.ofNanos(clock.nanoTime() - started);
                // A VM that did not run the main process is not restarted: dockerd gives up on a failed start too.
                Optional<Duration> delay = end.failure() != null ? Optional.empty()
                        : restarts.afterExit(end.code(), stoppedByUser, ran);
                if (delay.isEmpty()) {
                    return finish(end, started, boot, ports, false);
                }
                container.writeState(container.state().restarting(end.code()));
                died(end.code(), started, boot);
                // Attach and wait are for this run (docker's attach ends and its wait returns at each exit).
                for (Client cl : clients) {
                    cl.send(AgentProtocol.EXIT, ByteBuffer.allocate(4).putInt(end.code()).array(), 0, 4);
                    cl.drop();
                }
                boolean waited;
                try {
                    waited = clock.pause(delay.get(), userStop);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    waited = false;
                }
                if (!waited) {
                    return finish(end, started, boot, ports, true); // stopped by the user while it waited
                }
                again = true;
            }
        } finally {
            Files.deleteIfExists(shimSock);
            Files.deleteIfExists(readySock);
        }
    }

    /**
     * The end for good: the ports closed, the final state written, {@code die} recorded (unless
     * it was when the restart's wait began), --rm's removal, and the clients told.
     */
    private int finish(Ended end, long started, Boot boot, PortProxy ports, boolean diedAlready) throws IOException {
        int code = end.code();
        if (ports != null) {
            ports.close(); // free for the next container before this one reads as stopped
        }
        container.writeState(container.state().exited(code, end.failure(), stoppedByUser));
        log.close();
        if (!diedAlready) {
            died(code, started, boot);
        }
        if (config.autoRemove()) {
            store.remove(container);
            events.emit(config.event("destroy", Map.of()));
        }
        exitCode.complete(code);
        for (Client cl : clients) {
            cl.send(AgentProtocol.EXIT, ByteBuffer.allocate(4).putInt(code).array(), 0, 4);
        }
        return code;
    }

    /** Docker's events of an end: {@code die}, and the container leaving its networks. */
    private void died(int code, long started, Boot boot) {
        events.emit(config.event("die", Map.of("exitCode", Integer.toString(code),
                "execDuration", Long.toString((clock.nanoTime() - started) / 1_000_000_000L))));
        for (Network n : boot.networks()) {
            events.emit(n.event("disconnect", Map.of("container", config.id())));
        }
    }

    /** Boots a VM of the container, runs its main process, powers the VM off and waits for its end. */
    private Ended boot(Run run, Boot boot, VmRunner vm, ServerSocketChannel readyListener, boolean waitForAttach,
                       Runnable ready) throws IOException {
        Files.deleteIfExists(container.vsockSocket());
        CompletableFuture<Integer> vmExit = new CompletableFuture<>();
        Thread.ofPlatform().daemon(true).name("shim-vm").start(() -> {
            try {
                vmExit.complete(vm.run(vmConfig(boot)));
            } catch (Throwable t) {
                vmExit.completeExceptionally(t);
            }
        });
        mark("VM starting");
        // A thread of its own, not the common pool: it blocks until the agent connects or never.
        CompletableFuture<Void> agentReady = new CompletableFuture<>();
        Thread.ofPlatform().daemon(true).name("shim-ready").start(() -> {
            try {
                awaitReady(readyListener);
                agentReady.complete(null);
            } catch (Throwable t) {
                agentReady.completeExceptionally(t);
            }
        });
        String failure = null;
        try {
            CompletableFuture.anyOf(agentReady, vmExit).get(BOOT_TIMEOUT.toSeconds(), TimeUnit.SECONDS);
            if (!agentReady.isDone()) {
                failure = "the container's VM stopped before it was ready (status " + vmExit.getNow(-1)
                        + "; its console is in " + container.consoleLog() + ")";
            }
        } catch (TimeoutException e) {
            failure = "the container's VM did not get ready within " + BOOT_TIMEOUT.toSeconds() + " s";
        } catch (Exception e) {
            failure = "the container's VM failed: " + rootMessage(e);
        }
        int code;
        mark("agent ready");
        if (failure == null) {
            // Files copied in while it did not run go in before its main process starts.
            failure = ContainerArchive.applyPending(container, c -> agent());
        }
        if (failure == null) {
            // The CLI goes on once the container runs: when it attaches, before the main
            // process starts (it waits for the CLI); when it does not, once that process started.
            // The health check runs with the main process, and stops before its end is written.
            ShimHealth health = ShimHealth.start(container, events, this::agent);
            try {
                code = runMain(run, waitForAttach, ready);
            } finally {
                health.close();
            }
            run.started.complete(null);
            mark("main process ended");
            powerOff();
            mark("power-off requested");
        } else {
            code = 125;
            run.started.complete(null);
            fail(failure);
        }
        run.exit.complete(code);
        try {
            vmExit.get(60, TimeUnit.SECONDS);
        } catch (Exception e) {
            LOG.log(System.Logger.Level.WARNING, "the VM did not power off: " + e);
        }
        mark("VM ended");
        return new Ended(code, failure);
    }

    /**
     * The container's VM: the image read-only (vda), its writable disk (vdb), vsock for the agent,
     * rng, and a card per network (eth0, ...).
     */
    VmConfig vmConfig(Boot boot) throws ContainerException {
        VmConfig.Builder b = VmConfig.builder()
                .kernel(boot.kernel())
                .initrd(boot.initrd())
                .cmdline(cmdline(config, boot.network()))
                .disk(boot.imageDisk(), true)
                .disk(container.rwDisk(), false)
                .vsock(container.vsockSocket())
                .rng(true)
                .cpus(config.cpus())
                .memory(config.memoryBytes());
        boot.network().nets().forEach(b::net);
        return b.build();
    }

    /**
     * The guest kernel's command line: what the container's init reads (hostname, network, /etc
     * files; see container_init.c).
     *
     * @throws ContainerException INVALID when it is longer than the kernel takes
     */
    public static String cmdline(ContainerConfig config, GuestNetwork network) throws ContainerException {
        return network.cmdline(VmConfig.DEFAULT_CMDLINE + " vessel.hostname=" + config.hostname()
                + (TIMING ? " vessel.timing=1" : ""));
    }

    /** Waits for the guest agent's READY (other connections to that port are not it: ignored). */
    private static void awaitReady(ServerSocketChannel readyListener) {
        while (true) {
            try (SocketChannel c = readyListener.accept()) {
                byte[] line = Channels.newInputStream(c).readNBytes(64);
                if (new String(line, StandardCharsets.US_ASCII).startsWith("READY ")) {
                    return;
                }
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
    }

    private AgentClient agent() throws IOException {
        return GuestAgent.connect(container.vsockSocket());
    }

    private int runMain(Run run, boolean waitForAttach, Runnable ready) {
        if (waitForAttach) {
            ready.run();
            try {
                firstAttach.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        Map<String, String> env = new LinkedHashMap<>();
        for (String e : config.env()) {
            int eq = e.indexOf('=');
            if (eq > 0) {
                env.put(e.substring(0, eq), e.substring(eq + 1));
            }
        }
        env.putIfAbsent("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        env.putIfAbsent("HOSTNAME", config.hostname());
        if (config.tty()) {
            env.putIfAbsent("TERM", "xterm");
        }
        ExecRequest request = ExecRequest.of(config.argv()).withEnv(env)
                .withCwd(config.workingDir().isEmpty() ? "/" : config.workingDir());
        if (!config.user().isEmpty()) {
            request = request.withUserSpec(config.user());
        }
        if (config.tty()) {
            int[] size = attachSize;
            request = request.withTty(size[0], size[1]);
        }
        try (AgentClient client = agent();
             ExecSession session = client.exec(request, null, stream("stdout", AgentProtocol.STDOUT),
                     stream("stderr", AgentProtocol.STDERR))) {
            boolean stopNow;
            int signal;
            synchronized (mainLock) {
                run.main = session;
                stopNow = stoppedByUser;
                signal = pendingSignal;
                pendingSignal = 0;
            }
            run.started.complete(session);
            mark("main process started");
            if (!waitForAttach) {
                ready.run();
            }
            if (stopNow && signal != 0) {
                killed(signal); // killed while it was starting
                session.signal(signal);
            } else if (stopNow) {
                terminate(run, session, stopGrace); // stopped while it was starting
            }
            if (!config.openStdin()) {
                run.closeStdin();
            }
            int status = session.waitFor();
            if (session.failure().isPresent()) {
                ExecFailure f = session.failure().get();
                byte[] msg = (f.message() + "\n").getBytes(StandardCharsets.UTF_8);
                stream("stderr", AgentProtocol.STDERR).write(msg);
                return f.errno() == AgentProtocol.ENOENT ? 127 : 126;
            }
            return status;
        } catch (IOException e) {
            fail("lost the container's main process: " + e.getMessage());
            return 137;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return 137;
        } finally {
            run.main = null;
            run.started.complete(null);
        }
    }

    /** Output of the main process: to the log, and to every attached client. */
    private OutputStream stream(String name, byte type) {
        return new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                log.write(name, b, off, len);
                for (Client c : clients) {
                    if (c.attached) {
                        c.send(type, b, off, len);
                    }
                }
            }
        };
    }

    private void powerOff() {
        try (AgentClient client = agent()) {
            client.powerOff();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "could not ask the guest to power off: " + e);
        }
    }

    private void fail(String message) {
        LOG.log(System.Logger.Level.ERROR, message);
        System.err.println("vessel-shim: " + message);
        if (failed != null) {
            failed.accept(message);
        }
        for (Client c : clients) {
            byte[] p = ShimProtocol.failure(5, message);
            c.send(AgentProtocol.FAILURE, p, 0, p.length);
        }
    }

    private void acceptClients(ServerSocketChannel control) {
        while (true) {
            SocketChannel ch;
            try {
                ch = control.accept();
            } catch (IOException e) {
                return;
            }
            Thread.ofVirtual().name("shim-client").start(() -> serve(ch));
        }
    }

    private void serve(SocketChannel ch) {
        Client client = null;
        try {
            AgentProtocol.Frame hello = AgentProtocol.read(ch, ShimProtocol.CLIENT_TYPES);
            if (hello == null || hello.type() != AgentProtocol.HELLO) {
                ch.close();
                return;
            }
            AgentProtocol.write(ch, AgentProtocol.HELLO_REPLY, ShimProtocol.VERSION.getBytes(StandardCharsets.US_ASCII));
            AgentProtocol.Frame req = AgentProtocol.read(ch, ShimProtocol.CLIENT_TYPES);
            if (req == null) {
                ch.close();
                return;
            }
            switch (req.type()) {
                case ShimProtocol.ATTACH -> {
                    byte[] p = req.payload();
                    boolean stdin = p.length > 0 && (p[0] & ShimProtocol.ATTACH_STDIN) != 0;
                    if (p.length == 5 && firstAttach.getCount() > 0) {
                        ByteBuffer b = ByteBuffer.wrap(p, 1, 4);
                        int rows = Short.toUnsignedInt(b.getShort());
                        int cols = Short.toUnsignedInt(b.getShort());
                        if (rows > 0 && cols > 0) {
                            attachSize = new int[] {rows, cols};
                        }
                    }
                    client = new Client(ch, true, stdin);
                    clients.add(client);
                    firstAttach.countDown();
                    finishedAlready(client);
                    readInput(client);
                }
                case ShimProtocol.SIGNAL -> {
                    int sig = req.payload().length == 1 ? req.payload()[0] & 0xFF : 0;
                    if (sig >= 1 && sig <= 64) {
                        ExecSession s = userStopped(stopGrace, sig).main;
                        if (s != null) {
                            killed(sig);
                            s.signal(sig);
                        }
                    }
                    AgentProtocol.write(ch, AgentProtocol.EXIT, ByteBuffer.allocate(4).putInt(0).array());
                    ch.close();
                }
                case ShimProtocol.STOP -> {
                    int seconds = req.payload().length == 4 ? ByteBuffer.wrap(req.payload()).getInt() : 10;
                    client = new Client(ch, false, false);
                    clients.add(client);
                    if (!finishedAlready(client)) {
                        stop(Math.clamp(seconds, 0, 3600));
                    }
                    readInput(client);
                }
                case ShimProtocol.WAIT -> {
                    client = new Client(ch, false, false);
                    clients.add(client);
                    finishedAlready(client);
                    readInput(client);
                }
                default -> ch.close();
            }
        } catch (IOException e) {
            if (client != null) {
                client.drop();
            } else {
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // gone
                }
            }
        }
    }

    /** A client that came after the end gets the status at once. */
    private boolean finishedAlready(Client c) {
        Integer code = exitCode.getNow(null);
        if (code != null) {
            c.send(AgentProtocol.EXIT, ByteBuffer.allocate(4).putInt(code).array(), 0, 4);
            return true;
        }
        return false;
    }

    /**
     * The user stops or kills the container: no restart follows, a restart's wait ends, and a
     * main process that is starting is stopped once it started. Returns the run of now.
     */
    private Run userStopped(int grace) {
        return userStopped(grace, 0);
    }

    /** As {@link #userStopped(int)}, for a kill with {@code signal}: a main process that is starting gets it once started. */
    private Run userStopped(int grace, int signal) {
        Run run;
        synchronized (mainLock) {
            stoppedByUser = true;
            stopGrace = grace;
            run = current;
            if (run.main == null && signal != 0) {
                pendingSignal = signal;
            }
        }
        userStop.complete(null);
        return run;
    }

    private void stop(int seconds) {
        Run run = userStopped(seconds);
        ExecSession s = run.main;
        if (s != null) {
            terminate(run, s, seconds);
        }
    }

    /** SIGTERM to the main process of {@code run}, and SIGKILL when it is still there after {@code seconds}. */
    private void terminate(Run run, ExecSession s, int seconds) {
        try {
            killed(15);
            s.signal(15);
        } catch (IOException e) {
            return;
        }
        Thread.ofVirtual().start(() -> {
            try {
                run.exit.get(seconds, TimeUnit.SECONDS);
            } catch (TimeoutException e) {
                ExecSession still = run.main;
                if (still != null) {
                    try {
                        killed(9);
                        still.signal(9);
                    } catch (IOException ignored) {
                        // ended meanwhile
                    }
                }
            } catch (Exception e) {
                // ended
            }
        });
    }

    /** Records a signal sent to the main process, as dockerd does before it sends one. */
    private void killed(int signal) {
        events.emit(config.event("kill", Map.of("signal", Integer.toString(signal))));
    }

    /** Frames from a client until it leaves: stdin and resizes for the main process. */
    private void readInput(Client c) throws IOException {
        while (true) {
            AgentProtocol.Frame f = AgentProtocol.read(c.ch, ShimProtocol.CLIENT_TYPES);
            if (f == null) {
                c.drop();
                return;
            }
            Run run = current;
            ExecSession s = run.main;
            if ((f.type() == AgentProtocol.STDIN || f.type() == AgentProtocol.RESIZE) && s == null && !run.exit.isDone()) {
                s = run.started.join(); // input that came before the process started waits for it
            }
            if (f.type() == AgentProtocol.STDIN && c.stdin && config.openStdin()) {
                if (f.payload().length == 0) {
                    run.closeStdin();
                } else if (s != null && !run.stdinClosed) {
                    s.writeStdin(f.payload());
                }
            } else if (f.type() == AgentProtocol.RESIZE && f.payload().length == 4 && s != null) {
                ByteBuffer b = ByteBuffer.wrap(f.payload());
                s.resize(Short.toUnsignedInt(b.getShort()), Short.toUnsignedInt(b.getShort()));
            }
        }
    }

    private static String rootMessage(Throwable t) {
        while (t.getCause() != null) {
            t = t.getCause();
        }
        return t.getMessage() != null ? t.getMessage() : t.toString();
    }
}
