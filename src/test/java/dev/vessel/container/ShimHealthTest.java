package dev.vessel.container;

import dev.vessel.events.Event;
import dev.vessel.events.EventJournal;
import dev.vessel.guest.agent.AgentClient;
import dev.vessel.guest.agent.AgentProcess;
import dev.vessel.image.HealthConfig;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The supervisor's side of the health check: what it keeps in the container's state and records
 * as events, with scripted checks; and checks run for real by the vessel-agent on this host (over
 * TCP), as the agent in a container's VM runs them.
 */
class ShimHealthTest {
    @TempDir
    static Path shared;
    static AgentProcess agent;

    @TempDir
    Path dir;
    ContainerStore store;
    EventJournal events;

    @BeforeAll
    static void startAgent() throws IOException {
        agent = AgentProcess.start(shared, Map.of());
    }

    @AfterAll
    static void stopAgent() {
        agent.close();
    }

    @BeforeEach
    void store() throws IOException {
        store = ContainerStore.open(dir.resolve("containers"));
        events = EventJournal.at(dir.resolve("events"), EventJournal.Limits.DEFAULT);
    }

    /** A container with {@code health} whose state says it runs (this process as its supervisor). */
    private ContainerStore.Container running(String name, HealthConfig health) throws Exception {
        ContainerConfig base = ContainerStoreTest.config(ContainerStore.newId(), name, "2026-03-01T11:00:00Z");
        ContainerConfig cfg = new ContainerConfig(base.id(), base.name(), base.image(), base.imageId(), base.created(),
                base.path(), base.args(), base.env(), base.workingDir(), base.user(), base.hostname(), base.tty(),
                base.openStdin(), base.autoRemove(), base.memoryBytes(), base.cpus(), base.diskBytes(), base.logLimits(),
                base.networking(), Map.of("team", "a"), null, health);
        ContainerStore.Container c = store.create(cfg);
        long start = ProcessHandle.current().info().startInstant().orElseThrow().toEpochMilli();
        ContainerState up = new ContainerState(ContainerState.RUNNING, ProcessHandle.current().pid(), start, 0,
                HealthMonitorTest.T0.toString(), "", "", 0, List.of(), false);
        c.writeState(ShimHealth.starting(cfg, up));
        return c;
    }

    private static HealthConfig shell(String command, int retries) {
        return new HealthConfig(List.of("CMD-SHELL", command), 1_000_000_000L, 0, 0, 0, retries);
    }

    @Test
    void aContainerStartsOverAsStartingWithItsOldResultsAndOneWithoutACheckHasNoHealth() {
        ContainerConfig plain = ContainerStoreTest.config("d".repeat(64), "plain", "2026-03-01T11:00:00Z");
        ContainerState up = ContainerState.created().running(1, 1, false);
        assertNull(ShimHealth.starting(plain, up).health());
        ContainerConfig checked = new ContainerConfig(plain.id(), plain.name(), plain.image(), plain.imageId(),
                plain.created(), plain.path(), plain.args(), plain.env(), plain.workingDir(), plain.user(), plain.hostname(),
                plain.tty(), plain.openStdin(), plain.autoRemove(), plain.memoryBytes(), plain.cpus(), plain.diskBytes(),
                plain.logLimits(), plain.networking(), plain.labels(), null, shell("true", 0));
        List<Health.Result> old = List.of(new Health.Result("a", "b", 1, "no"));
        Health restarted = ShimHealth.starting(checked, up.withHealth(new Health(Health.UNHEALTHY, 4, old))).health();
        assertEquals(new Health(Health.STARTING, 0, old), restarted, "docker keeps the log across starts");
        ContainerConfig off = new ContainerConfig(plain.id(), plain.name(), plain.image(), plain.imageId(),
                plain.created(), plain.path(), plain.args(), plain.env(), plain.workingDir(), plain.user(), plain.hostname(),
                plain.tty(), plain.openStdin(), plain.autoRemove(), plain.memoryBytes(), plain.cpus(), plain.diskBytes(),
                plain.logLimits(), plain.networking(), plain.labels(), null, HealthConfig.NONE);
        assertNull(ShimHealth.starting(off, up).health(), "--no-healthcheck: no health at all");
    }

    @Test
    void eachResultIsKeptInTheStateAndEachNewStatusIsAnEvent() throws Exception {
        ContainerStore.Container c = running("web", shell("check", 2));
        assertEquals("Up 5 seconds (health: starting)", c.state().describe(HealthMonitorTest.T0.plusSeconds(5)));
        HealthMonitorTest.FakeClock clock = new HealthMonitorTest.FakeClock();
        HealthMonitorTest.Steps steps = new HealthMonitorTest.Steps(clock);
        HealthMonitorTest.Checks checks = new HealthMonitorTest.Checks(clock).then(0).then(1).then(7).then(0);
        ShimHealth health = ShimHealth.start(c, events, checks, steps, clock);

        steps.step();
        ContainerState s = c.state();
        assertEquals(Health.HEALTHY, s.health().status());
        assertEquals(ContainerState.RUNNING, s.status(), "the rest of the state as it was");
        assertEquals("Up 5 minutes (healthy)", s.describe(HealthMonitorTest.T0.plusSeconds(300)));
        steps.step();
        assertEquals(new Health(Health.HEALTHY, 1, c.state().health().log()), c.state().health());
        steps.step();
        assertEquals(Health.UNHEALTHY, c.state().health().status());
        assertEquals("Up 2 seconds (unhealthy)", c.state().describe(HealthMonitorTest.T0.plusSeconds(2)));
        assertEquals(List.of(0, 1, 7), c.state().health().log().stream().map(Health.Result::exitCode).toList());

        List<Event> seen = events.read(0).events();
        assertEquals(List.of("health_status: healthy", "health_status: unhealthy"), seen.stream().map(Event::action).toList());
        assertEquals(Map.of("image", "busybox", "name", "web", "team", "a"), seen.getFirst().attributes());
        assertEquals(c.config().id(), seen.getFirst().actorId());

        health.close();
        steps.step(); // a check due after the stop does not run
        assertEquals(3, checks.ran.size());
        assertEquals(3, c.state().health().log().size(), "nothing written once closed");
        ContainerState ended = c.state().exited(0, null);
        assertEquals(Health.UNHEALTHY, ended.health().status());
        c.writeState(c.state().running(1, 1, false).withHealth(new Health(Health.HEALTHY, 0, List.of())));
        assertEquals(Health.UNHEALTHY, c.state().observed().health().status(),
                "a supervisor that died took its checks along: unhealthy, as docker says of a stopped container");
    }

