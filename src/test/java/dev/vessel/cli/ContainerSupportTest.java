package dev.vessel.cli;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ContainerSupportTest {
    @Test
    void detachKeysFollowDockersSyntax() throws Exception {
        assertArrayEquals(new byte[] {16, 17}, ContainerSupport.detachSequence("ctrl-p,ctrl-q"));
        assertArrayEquals(new byte[] {'a', 3}, ContainerSupport.detachSequence("a,ctrl-c"));
        assertArrayEquals(new byte[0], ContainerSupport.detachSequence(""));
        assertThrows(UserError.class, () -> ContainerSupport.detachSequence("ctrl-1"));
        assertThrows(UserError.class, () -> ContainerSupport.detachSequence("shift-a"));
    }

    @Test
    void durationsReadLikeDockerPs() {
        assertEquals("Less than a second", ContainerSupport.human(Duration.ofMillis(300)));
        assertEquals("5 seconds", ContainerSupport.human(Duration.ofSeconds(5)));
        assertEquals("About a minute", ContainerSupport.human(Duration.ofSeconds(90)));
        assertEquals("12 minutes", ContainerSupport.human(Duration.ofMinutes(12)));
        assertEquals("About an hour", ContainerSupport.human(Duration.ofMinutes(70)));
        assertEquals("3 days", ContainerSupport.human(Duration.ofDays(3)));
    }

    @Test
    void signalNames() throws Exception {
        assertEquals(9, SignalNames.parse("KILL"));
        assertEquals(15, SignalNames.parse("sigterm"));
        assertEquals(10, SignalNames.parse("SIGUSR1"));
        assertEquals(2, SignalNames.parse("2"));
        assertThrows(UserError.class, () -> SignalNames.parse("NOPE"));
        assertThrows(UserError.class, () -> SignalNames.parse("65"));
    }
}
