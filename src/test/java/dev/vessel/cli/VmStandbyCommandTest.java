package dev.vessel.cli;

import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class VmStandbyCommandTest {
    @Test
    void durationsParse() throws Exception {
        assertEquals(Duration.ofMinutes(30), VmStandbyCommand.parseDuration("--t", "30m", false));
        assertEquals(Duration.ofSeconds(90), VmStandbyCommand.parseDuration("--t", "90s", false));
        assertEquals(Duration.ofSeconds(90), VmStandbyCommand.parseDuration("--t", "90", false));
        assertEquals(Duration.ofMillis(1500), VmStandbyCommand.parseDuration("--t", "1500ms", false));
        assertEquals(Duration.ofHours(2), VmStandbyCommand.parseDuration("--t", "2h", false));
        assertEquals(Duration.ofDays(1), VmStandbyCommand.parseDuration("--t", "1d", false));
        assertEquals(Duration.ofMinutes(5), VmStandbyCommand.parseDuration("--t", "PT5M", false));
        assertEquals(Duration.ZERO, VmStandbyCommand.parseDuration("--t", "0", true));
        for (String bad : new String[] {"", "0", "0s", "-5m", "5 minutes", "m", "PT-1S", "99999999999s"}) {
            UserError e = assertThrows(UserError.class, () -> VmStandbyCommand.parseDuration("--idle-timeout", bad, false), bad);
            assertEquals(2, e.status());
            assertTrue(e.getMessage().contains("--idle-timeout"), e.getMessage());
        }
        assertThrows(UserError.class, () -> VmStandbyCommand.parseDuration("--t", "-1s", true));
    }
}