    @Test
    void aStateThatNoLongerRunsIsNotWrittenOver() throws Exception {
        ContainerStore.Container c = running("gone", shell("check", 1));
        HealthMonitorTest.FakeClock clock = new HealthMonitorTest.FakeClock();
        HealthMonitorTest.Steps steps = new HealthMonitorTest.Steps(clock);
        HealthMonitorTest.Checks checks = new HealthMonitorTest.Checks(clock).then(0);
        ShimHealth.start(c, events, checks, steps, clock);
        c.writeState(c.state().exited(3, null));
        steps.step();
        assertEquals(ContainerState.EXITED, c.state().status());
        assertEquals(3, c.state().exitCode());
    }

    @Test
    void theAgentRunsTheCheckWithTheContainersEnvironmentAndBothStreams() throws Exception {
        ContainerConfig cfg = ContainerStoreTest.config("e".repeat(64), "envs", "2026-03-01T11:00:00Z");
        HealthMonitor.Runner runner = HealthMonitor.agentRunner(cfg, () -> AgentClient.connect(agent.address(), null));
        HealthMonitor.LimitedOutput out = new HealthMonitor.LimitedOutput();
        try (HealthMonitor.Check check = runner.start(List.of("/bin/sh", "-c", "echo A=$A; echo oops >&2; exit 3"), out)) {
            assertEquals(Optional.of(3), check.await(Duration.ofSeconds(30)));
        }
        String text = out.toString();
        assertTrue(text.contains("A=1\n") && text.contains("oops\n"), text);

        IOException missing = assertThrows(IOException.class, () -> {
            try (HealthMonitor.Check check = runner.start(List.of("/no/such/check"), new ByteArrayOutputStream())) {
                check.await(Duration.ofSeconds(30));
            }
        });
        assertTrue(missing.getMessage().contains("/no/such/check"), missing.getMessage());
    }

    @Test
    void aCheckThatIsClosedWhileItRunsIsKilledByTheAgent() throws Exception {
        ContainerConfig cfg = ContainerStoreTest.config("f".repeat(64), "slow", "2026-03-01T11:00:00Z");
        HealthMonitor.Runner runner = HealthMonitor.agentRunner(cfg, () -> AgentClient.connect(agent.address(), null));
        // The check prints its pid, then sleeps far past its timeout.
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        CountDownLatch line = new CountDownLatch(1);
        OutputStream out = new OutputStream() {
            @Override
            public synchronized void write(int b) {
                printed.write(b);
                if (b == '\n') {
                    line.countDown();
                }
            }
        };
        long pid;
        try (HealthMonitor.Check check = runner.start(List.of("/bin/sh", "-c", "echo $$; exec sleep 300"), out)) {
            assertEquals(Optional.empty(), check.await(Duration.ofMillis(1)), "still running at its timeout");
            assertTrue(line.await(30, TimeUnit.SECONDS), "it printed its pid");
            pid = Long.parseLong(printed.toString(StandardCharsets.UTF_8).strip());
        }
        ProcessHandle sleeper = ProcessHandle.of(pid).orElse(null);
        if (sleeper != null) {
            sleeper.onExit().get(30, TimeUnit.SECONDS);
        }
        assertTrue(sleeper == null || !sleeper.isAlive(), "the check's process is gone once it was closed");
    }

    @Test
    void theSupervisorsChecksRunThroughTheAgentUntilClosed() throws Exception {
        // An interval of 1 ms: the checks follow one another; the third starts only once the
        // second's result was kept.
        HealthConfig fast = new HealthConfig(List.of("CMD", "/bin/sh", "-c", "echo fine"), 1_000_000L, 0, 0, 0, 0);
        ContainerStore.Container c = running("live", fast);
        AtomicInteger dialed = new AtomicInteger();
        CountDownLatch third = new CountDownLatch(1);
        ShimHealth health = ShimHealth.start(c, events, () -> {
            if (dialed.incrementAndGet() == 3) {
                third.countDown();
            }
            return AgentClient.connect(agent.address(), null);
        });
        try {
            assertTrue(third.await(60, TimeUnit.SECONDS), "three checks within a minute");
        } finally {
            health.close();
        }
        Health h = c.state().health();
        assertEquals(Health.HEALTHY, h.status());
        assertTrue(h.log().size() >= 2, h.toString());
        assertEquals("fine\n", h.log().getFirst().output());
        Instant start = Instant.parse(h.log().getFirst().start());
        assertTrue(!start.isAfter(Instant.parse(h.log().getFirst().end())), h.toString());
        int kept = h.log().size();
        c.writeState(c.state().exited(0, null));
        assertEquals(kept, c.state().health().log().size());
        assertEquals(Health.UNHEALTHY, c.state().health().status(), "stopped: unhealthy, as docker's");
    }
}
