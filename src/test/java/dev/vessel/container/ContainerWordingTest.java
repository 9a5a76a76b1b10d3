package dev.vessel.container;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Docker's words for durations, states, signals and names. */
class ContainerWordingTest {
    @Test
    void durationsReadLikeDockerPs() {
        assertEquals("Less than a second", HumanDuration.of(Duration.ofMillis(300)));
        assertEquals("1 second", HumanDuration.of(Duration.ofSeconds(1)));
        assertEquals("5 seconds", HumanDuration.of(Duration.ofSeconds(5)));
        assertEquals("About a minute", HumanDuration.of(Duration.ofSeconds(90)));
        assertEquals("12 minutes", HumanDuration.of(Duration.ofMinutes(12)));
        assertEquals("About an hour", HumanDuration.of(Duration.ofMinutes(70)));
        assertEquals("3 days", HumanDuration.of(Duration.ofDays(3)));
        assertEquals("3 weeks", HumanDuration.of(Duration.ofDays(21)));
        assertEquals("2 years", HumanDuration.of(Duration.ofDays(800)));
        assertEquals(Duration.ZERO, HumanDuration.since("", Instant.now()), "no time yet");
    }

    @Test
    void statusLinesAreDockers() {
        Instant now = Instant.parse("2026-03-01T12:00:00Z");
        assertEquals("Created", ContainerState.created().describe(now));
        ContainerState exited = new ContainerState(ContainerState.EXITED, 0, 0, 3, "2026-03-01T11:00:00Z",
                "2026-03-01T11:57:00Z", "", 0, null, false);
        assertEquals("Exited (3) 3 minutes ago", exited.describe(now));
        ProcessHandle self = ProcessHandle.current();
        long start = self.info().startInstant().orElseThrow().toEpochMilli();
        ContainerState up = new ContainerState(ContainerState.RUNNING, self.pid(), start, 0, "2026-03-01T11:59:55Z", "", "", 0, null, false);
        assertEquals("Up 5 seconds", up.describe(now));
        ContainerState dead = new ContainerState(ContainerState.RUNNING, self.pid(), start - 3_600_000, 0,
                "2026-03-01T11:59:55Z", "", "", 0, null, false);
        assertTrue(dead.describe(now).startsWith("Exited (137) "), "a dead supervisor reads as killed");
    }

    @Test
    void signalNames() throws Exception {
        assertEquals(9, SignalNames.parse("KILL"));
        assertEquals(15, SignalNames.parse("sigterm"));
        assertEquals(10, SignalNames.parse("SIGUSR1"));
        assertEquals(2, SignalNames.parse("2"));
        assertEquals(64, SignalNames.parse("64"));
        for (String bad : new String[] {"NOPE", "65", "0", ""}) {
            ContainerException e = assertThrows(ContainerException.class, () -> SignalNames.parse(bad));
            assertEquals(ContainerException.Kind.INVALID, e.kind());
            assertEquals(125, e.status());
        }
    }

    @Test
    void namesFollowDockersSyntax() {
        for (String ok : new String[] {"a", "web-1", "my_app.v2", "0", "x".repeat(128)}) {
            assertTrue(ContainerNames.isValid(ok), ok);
        }
        for (String bad : new String[] {"", "-a", "_a", ".a", "a b", "a/b", "/a", "x".repeat(129), "é"}) {
            assertTrue(!ContainerNames.isValid(bad), bad);
        }
        assertTrue(!ContainerNames.isValid(null));
    }

    @Test
    void generatedNamesAreValidAndFree() {
        java.util.Random r = new java.util.Random(1);
        for (int i = 0; i < 50; i++) {
            String n = ContainerNames.generate(x -> false, r);
            assertTrue(n.matches("[a-z]+_[a-z]+") && ContainerNames.isValid(n), n);
        }
        String numbered = ContainerNames.generate(x -> !x.matches(".*[0-9]"), r);
        assertTrue(numbered.matches("[a-z]+_[a-z]+[0-9]+"), "after ten taken names a number is added: " + numbered);
        String last = ContainerNames.generate(x -> !x.startsWith("vessel_"), r);
        assertTrue(last.startsWith("vessel_") && ContainerNames.isValid(last), last);
    }
}
