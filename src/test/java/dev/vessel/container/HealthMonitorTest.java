package dev.vessel.container;

import dev.vessel.image.HealthConfig;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * dockerd's health check rules, stepped through without waiting: the clock, the scheduler and the
 * checks are fakes, and each check says how long it takes and how it ends.
 */
class HealthMonitorTest {
    static final Instant T0 = Instant.parse("2026-03-01T12:00:00Z");

    /** A clock the test moves. */
    static final class FakeClock extends Clock {
        Instant now = T0;

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now;
        }
    }

    /** Tasks in the order they are due; {@link #step} moves the clock to the next and runs it. */
    static final class Steps implements HealthMonitor.Scheduler {
        final FakeClock clock;
        final Deque<Runnable> tasks = new ArrayDeque<>();
        final List<Duration> delays = new ArrayList<>();

        Steps(FakeClock clock) {
            this.clock = clock;
        }

        @Override
        public void schedule(Duration delay, Runnable task) {
            delays.add(delay);
            tasks.add(() -> {
                clock.now = clock.now.plus(delay);
                task.run();
            });
        }

        void step() {
            tasks.removeFirst().run();
        }
    }

    /** One scripted check: how long it runs, what it prints, how it ends (null: it outlasts its timeout). */
    record Script(Duration takes, String output, Integer exitCode) {}

    /** Checks as scripted, in order; records what ran and what was killed. */
    static final class Checks implements HealthMonitor.Runner {
        final FakeClock clock;
        final Deque<Object> scripts = new ArrayDeque<>();
        final List<List<String>> ran = new ArrayList<>();
        int killed;
        Runnable whileRunning = () -> { };

        Checks(FakeClock clock) {
            this.clock = clock;
        }

        Checks then(int exitCode) {
            return then(new Script(Duration.ofMillis(20), "", exitCode));
        }

        Checks then(Object script) {
            scripts.add(script);
            return this;
        }

        @Override
        public HealthMonitor.Check start(List<String> argv, OutputStream output) throws IOException {
            ran.add(argv);
            Object next = scripts.removeFirst();
            if (next instanceof IOException e) {
                throw e;
            }
            Script s = (Script) next;
            return new HealthMonitor.Check() {
                boolean ended;

                @Override
                public Optional<Integer> await(Duration timeout) throws IOException {
                    output.write(s.output().getBytes(StandardCharsets.UTF_8));
                    whileRunning.run();
                    if (s.exitCode() == null) {
                        clock.now = clock.now.plus(timeout);
                        return Optional.empty();
                    }
                    clock.now = clock.now.plus(s.takes());
                    ended = true;
                    return Optional.of(s.exitCode());
                }

                @Override
                public void close() {
                    if (!ended) {
                        killed++;
                        ended = true;
                    }
                }
            };
        }
    }

    final FakeClock clock = new FakeClock();
    final Steps steps = new Steps(clock);
    final Checks checks = new Checks(clock);
    final List<Health> updates = new ArrayList<>();
    final List<String> changes = new ArrayList<>();

    private HealthMonitor monitor(HealthConfig config) {
        return new HealthMonitor(config, Health.starting(null), T0, clock, checks, steps, (h, changed) -> {
            updates.add(h);
            if (changed) {
                changes.add(h.status());
            }
        }).start();
    }

    private static HealthConfig shell(String cmd, Duration interval, Duration timeout, Duration startPeriod,
                                      Duration startInterval, int retries) {
        return new HealthConfig(List.of("CMD-SHELL", cmd), interval.toNanos(), timeout.toNanos(), startPeriod.toNanos(),
                startInterval.toNanos(), retries);
    }

    private Health last() {
        return updates.getLast();
    }

    @Test
    void theFirstCheckComesAnIntervalAfterTheStartAndAPassIsHealthy() {
        HealthMonitor m = monitor(new HealthConfig(List.of("CMD", "/bin/check", "-q"), 0, 0, 0, 0, 0));
        assertEquals(List.of(Duration.ofSeconds(30)), steps.delays, "docker's default interval, before the first check too");
        assertTrue(updates.isEmpty());
        checks.then(new Script(Duration.ofMillis(250), "ok\n", 0));
        steps.step();
        assertEquals(List.of(List.of("/bin/check", "-q")), checks.ran, "CMD's argv as it is");
        assertEquals(Health.HEALTHY, last().status());
        assertEquals(List.of(Health.HEALTHY), changes, "a change of status");
        Health.Result r = last().log().getFirst();
        assertEquals(new Health.Result("2026-03-01T12:00:30Z", "2026-03-01T12:00:30.250Z", 0, "ok\n"), r);
        assertEquals(Duration.ofSeconds(30), steps.delays.getLast(), "the next an interval after the end");
        assertEquals(Health.HEALTHY, m.health().status());
    }

    @Test
    void retriesFailuresInARowMakeItUnhealthyAndOnePassMakesItHealthyAgain() {
        monitor(shell("test -f /ready", Duration.ofSeconds(10), Duration.ZERO, Duration.ZERO, Duration.ZERO, 3));
        checks.then(1).then(2).then(1).then(1).then(0).then(1);
        steps.step();
        assertEquals(List.of("/bin/sh", "-c", "test -f /ready"), checks.ran.getFirst(), "CMD-SHELL under /bin/sh -c");
        assertEquals(new Health(Health.STARTING, 1, last().log()), last());
        steps.step();
        assertEquals(Health.STARTING, last().status());
        assertEquals(2, last().failingStreak());
        steps.step();
        assertEquals(Health.UNHEALTHY, last().status(), "the third failure in a row");
        assertEquals(3, last().failingStreak());
        steps.step();
        assertEquals(4, last().failingStreak());
        steps.step();
        assertEquals(new Health(Health.HEALTHY, 0, last().log()), last(), "one pass recovers");
        steps.step();
        assertEquals(Health.HEALTHY, last().status(), "one failure of a healthy container is not enough");
        assertEquals(1, last().failingStreak());
        assertEquals(List.of(Health.UNHEALTHY, Health.HEALTHY), changes);
        assertEquals(List.of(2, 1, 1, 0, 1), last().log().stream().map(Health.Result::exitCode).toList(),
                "the last five results");
        assertTrue(steps.delays.stream().allMatch(d -> d.equals(Duration.ofSeconds(10))), steps.delays.toString());
    }

    @Test
    void failuresDuringTheStartPeriodDoNotCountUntilTheFirstPass() {
        // 20 s to start, checked every 2 s meanwhile; after that every 30 s.
        monitor(shell("check", Duration.ofSeconds(30), Duration.ZERO, Duration.ofSeconds(20), Duration.ofSeconds(2), 1));
        assertEquals(Duration.ofSeconds(2), steps.delays.getFirst(), "the start interval while starting");
        for (int i = 0; i < 5; i++) {
            checks.then(1);
            steps.step();
        }
        assertEquals(new Health(Health.STARTING, 0, last().log()), last(), "five failures at 2..10 s counted nothing");
        assertEquals(Duration.ofSeconds(2), steps.delays.getLast());
        checks.then(0);
        steps.step();
        assertEquals(Health.HEALTHY, last().status());
        assertEquals(Duration.ofSeconds(30), steps.delays.getLast(), "no longer starting: the interval");

        // Once it passed, a failure counts even within the start period.
        FakeClock c2 = new FakeClock();
        Steps s2 = new Steps(c2);
        Checks k2 = new Checks(c2).then(0).then(1);
        List<Health> seen = new ArrayList<>();
        new HealthMonitor(shell("check", Duration.ofSeconds(3), Duration.ZERO, Duration.ofSeconds(20), Duration.ofSeconds(2), 1),
                Health.starting(null), T0, c2, k2, s2, (h, changed) -> seen.add(h)).start();
        s2.step();
        s2.step();
        assertEquals(Health.UNHEALTHY, seen.getLast().status());
    }

    @Test
    void failuresCountOnceTheStartPeriodIsOver() {
        monitor(shell("check", Duration.ofSeconds(15), Duration.ZERO, Duration.ofSeconds(20), Duration.ofSeconds(12), 2));
        checks.then(1).then(1).then(1);
        steps.step(); // at 12 s: within the start period
        assertEquals(0, last().failingStreak());
        assertEquals(Duration.ofSeconds(12), steps.delays.getLast());
        steps.step(); // at 24 s: past it
        assertEquals(new Health(Health.STARTING, 1, last().log()), last());
        assertEquals(Duration.ofSeconds(15), steps.delays.getLast(), "the interval after the start period");
        steps.step();
        assertEquals(Health.UNHEALTHY, last().status());
    }

    @Test
    void aCheckPastItsTimeoutIsKilledAndFailsWithDockersWords() {
        monitor(shell("sleep 60", Duration.ofSeconds(5), Duration.ofSeconds(3), Duration.ZERO, Duration.ZERO, 1));
        checks.then(new Script(Duration.ZERO, "", null)).then(new Script(Duration.ZERO, "waiting...\n", null));
        steps.step();
        assertEquals(1, checks.killed);
        Health.Result r = last().log().getFirst();
        assertEquals(-1, r.exitCode());
        assertEquals("Health check exceeded timeout (3s)", r.output());
        assertEquals("2026-03-01T12:00:08Z", r.end(), "ended when it was killed, 3 s after its start");
        assertEquals(Health.UNHEALTHY, last().status());
        steps.step();
        assertEquals("Health check exceeded timeout (3s): waiting...\n", last().log().getLast().output());
        assertEquals(2, checks.killed);
    }

    @Test
    void aCheckThatCannotRunFailsWithWhy() {
        monitor(new HealthConfig(List.of("CMD", "/nope"), 0, 0, 0, 0, 0));
        checks.then(new IOException("cannot run /nope in the container: No such file or directory"));
        steps.step();
        assertEquals(-1, last().log().getFirst().exitCode());
        assertEquals("cannot run /nope in the container: No such file or directory", last().log().getFirst().output());
        assertEquals(1, last().failingStreak());
        assertEquals(2, steps.delays.size(), "and the checks go on");
    }

    @Test
    void theOutputKeptIsAt4KiBAndSaysItWasCut() {
        monitor(shell("yes", Duration.ofSeconds(1), Duration.ZERO, Duration.ZERO, Duration.ZERO, 0));
        checks.then(new Script(Duration.ZERO, "y".repeat(5000), 0)).then(new Script(Duration.ZERO, "y".repeat(4096), 0));
        steps.step();
        assertEquals("y".repeat(4096) + "...", last().log().getFirst().output());
        steps.step();
        assertEquals("y".repeat(4096), last().log().getLast().output(), "exactly 4 KiB is whole");
    }

    @Test
    void closingKillsTheCheckThatRunsAndDropsItsResult() {
        HealthMonitor m = monitor(shell("check", Duration.ofSeconds(1), Duration.ofSeconds(60), Duration.ZERO, Duration.ZERO, 0));
        checks.then(new Script(Duration.ZERO, "", null));
        checks.whileRunning = m::close; // the container stops while its check runs
        steps.step();
        assertEquals(1, checks.killed);
        assertTrue(updates.isEmpty(), "no result once stopped");
        assertEquals(1, steps.delays.size(), "and no next check");
        assertEquals(Health.STARTING, m.health().status());
    }

    @Test
    void noneIsNoCheck() {
        assertThrows(IllegalArgumentException.class, () -> monitor(HealthConfig.NONE));
    }
}
