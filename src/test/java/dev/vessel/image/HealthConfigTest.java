package dev.vessel.image;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** docker's HealthConfig: Go's durations, the image's HEALTHCHECK, the merge with a container's flags, dockerd's limits. */
class HealthConfigTest {
    private static final long MS = 1_000_000L;
    private static final long S = 1_000_000_000L;

    @Test
    void goDurationsParseAsTimeParseDuration() {
        assertEquals(30 * S, GoDuration.parse("30s"));
        assertEquals(90 * S, GoDuration.parse("1m30s"));
        assertEquals(500 * MS, GoDuration.parse("500ms"));
        assertEquals(1500 * MS, GoDuration.parse("1.5s"));
        assertEquals(3600 * S + 1, GoDuration.parse("1h1ns"));
        assertEquals(2_000, GoDuration.parse("2us"));
        assertEquals(2_000, GoDuration.parse("2µs"));
        assertEquals(-10 * MS, GoDuration.parse("-10ms"));
        assertEquals(0, GoDuration.parse("0"));
        assertEquals(500 * MS, GoDuration.parse(".5s"));
        assertEquals("time: missing unit in duration \"5\"",
                assertThrows(IllegalArgumentException.class, () -> GoDuration.parse("5")).getMessage());
        assertEquals("time: unknown unit \"d\" in duration \"5d\"",
                assertThrows(IllegalArgumentException.class, () -> GoDuration.parse("5d")).getMessage());
        for (String bad : List.of("", "-", "s", "abc", ".s", "1s.")) {
            assertThrows(IllegalArgumentException.class, () -> GoDuration.parse(bad), bad);
        }
    }

    @Test
    void goDurationsPrintAsDurationString() {
        assertEquals("0s", GoDuration.format(0));
        assertEquals("1ms", GoDuration.format(MS));
        assertEquals("1.5µs", GoDuration.format(1_500));
        assertEquals("999ns", GoDuration.format(999));
        assertEquals("250ms", GoDuration.format(250 * MS));
        assertEquals("30s", GoDuration.format(30 * S));
        assertEquals("1.25s", GoDuration.format(1250 * MS));
        assertEquals("1m30s", GoDuration.format(90 * S));
        assertEquals("1h0m0s", GoDuration.format(3600 * S));
        assertEquals("2h3m4.000000005s", GoDuration.format(7384 * S + 5));
        assertEquals("-2s", GoDuration.format(-2 * S));
    }

    @Test
    void theContainersSettingsOverTheImagesFieldByField() {
        HealthConfig image = new HealthConfig(List.of("CMD", "check"), 10 * S, 2 * S, 5 * S, 0, 4);
        HealthConfig flags = new HealthConfig(null, 3 * S, 0, 0, 0, 0);
        assertEquals(new HealthConfig(List.of("CMD", "check"), 3 * S, 2 * S, 5 * S, 0, 4), HealthConfig.merge(flags, image),
                "--health-interval alone keeps the image's command");
        assertEquals(new HealthConfig(List.of("CMD-SHELL", "true"), 10 * S, 2 * S, 5 * S, 0, 4),
                HealthConfig.merge(new HealthConfig(List.of("CMD-SHELL", "true"), 0, 0, 0, 0, 0), image));
        assertEquals(HealthConfig.NONE.test(), HealthConfig.merge(HealthConfig.NONE, image).test(), "--no-healthcheck wins");
        assertEquals(image, HealthConfig.merge(null, image));
        assertEquals(flags, HealthConfig.merge(flags, null));
        assertNull(HealthConfig.merge(null, null));
    }

    @Test
    void theProbeIsTheArgvOrTheShellsAndNothingForNone() {
        assertEquals(List.of("/bin/check", "-q"), new HealthConfig(List.of("CMD", "/bin/check", "-q"), 0, 0, 0, 0, 0).probe());
        assertEquals(List.of("/bin/sh", "-c", "wget -q localhost || exit 1"),
                new HealthConfig(List.of("CMD-SHELL", "wget -q localhost || exit 1"), 0, 0, 0, 0, 0).probe());
        assertEquals(List.of(), HealthConfig.NONE.probe());
        assertEquals(List.of(), new HealthConfig(List.of(), 5 * S, 0, 0, 0, 0).probe(), "settings without a command");
        assertEquals(List.of(), new HealthConfig(List.of("CMD"), 0, 0, 0, 0, 0).probe());
        assertEquals(List.of(), new HealthConfig(List.of("HTTP", "/"), 0, 0, 0, 0, 0).probe(), "a type dockerd skips");
    }

