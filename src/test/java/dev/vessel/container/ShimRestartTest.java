package dev.vessel.container;

import dev.vessel.events.Event;
import dev.vessel.events.EventJournal;
import dev.vessel.guest.agent.AgentProtocol;
import dev.vessel.vmm.VmConfig;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
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
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The supervisor's restarts under a restart policy, with a fake VM: it says READY and serves the
 * agent's protocol on the container's vsock socket, as the guest does, and its main process ends
 * as each test scripts it. Time is a fake clock whose waits end at once (or when the test says).
 */
@Timeout(60)
class ShimRestartTest {
    @TempDir
    Path dir;
    ContainerStore store;
    EventJournal events;
    final FakeClock clock = new FakeClock();

    @BeforeEach
    void store() throws IOException {
        store = ContainerStore.open(dir.resolve("containers"));
        events = EventJournal.at(dir.resolve("events"), EventJournal.Limits.DEFAULT);
    }

    /** How one boot's main process ends. */
    record Main(int exitCode, Duration ranFor, boolean untilSignalled) {
        static Main exits(int code) {
            return new Main(code, Duration.ofSeconds(1), false);
        }

        static Main exitsAfter(int code, Duration ran) {
            return new Main(code, ran, false);
        }

        /** Runs until a signal ends it, with 128 + the signal, as a shell does. */
        static Main runsUntilSignalled() {
            return new Main(0, Duration.ZERO, true);
        }
    }

    @Test
    void onFailureBootsAFreshVmUntilItsCountIsSpent() throws Exception {
        ContainerStore.Container c = container("on-failure", 2);
        FakeVm vm = new FakeVm(clock, Main.exits(3), Main.exits(3), Main.exits(3), Main.exits(3));
        assertEquals(3, supervise(c, vm).get(30, TimeUnit.SECONDS));

        assertEquals(3, vm.boots.size(), "the first run and two restarts");
        for (VmConfig boot : vm.boots) {
            assertTrue(boot.disks().contains(new VmConfig.Disk(c.rwDisk(), false)), "the container's own writable disk");
        }
        assertEquals(List.of(Duration.ofMillis(100), Duration.ofMillis(200)), clock.pauses, "docker's back-off");
        ContainerState s = c.state();
        assertEquals(ContainerState.EXITED, s.status());
        assertEquals(3, s.exitCode());
        assertEquals(2, s.restartCount());
        assertFalse(s.stoppedByUser());
        assertEquals(List.of("die 3", "start", "die 3", "start", "die 3"), containerEvents());
    }

    @Test
    void alwaysRestartsAfterSuccessAndAUserStopEndsIt() throws Exception {
        ContainerStore.Container c = container("always", 0);
        FakeVm vm = new FakeVm(clock, Main.exits(0), Main.exits(0), Main.exitsAfter(0, Duration.ofSeconds(10)),
                Main.runsUntilSignalled(), Main.exits(0));
        Future<Integer> shim = supervise(c, vm);
        vm.awaitMain(4);
        ContainerState up = c.state();
        assertEquals(ContainerState.RUNNING, up.status());
        assertEquals(3, up.restartCount());
        assertEquals(List.of(Duration.ofMillis(100), Duration.ofMillis(200), Duration.ofMillis(100)), clock.pauses,
                "back to 100 ms after a run of 10 s");

        assertEquals(143, ShimProtocol.stop(c.shimSocket(), 10), "SIGTERM ended it");
        assertEquals(143, shim.get(30, TimeUnit.SECONDS));
        assertEquals(4, vm.boots.size(), "no restart after a stop");
        ContainerState s = c.state();
        assertEquals(ContainerState.EXITED, s.status());
        assertTrue(s.stoppedByUser(), "unless-stopped containers stay stopped when the service starts");
        assertEquals(List.of("die 0", "start", "die 0", "start", "die 0", "start", "kill 15", "die 143"), containerEvents());
    }

    @Test
    void aKillIsNotRestartedEither() throws Exception {
        ContainerStore.Container c = container("unless-stopped", 0);
        FakeVm vm = new FakeVm(clock, Main.runsUntilSignalled(), Main.exits(0));
        Future<Integer> shim = supervise(c, vm);
        vm.awaitMain(1);
        ShimProtocol.signal(c.shimSocket(), 9);
        assertEquals(137, shim.get(30, TimeUnit.SECONDS));
        assertEquals(1, vm.boots.size());
        assertTrue(c.state().stoppedByUser());
        assertEquals(List.of(), clock.pauses);
    }

