package dev.vessel.machine.standby;

import dev.vessel.machine.MachineCommandScript;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A standby's files: how a standby tells its build's other slots from another build's, and the slot claim. */
class StandbySlotTest {
    @Test
    void slotsOfOneBuildShareTheBuildNameAndDifferFromAnotherBuild() {
        String s0 = MachineCommandScript.standbySocket("abc123", 0);
        String s1 = MachineCommandScript.standbySocket("abc123", 1);
        assertEquals("/run/vessel/vmm-abc123.sock", s0);
        assertEquals("/run/vessel/vmm-abc123.1.sock", s1);
        String name0 = s0.substring(s0.lastIndexOf('/') + 1);
        String name1 = s1.substring(s1.lastIndexOf('/') + 1);
        assertEquals(StandbySlot.buildOf(name0), StandbySlot.buildOf(name1));
        assertEquals("vmm-abc123", StandbySlot.buildOf("vmm-abc123.1.pid"));
        assertNotEquals(StandbySlot.buildOf("vmm-abc123.pid"), StandbySlot.buildOf("vmm-def456.pid"));
    }

    @Test
    void oneStarterClaimsASlotUntilTheClaimIsReleasedOrStale(@TempDir Path dir) throws Exception {
        Path sock = dir.resolve("vmm-abc123.1.sock");
        assertEquals(dir.resolve("vmm-abc123.1.starting"), StandbySlot.claimOf(sock));
        assertTrue(StandbySlot.claim(sock));
        // a second command during the warm-up starts no other standby
        assertFalse(StandbySlot.claim(sock));
        // a claim whose starter died long ago is taken over
        Files.setLastModifiedTime(StandbySlot.claimOf(sock), FileTime.from(
                Instant.now().minus(Duration.ofMinutes(StandbySlot.CLAIM_STALE_MINUTES + 1))));
        assertTrue(StandbySlot.claim(sock));
        assertFalse(StandbySlot.claim(sock));
        StandbySlot.releaseClaim(StandbySlot.claimOf(sock));
        assertTrue(StandbySlot.claim(sock));
    }

    @Test
    void aSlotIsASocketNameEndingInSockWithItsPidFileAndClaimBeside(@TempDir Path dir) {
        StandbySlot slot = StandbySlot.of(dir.resolve("vmm-abc123.sock"));
        assertEquals(dir.resolve("vmm-abc123.pid"), slot.pidFile);
        assertEquals(dir.resolve("vmm-abc123.starting"), slot.claim);
        assertFalse(slot.liveStandby(), "no pid file");
        for (String bad : new String[] {"vmm.socket", ".sock", "vmm"}) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> StandbySlot.of(dir.resolve(bad)));
            assertTrue(e.getMessage().startsWith("must name a .sock file"), e.getMessage());
        }
        Path tooLong = dir.resolve("x".repeat(100) + ".sock");
        assertThrows(IllegalArgumentException.class, () -> StandbySlot.of(tooLong));
    }
}
