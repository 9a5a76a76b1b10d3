package dev.vessel.events;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.time.ZoneId;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The times docker's --since and --until take. */
class EventTimeTest {
    private static final Instant NOW = Instant.parse("2026-12-07T12:00:00Z");
    private static final ZoneId PARIS = ZoneId.of("Europe/Paris");

    private static Instant parse(String v) {
        return EventTime.parse(v, NOW, PARIS);
    }

    @Test
    void unixSecondsAsTheDockerCliSendsThem() {
        assertEquals(Instant.ofEpochSecond(1796644800), parse("1796644800"));
        assertEquals(Instant.ofEpochSecond(1796644800, 500_000_000), parse("1796644800.5"));
        assertEquals(Instant.ofEpochSecond(1796644800, 123_456_789), parse("1796644800.123456789"));
        assertEquals(Instant.EPOCH, parse("0"), "0 is the epoch, not a duration");
    }

    @Test
    void rfc3339TimesWithAZoneOrInTheLocalOne() {
        assertEquals(Instant.parse("2026-12-07T10:00:00Z"), parse("2026-12-07T10:00:00Z"));
        assertEquals(Instant.parse("2026-12-07T10:00:00.25Z"), parse("2026-12-07T10:00:00.25Z"));
        assertEquals(Instant.parse("2026-12-07T09:00:00Z"), parse("2026-12-07T10:00:00+01:00"));
        assertEquals(Instant.parse("2026-12-07T15:00:00Z"), parse("2026-12-07T10:00:00-05:00"));
        assertEquals(Instant.parse("2026-12-07T09:00:00Z"), parse("2026-12-07T10:00:00"), "Paris is UTC+1 in December");
        assertEquals(Instant.parse("2026-12-07T09:30:00Z"), parse("2026-12-07T10:30"));
        assertEquals(Instant.parse("2026-12-07T09:00:00Z"), parse("2026-12-07T10"));
        assertEquals(Instant.parse("2026-12-06T23:00:00Z"), parse("2026-12-07"));
        assertEquals(Instant.parse("2026-12-07T00:00:00Z"), parse("2026-12-07Z"));
    }

    @Test
    void goDurationsCountBackFromNow() {
        assertEquals(NOW.minusSeconds(600), parse("10m"));
        assertEquals(NOW.minusSeconds(5400), parse("1h30m"));
        assertEquals(NOW.minusSeconds(5400), parse("1.5h"));
        assertEquals(NOW.minusMillis(1500), parse("1s500ms"));
        assertEquals(NOW.plusSeconds(3600), parse("-1h"), "a negative duration is ahead");
    }

    @Test
    void anythingElseIsDockersParseError() {
        for (String bad : new String[] {"yesterday", "10x", "2026-13-01", "h", "1..5"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> parse(bad), bad);
            assertEquals("failed to parse value as time or duration: \"" + bad + "\"", e.getMessage());
        }
    }
}