    @Test
    void aStopWhileTheRestartWaitsEndsTheWait() throws Exception {
        ContainerStore.Container c = container("always", 0);
        clock.hold = true;
        FakeVm vm = new FakeVm(clock, Main.exits(1), Main.exits(0));
        Future<Integer> shim = supervise(c, vm);
        assertTrue(clock.pausing.await(30, TimeUnit.SECONDS), "the restart waits");

        ContainerState waiting = c.state();
        assertEquals(ContainerState.RESTARTING, waiting.status());
        assertTrue(waiting.isRunning() && waiting.isRestarting());
        assertEquals(1, waiting.exitCode());
        assertTrue(waiting.describe(Instant.now()).startsWith("Restarting (1) "), waiting.describe(Instant.now()));
        assertEquals(ProcessHandle.current().pid(), waiting.pid(), "its supervisor is alive");

        assertEquals(1, ShimProtocol.stop(c.shimSocket(), 10), "the status it last ended with");
        assertEquals(1, shim.get(30, TimeUnit.SECONDS));
        assertEquals(1, vm.boots.size(), "no second boot");
        ContainerState s = c.state();
        assertEquals(ContainerState.EXITED, s.status());
        assertTrue(s.stoppedByUser());
        assertEquals(List.of("die 1"), containerEvents(), "one die: the stop sent no signal, nothing ran");
    }

    @Test
    void noPolicyAndFailedBootsAreNotRestarted() throws Exception {
        ContainerStore.Container plain = container("no", 0);
        FakeVm vm = new FakeVm(clock, Main.exits(1), Main.exits(1));
        assertEquals(1, supervise(plain, vm).get(30, TimeUnit.SECONDS));
        assertEquals(1, vm.boots.size());

        // A VM that stops before its agent is ready: dockerd does not retry a start that failed either.
        ContainerStore.Container always = container("always", 0, "b");
        List<VmConfig> boots = new CopyOnWriteArrayList<>();
        Shim.VmRunner dead = config -> {
            boots.add(config);
            return 1;
        };
        assertEquals(125, supervise(always, dead).get(30, TimeUnit.SECONDS));
        assertEquals(1, boots.size());
        assertTrue(always.state().error().startsWith("the container's VM stopped before it was ready"), always.state().error());
    }

    private ContainerStore.Container container(String policy, int count) throws Exception {
        return container(policy, count, "a");
    }

    private ContainerStore.Container container(String policy, int count, String digit) throws Exception {
        String id = digit.repeat(64);
        ContainerConfig base = ContainerStoreTest.config(id, "box-" + digit, "2026-01-01T00:00:00Z");
        return store.create(ContainerStoreTest.with(base, base.labels(), new RestartPolicy(policy, count).validate()));
    }

    private static Shim.Boot boot(ContainerStore.Container c) throws ContainerException {
        return new Shim.Boot(Path.of("/boot/vmlinuz"), Path.of("/boot/initrd"), Path.of("/images/disk.img"),
                GuestNetwork.plan(c.config(), List.of(), null), List.of());
    }

