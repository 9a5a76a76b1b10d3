package dev.vessel.container;

import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Docker's restart policies: which ends restart, how many times, after which delay. */
class RestartPolicyTest {
    private static final Duration SHORT = Duration.ofSeconds(1);

    private static RestartPolicy policy(String flag) throws ContainerException {
        return RestartPolicy.parse(flag).validate();
    }

    @Test
    void whichEndsRestart() throws Exception {
        for (int code : new int[] {0, 1, 137}) {
            assertTrue(policy("always").restartsAfter(code, false, 100), "always: " + code);
            assertTrue(policy("unless-stopped").restartsAfter(code, false, 100), "unless-stopped: " + code);
            assertFalse(policy("no").restartsAfter(code, false, 0), "no: " + code);
            assertEquals(code != 0, policy("on-failure").restartsAfter(code, false, 100), "on-failure: " + code);
        }
        for (String p : new String[] {"always", "unless-stopped", "on-failure", "no"}) {
            assertFalse(policy(p).restartsAfter(1, true, 0), p + ": never after the user stopped it");
        }
        RestartPolicy three = policy("on-failure:3");
        assertTrue(three.restartsAfter(1, false, 2));
        assertFalse(three.restartsAfter(1, false, 3), "three restarts made");
        assertFalse(three.restartsAfter(0, false, 0), "a success is not a failure");
    }

    @Test
    void onFailureRestartsAtMostNTimes() throws Exception {
        RestartManager m = new RestartManager(policy("on-failure:2"));
        assertTrue(m.afterExit(1, false, SHORT).isPresent());
        assertTrue(m.afterExit(2, false, SHORT).isPresent());
        assertEquals(Optional.empty(), m.afterExit(3, false, SHORT), "the third failure is the last");
        assertEquals(2, m.restarts());

        RestartManager unlimited = new RestartManager(policy("on-failure:0"));
        for (int i = 0; i < 50; i++) {
            assertTrue(unlimited.afterExit(1, false, SHORT).isPresent(), "0 is no limit");
        }
        assertEquals(Optional.empty(), unlimited.afterExit(0, false, SHORT));
        assertEquals(Optional.empty(), new RestartManager(RestartPolicy.NONE).afterExit(1, false, SHORT));
        assertEquals(Optional.empty(), new RestartManager(policy("always")).afterExit(0, true, SHORT), "stopped by the user");
    }

    @Test
    void theDelayDoublesFrom100MillisecondsUpToAMinute() throws Exception {
        RestartManager m = new RestartManager(policy("always"));
        List<Long> delays = new ArrayList<>();
        for (int i = 0; i < 13; i++) {
            delays.add(m.afterExit(0, false, SHORT).orElseThrow().toMillis());
        }
        assertEquals(List.of(100L, 200L, 400L, 800L, 1_600L, 3_200L, 6_400L, 12_800L, 25_600L, 51_200L, 60_000L, 60_000L,
                60_000L), delays);
    }

    @Test
    void theDelayStartsAgainOnceTheProcessRanForTenSeconds() throws Exception {
        RestartManager m = new RestartManager(policy("unless-stopped"));
        assertEquals(Duration.ofMillis(100), m.afterExit(1, false, SHORT).orElseThrow());
        assertEquals(Duration.ofMillis(200), m.afterExit(1, false, SHORT).orElseThrow());
        assertEquals(Duration.ofMillis(400), m.afterExit(1, false, Duration.ofMillis(9_999)).orElseThrow(),
                "not quite 10 s");
        assertEquals(Duration.ofMillis(100), m.afterExit(1, false, Duration.ofSeconds(10)).orElseThrow(), "10 s: healthy");
        assertEquals(Duration.ofMillis(200), m.afterExit(1, false, SHORT).orElseThrow());
    }

    @Test
    void theServiceStartsAlwaysAndUnlessStoppedOnesTheUserDidNotStop() throws Exception {
        assertTrue(policy("always").startsWithService(false));
        assertTrue(policy("always").startsWithService(true), "dockerd starts an always container the user stopped");
        assertTrue(policy("unless-stopped").startsWithService(false));
        assertFalse(policy("unless-stopped").startsWithService(true));
        assertFalse(policy("on-failure:3").startsWithService(false));
        assertFalse(policy("no").startsWithService(false));
    }

    @Test
    void parsingAndCheckingInDockersWords() throws Exception {
        assertEquals(RestartPolicy.NONE, RestartPolicy.parse(null));
        assertEquals(RestartPolicy.NONE, RestartPolicy.parse(""));
        assertEquals(new RestartPolicy("on-failure", 0), RestartPolicy.parse("on-failure:"), "an empty count is none");
        assertEquals(RestartPolicy.NONE, new RestartPolicy("", 0).validate(), "the API's empty name is no");
        ContainerException e = assertThrows(ContainerException.class, () -> policy("sometimes"));
        assertEquals("invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', or "
                + "'unless-stopped'", e.getMessage());
        assertEquals(ContainerException.Kind.INVALID, e.kind());
        assertEquals(125, e.status());
        assertEquals("invalid restart policy: maximum retry count can only be used with 'on-failure'",
                assertThrows(ContainerException.class, () -> policy("no:1")).getMessage());
        assertEquals("invalid restart policy: maximum retry count cannot be negative",
                assertThrows(ContainerException.class, () -> policy("on-failure:-1")).getMessage());
        assertEquals("invalid restart policy format: maximum retry count must be an integer",
                assertThrows(ContainerException.class, () -> RestartPolicy.parse("always:x")).getMessage());
    }
}
