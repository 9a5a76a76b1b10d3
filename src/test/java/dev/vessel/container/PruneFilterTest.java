package dev.vessel.container;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The prune verbs' filters and the times they take, read as dockerd reads them. */
class PruneFilterTest {
    static final Instant NOW = Instant.parse("2026-03-10T12:00:00Z");
    static final ZoneId ZONE = ZoneOffset.ofHours(2);

    private static Instant at(String value) {
        return DockerTimestamp.parse(value, NOW, ZONE);
    }

    private static String refused(String value) {
        return assertThrows(IllegalArgumentException.class, () -> at(value)).getMessage();
    }

    @Test
    void goDurationsCountBackFromNow() {
        assertEquals(NOW.minus(Duration.ofHours(24)), at("24h"));
        assertEquals(NOW.minus(Duration.ofMinutes(90)), at("1h30m"));
        assertEquals(NOW.minus(Duration.ofMillis(1500)), at("1.5s"));
        assertEquals(NOW.minus(Duration.ofNanos(2500)), at("2.5us"));
        assertEquals(NOW.plus(Duration.ofMinutes(10)), at("-10m"), "a negative duration is in the future");
        assertNull(DockerTimestamp.goDuration("10"), "a number needs a unit");
        assertNull(DockerTimestamp.goDuration("1x"));
        assertNull(DockerTimestamp.goDuration("h"));
        assertNull(DockerTimestamp.goDuration(".h"));
    }

    @Test
    void timesWithAndWithoutZonesDatesAndUnixSeconds() {
        assertEquals(Instant.parse("2026-01-02T03:04:05Z"), at("2026-01-02T03:04:05Z"));
        assertEquals(Instant.parse("2026-01-02T01:04:05Z"), at("2026-01-02T03:04:05+02:00"));
        assertEquals(Instant.parse("2026-01-02T03:04:05.250Z"), at("2026-01-02T03:04:05.25Z"));
        assertEquals(Instant.parse("2026-01-02T01:04:05Z"), at("2026-01-02T03:04:05"), "no zone: the server's");
        assertEquals(Instant.parse("2026-01-02T01:04:00Z"), at("2026-01-02T03:04"));
        assertEquals(Instant.parse("2026-01-02T01:00:00Z"), at("2026-01-02T03"));
        assertEquals(Instant.parse("2026-01-01T22:00:00Z"), at("2026-01-02"), "a date is its midnight there");
        assertEquals(Instant.ofEpochSecond(1767225600), at("1767225600"));
        assertEquals(Instant.ofEpochSecond(1767225600, 500_000_000), at("1767225600.5"));
        assertEquals(Instant.EPOCH, at("0"), "0 is a time, not a duration");
    }

    @Test
    void whatIsNoTimeIsRefusedInDockerdsWords() {
        assertEquals("failed to parse value as time or duration: invalid seconds \"soon\": invalid syntax", refused("soon"));
        assertEquals("failed to parse value as time or duration: value is empty", refused(" "));
        assertTrue(refused("2026-13-01").startsWith("parsing time \"2026-13-01\""), refused("2026-13-01"));
        assertEquals("failed to parse value as time or duration: invalid nanoseconds: invalid character 'x' at position 1",
                refused("12.5x"));
    }

    @Test
    void labelsAllHoldAndLabelNotSparesWhatHasThemAll() {
        Map<String, String> labels = Map.of("env", "test", "team", "");
        assertTrue(PruneFilter.hasAll(List.of("env", "env=test", "team="), labels));
        assertFalse(PruneFilter.hasAll(List.of("env=prod"), labels));
        assertFalse(PruneFilter.hasAll(List.of("env", "other"), labels));
        assertTrue(PruneFilter.hasAll(List.of(), labels));

        PruneFilter keepTest = PruneFilter.forContainers(Map.of("label!", List.of("env=test")), NOW);
        assertFalse(keepTest.matches(NOW, labels));
        assertTrue(keepTest.matches(NOW, Map.of("env", "prod")));
        PruneFilter both = PruneFilter.forContainers(Map.of("label", List.of("team"), "label!", List.of("env=test", "x")), NOW);
        assertTrue(both.matches(NOW, labels), "label! spares only what has every one of its labels");
        assertFalse(both.matches(NOW, Map.of("env", "test")), "no team label");
    }

    @Test
    void untilKeepsWhatIsNewerAndWhatHasNoDate() {
        PruneFilter f = PruneFilter.forContainers(Map.of("until", List.of("1h")), NOW);
        assertTrue(f.matches(NOW.minus(Duration.ofHours(2)), Map.of()));
        assertFalse(f.matches(NOW.minus(Duration.ofMinutes(30)), Map.of()));
        assertFalse(f.matches(null, Map.of()), "an image without a date is kept, as dockerd keeps it");
        assertTrue(PruneFilter.NONE.matches(null, Map.of()));
    }

    @Test
    void badFiltersAreDockerdsErrors() {
        assertEquals("invalid filter 'name'", assertThrows(IllegalArgumentException.class,
                () -> PruneFilter.forContainers(Map.of("name", List.of("x")), NOW)).getMessage());
        assertEquals("invalid filter 'dangling'", assertThrows(IllegalArgumentException.class,
                () -> PruneFilter.forContainers(Map.of("dangling", List.of("true")), NOW)).getMessage(),
                "dangling is image prune's");
        assertEquals("more than one until filter specified", assertThrows(IllegalArgumentException.class,
                () -> PruneFilter.forContainers(Map.of("until", List.of("1h", "2h")), NOW)).getMessage());
        assertEquals("failed to parse value as time or duration: invalid seconds \"x\": invalid syntax",
                assertThrows(IllegalArgumentException.class,
                        () -> PruneFilter.forContainers(Map.of("until", List.of("x")), NOW)).getMessage());
        assertEquals("invalid value for 'until' filter: failed to parse value as time or duration: invalid seconds \"x\": "
                + "invalid syntax", assertThrows(IllegalArgumentException.class,
                () -> PruneFilter.forImages(Map.of("until", List.of("x")), NOW)).getMessage());
        assertEquals("invalid filter 'dangling=[true false]'", assertThrows(IllegalArgumentException.class,
                () -> PruneFilter.forImages(Map.of("dangling", List.of("true", "false")), NOW)).getMessage());
        assertEquals("invalid filter 'dangling=[maybe]'", assertThrows(IllegalArgumentException.class,
                () -> PruneFilter.danglingOnly(Map.of("dangling", List.of("maybe")))).getMessage());
        assertTrue(PruneFilter.danglingOnly(Map.of()));
        assertFalse(PruneFilter.danglingOnly(Map.of("dangling", List.of("0"))));
    }
}