    private Future<Integer> supervise(ContainerStore.Container c, Shim.VmRunner vm) throws ContainerException {
        Shim.Boot boot = boot(c);
        return CompletableFuture.supplyAsync(() -> {
            try {
                return Shim.run(store, c, boot, vm, false, false, null, events, () -> { }, clock);
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        }, r -> Thread.ofPlatform().daemon().start(r));
    }

    /** The container's events: die with its status, the others by their action. */
    private List<String> containerEvents() throws IOException {
        List<String> out = new ArrayList<>();
        for (Event e : events.read(0).events()) {
            if (e.type().equals(Event.CONTAINER)) {
                out.add(e.action().equals("die") ? "die " + e.attributes().get("exitCode")
                        : e.action().equals("kill") ? "kill " + e.attributes().get("signal") : e.action());
            }
        }
        return out;
    }

    /** Time that moves only when a fake VM runs; waits end at once, or (hold) when the user stops. */
    static final class FakeClock implements Shim.Clock {
        final AtomicLong nanos = new AtomicLong();
        final List<Duration> pauses = new CopyOnWriteArrayList<>();
        final CountDownLatch pausing = new CountDownLatch(1);
        volatile boolean hold;

        @Override
        public long nanoTime() {
            return nanos.get();
        }

        @Override
        public boolean pause(Duration delay, CompletableFuture<?> cancel) throws InterruptedException {
            pauses.add(delay);
            pausing.countDown();
            if (!hold) {
                return !cancel.isDone();
            }
            try {
                cancel.get(30, TimeUnit.SECONDS);
                return false;
            } catch (Exception e) {
                return true;
            }
        }
    }

    /**
     * A VM whose guest does what container_init and the agent do: READY on the host's port 1025,
     * then the agent on port 1024 (hello, the main process's exec, power-off). Each boot runs the
     * next scripted main process.
     */
    static final class FakeVm implements Shim.VmRunner {
        final FakeClock clock;
        final List<Main> script;
        final List<VmConfig> boots = new CopyOnWriteArrayList<>();
        final List<CountDownLatch> mains = new ArrayList<>();

        FakeVm(FakeClock clock, Main... script) {
            this.clock = clock;
            this.script = List.of(script);
            for (int i = 0; i < script.length; i++) {
                mains.add(new CountDownLatch(1));
            }
        }

        /** Waits until the main process of boot {@code n} (from 1) started. */
        void awaitMain(int n) throws InterruptedException {
            assertTrue(mains.get(n - 1).await(30, TimeUnit.SECONDS), "boot " + n + "'s main process did not start");
        }

        @Override
        public int run(VmConfig config) throws Exception {
            int boot = boots.size();
            boots.add(config);
            Main main = script.get(boot);
            CompletableFuture<Void> poweredOff = new CompletableFuture<>();
            try (ServerSocketChannel agent = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
                agent.bind(UnixDomainSocketAddress.of(config.vsockSocket()));
                Thread.ofVirtual().start(() -> {
                    while (true) {
                        SocketChannel ch;
                        try {
                            ch = agent.accept();
                        } catch (IOException e) {
                            return;
                        }
                        Thread.ofVirtual().start(() -> serve(ch, main, mains.get(boot), poweredOff));
                    }
                });
                try (SocketChannel ready = SocketChannel.open(UnixDomainSocketAddress.of(
                        Path.of(config.vsockSocket() + "_" + AgentProtocol.READY_PORT)))) {
                    ready.write(ByteBuffer.wrap("READY 1024\n".getBytes(StandardCharsets.US_ASCII)));
                }
                poweredOff.get(30, TimeUnit.SECONDS);
            } finally {
                Files.deleteIfExists(config.vsockSocket());
            }
            return 0;
        }

        private void serve(SocketChannel ch, Main main, CountDownLatch started, CompletableFuture<Void> poweredOff) {
            try (ch) {
                InputStream in = Channels.newInputStream(ch);
                StringBuilder line = new StringBuilder();
                for (int b; (b = in.read()) >= 0 && b != '\n'; ) {
                    line.append((char) b);
                }
                assertEquals("CONNECT " + AgentProtocol.CONTAINER_PORT, line.toString());
                ch.write(ByteBuffer.wrap("OK 1\n".getBytes(StandardCharsets.US_ASCII)));
                String types = AgentProtocol.CLIENT_TYPES + (char) AgentProtocol.POWEROFF;
                assertEquals(AgentProtocol.HELLO, AgentProtocol.read(ch, types).type());
                AgentProtocol.write(ch, AgentProtocol.HELLO_REPLY, AgentProtocol.PROTOCOL_VERSION.getBytes(StandardCharsets.US_ASCII));
                AgentProtocol.Frame request = AgentProtocol.read(ch, types);
                if (request.type() == AgentProtocol.POWEROFF) {
                    poweredOff.complete(null);
                    return;
                }
                assertEquals(AgentProtocol.EXEC, request.type());
                started.countDown();
                int status = main.exitCode();
                if (main.untilSignalled()) {
                    AgentProtocol.Frame f;
                    while ((f = AgentProtocol.read(ch, types)) != null && f.type() != AgentProtocol.SIGNAL) {
                        // stdin's end, resizes
                    }
                    status = f == null ? 137 : 128 + f.payload()[0];
                }
                clock.nanos.addAndGet(main.ranFor().toNanos());
                AgentProtocol.write(ch, AgentProtocol.EXIT, AgentProtocol.encodeExit(status));
            } catch (IOException e) {
                // the supervisor went
            }
        }
    }
}