    @Test
    void zerosAreDockersDefaults() {
        HealthConfig none = new HealthConfig(List.of("CMD", "x"), 0, 0, 0, 0, 0);
        assertEquals(30 * S, none.intervalOrDefault());
        assertEquals(30 * S, none.timeoutOrDefault());
        assertEquals(5 * S, none.startIntervalOrDefault());
        assertEquals(3, none.retriesOrDefault());
        HealthConfig set = new HealthConfig(List.of("CMD", "x"), 2 * S, 3 * S, 0, 4 * S, 7);
        assertEquals(List.of(2 * S, 3 * S, 4 * S, 7L), List.of(set.intervalOrDefault(), set.timeoutOrDefault(),
                set.startIntervalOrDefault(), (long) set.retriesOrDefault()));
    }

    @Test
    void dockerdsLimitsInItsWords() {
        assertNull(new HealthConfig(null, 0, 0, 0, 0, 0).invalidity());
        assertNull(new HealthConfig(null, MS, MS, MS, MS, 0).invalidity());
        assertEquals("Interval in Healthcheck cannot be less than 1ms", new HealthConfig(null, 999_999, 0, 0, 0, 0).invalidity());
        assertEquals("Interval in Healthcheck cannot be less than 1ms", new HealthConfig(null, -10 * MS, 0, 0, 0, 0).invalidity());
        assertEquals("Timeout in Healthcheck cannot be less than 1ms", new HealthConfig(null, 0, -1, 0, 0, 0).invalidity());
        assertEquals("Retries in Healthcheck cannot be negative", new HealthConfig(null, 0, 0, 0, 0, -1).invalidity());
        assertEquals("StartPeriod in Healthcheck cannot be less than 1ms", new HealthConfig(null, 0, 0, 5, 0, 0).invalidity());
        assertEquals("StartInterval in Healthcheck cannot be less than 1ms", new HealthConfig(null, 0, 0, 0, 5, 0).invalidity());
    }

    @Test
    void anImageConfigsHealthcheckIsReadWithGosZerosAndWrittenWithout() throws Exception {
        String config = """
                {"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]},
                 "config":{"Cmd":["sh"],"Healthcheck":{"Test":["CMD-SHELL","true"],"Interval":5000000000,
                   "Timeout":null,"Retries":2,"Future":1}}}
                """;
        ImageConfig c = ImageConfig.parse(config.getBytes(StandardCharsets.UTF_8), "config");
        assertEquals(new HealthConfig(List.of("CMD-SHELL", "true"), 5 * S, 0, 0, 0, 2), c.healthcheck());
        assertEquals("{\"Test\":[\"CMD-SHELL\",\"true\"],\"Interval\":5000000000,\"Retries\":2}",
                Json.MAPPER.writeValueAsString(c.healthcheck()), "omitempty, as dockerd writes it");
        assertEquals("{}", Json.MAPPER.writeValueAsString(new HealthConfig(null, 0, 0, 0, 0, 0)));
        assertNull(ImageConfig.parse("{\"rootfs\":{\"type\":\"layers\"}}".getBytes(StandardCharsets.UTF_8), "c").healthcheck());
    }

    @Test
    void importsHealthcheckChangeIsTheDockerfilesInstruction() throws Exception {
        assertEquals(new HealthConfig(List.of("CMD-SHELL", "curl -f http://localhost/ || exit 1"), 300 * S, 3 * S, 0, 0, 0),
                healthcheck("HEALTHCHECK --interval=5m --timeout=3s CMD curl -f http://localhost/ || exit 1"));
        assertEquals(new HealthConfig(List.of("CMD", "/bin/check", "--quick"), 0, 0, 10 * S, 2 * S, 5),
                healthcheck("HEALTHCHECK --start-period=10s --start-interval=2s --retries=5 CMD [\"/bin/check\", \"--quick\"]"));
        assertEquals(HealthConfig.NONE, healthcheck("healthcheck none"));
        assertEquals("HEALTHCHECK NONE takes no arguments", failure("HEALTHCHECK NONE x"));
        assertEquals("Unknown type \"TCP\" in HEALTHCHECK (try CMD)", failure("HEALTHCHECK TCP 80"));
        assertEquals("Missing command after HEALTHCHECK CMD", failure("HEALTHCHECK CMD"));
        assertEquals("Unknown flag: period", failure("HEALTHCHECK --period=1s CMD true"));
        assertEquals("--retries cannot be negative (-1)", failure("HEALTHCHECK --retries=-1 CMD true"));
        assertEquals("Interval \"interval\" cannot be less than 1ms", failure("HEALTHCHECK --interval=10us CMD true"));
        assertEquals("time: invalid duration \"soon\"", failure("HEALTHCHECK --timeout=soon CMD true"));
    }

    private static HealthConfig healthcheck(String change) throws ImageException {
        return RootfsImporter.applyChanges(ImageConfig.Config.EMPTY, List.of(change)).healthcheck();
    }

    private static String failure(String change) {
        return assertThrows(ImageException.class, () -> healthcheck(change)).getMessage();
    }
}
