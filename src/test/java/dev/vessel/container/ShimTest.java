package dev.vessel.container;

import dev.vessel.events.Event;
import dev.vessel.events.EventJournal;
import dev.vessel.guest.agent.AgentProcess;
import dev.vessel.guest.agent.AgentProtocol;
import dev.vessel.image.HealthConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A supervisor's whole run with a fake VM: the test serves the VM's vsock socket and says READY,
 * relays each agent connection to the real vessel-agent on this host (over TCP), and ends the
 * "VM" when the supervisor asks for the power-off.
 */
class ShimTest {
    @TempDir
    Path dir;

    @Test
    void theHealthCheckRunsWithTheMainProcessAndStopsBeforeTheEndIsWritten() throws Exception {
        Path work = Files.createDirectories(dir.resolve("work"));
        // Each check counts itself; the third lets the main process end.
        String check = "n=$(cat " + work + "/n 2>/dev/null || echo 0); n=$((n+1)); echo $n > " + work + "/n; "
                + "[ $n -lt 3 ] || touch " + work + "/stop; echo check $n";
        HealthConfig health = new HealthConfig(List.of("CMD-SHELL", check), 1_000_000L, 0, 0, 0, 0);
        ContainerConfig base = ContainerStoreTest.config(ContainerStore.newId(), "checked", "2026-03-01T11:00:00Z");
        ContainerConfig cfg = new ContainerConfig(base.id(), base.name(), base.image(), base.imageId(), base.created(),
                "/bin/sh", List.of("-c", "until [ -e " + work + "/stop ]; do sleep 0.01; done"), base.env(),
                base.workingDir(), base.user(), base.hostname(), false, false, false, base.memoryBytes(), base.cpus(),
                base.diskBytes(), base.logLimits(), base.networking(), base.labels(), null, health);
        ContainerStore store = ContainerStore.open(dir.resolve("root/containers"));
        ContainerStore.Container c = store.create(cfg);
        EventJournal events = EventJournal.at(dir.resolve("events"), EventJournal.Limits.DEFAULT);
        Path file = Files.writeString(dir.resolve("not-a-kernel"), "");
        Shim.Boot boot = new Shim.Boot(file, file, file, GuestNetwork.plan(cfg, List.of(), null), List.of());

        int status;
        try (AgentProcess agent = AgentProcess.start(dir, Map.of())) {
            status = Shim.run(store, c, boot, vm -> fakeVm(c, agent), false, false, null, events, () -> { });
        }

        assertEquals(0, status, "the main process ended on the third check's mark");
        ContainerState s = c.state();
        assertEquals(ContainerState.EXITED, s.status(), "the end, not written over by a check");
        Health h = s.health();
        assertEquals(Health.UNHEALTHY, h.status(), "a stopped container's health, as docker's");
        assertEquals(0, h.failingStreak());
        // The third check's result may come after the stop, which drops it, as dockerd drops it.
        assertEquals(List.of("check 1\n", "check 2\n"), h.log().subList(0, 2).stream().map(Health.Result::output).toList());
        assertTrue(h.log().stream().allMatch(r -> r.exitCode() == 0), h.toString());
        List<String> actions = events.read(0).events().stream().map(Event::action).toList();
        assertEquals(List.of("health_status: healthy", "die"), actions);
    }

    /** The VM: ready at once, its agent the real one behind a relay, ended by the supervisor's power-off. */
    private static int fakeVm(ContainerStore.Container c, AgentProcess agent) throws Exception {
        CompletableFuture<Integer> poweredOff = new CompletableFuture<>();
        try (ServerSocketChannel vsock = ServerSocketChannel.open(StandardProtocolFamily.UNIX)
                .bind(UnixDomainSocketAddress.of(c.vsockSocket()))) {
            Thread.ofVirtual().start(() -> {
                try {
                    while (true) {
                        SocketChannel ch = vsock.accept();
                        Thread.ofVirtual().start(() -> relay(ch, agent, poweredOff));
                    }
                } catch (IOException e) {
                    // the VM ended
                }
            });
            try (SocketChannel ready = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                ready.connect(UnixDomainSocketAddress.of(c.vsockSocket() + "_" + AgentProtocol.READY_PORT));
                ready.write(ByteBuffer.wrap("READY 1024\n".getBytes(StandardCharsets.US_ASCII)));
            }
            return poweredOff.get(60, TimeUnit.SECONDS);
        }
    }

    /** One connection to the guest's agent: CONNECT, then frames to the real agent (a power-off ends the VM). */
    private static void relay(SocketChannel guest, AgentProcess agent, CompletableFuture<Integer> poweredOff) {
        try (guest; SocketChannel real = SocketChannel.open(agent.address())) {
            ByteBuffer one = ByteBuffer.allocate(1);
            do {
                one.clear();
                if (guest.read(one) < 0) {
                    return;
                }
            } while (one.get(0) != '\n');
            guest.write(ByteBuffer.wrap("OK 1\n".getBytes(StandardCharsets.US_ASCII)));
            Thread.ofVirtual().start(() -> {
                ByteBuffer b = ByteBuffer.allocate(1 << 16);
                try {
                    while (real.read(b.clear()) >= 0) {
                        guest.write(b.flip());
                    }
                    guest.close();
                } catch (IOException e) {
                    // either side went
                }
            });
            while (true) {
                AgentProtocol.Frame f = AgentProtocol.read(guest, AgentProtocol.CLIENT_TYPES + (char) AgentProtocol.POWEROFF);
                if (f == null) {
                    return; // the supervisor closed it: the agent kills what still runs
                }
                if (f.type() == AgentProtocol.POWEROFF) {
                    poweredOff.complete(0);
                    return;
                }
                AgentProtocol.write(real, f.type(), f.payload());
            }
        } catch (IOException e) {
            // either side went
        }
    }
}
