package dev.vessel.cli;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The machine keeps STANDBY_SLOTS standby VMMs per build: their sockets, and how a standby tells its sibling from another build's. */
class StandbySlotsTest {
    @Test
    void slotsOfOneBuildShareTheBuildNameAndDifferFromAnotherBuild() {
        String s0 = MachineForwarding.standbySocket("abc123", 0);
        String s1 = MachineForwarding.standbySocket("abc123", 1);
        assertEquals("/run/vessel/vmm-abc123.sock", s0);
        assertEquals("/run/vessel/vmm-abc123.1.sock", s1);
        String name0 = s0.substring(s0.lastIndexOf('/') + 1);
        String name1 = s1.substring(s1.lastIndexOf('/') + 1);
        assertEquals(VmStandbyCommand.buildOf(name0), VmStandbyCommand.buildOf(name1));
        assertEquals("vmm-abc123", VmStandbyCommand.buildOf("vmm-abc123.1.pid"));
        assertNotEquals(VmStandbyCommand.buildOf("vmm-abc123.pid"), VmStandbyCommand.buildOf("vmm-def456.pid"));
    }

    @Test
    void theMachineCommandTriesEverySlotAndKeepsEveryOneFilled() {
        List<String> argv = MachineForwarding.machineCommand("/var/lib/vessel/host-files/x/vessel.jar", "abc123",
                List.of("vm", "run"));
        String script = argv.get(2);
        StringBuilder socks = new StringBuilder();
        for (int slot = 0; slot < MachineForwarding.STANDBY_SLOTS; slot++) {
            socks.append(slot == 0 ? "" : " ").append(MachineForwarding.standbySocket("abc123", slot));
        }
        String slots = "for sock in " + socks + "; do";
        // once to hand the command to a ready standby, once to start the missing ones, once more
        // after a first run's background training of the start-up cache
        assertEquals(3, script.split(java.util.regex.Pattern.quote(slots), -1).length - 1, script);
        assertTrue(script.contains("vm standby --socket $sock"), script);
        assertEquals(List.of("vm", "run"), argv.subList(argv.size() - 2, argv.size()));
        // a new build's cache creation drops other builds' stale caches, never its own
        assertTrue(script.contains("find /var/lib/vessel/aot -type f ! -name abc123.aot -mtime +14 -exec rm -f {} \\;"), script);
        // the training is detached, bounded, and one per build at a time; the command never waits for it
        assertTrue(script.contains("if mkdir /run/vessel/aot-abc123.training 2>/dev/null; then"), script);
        assertTrue(script.contains("timeout " + MachineForwarding.AOT_TRAINING_TIMEOUT_S + " env"), script);
        assertTrue(script.endsWith("exec /opt/java/bin/java " + String.join(" ", MachineForwarding.MACHINE_JVM_OPTIONS)
                + " -jar /var/lib/vessel/host-files/x/vessel.jar \"$@\""), script);
    }

    @Test
    void oneStarterClaimsASlotUntilTheClaimIsReleasedOrStale(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir)
            throws Exception {
        java.nio.file.Path sock = dir.resolve("vmm-abc123.1.sock");
        assertEquals(dir.resolve("vmm-abc123.1.starting"), VmStandbyCommand.claimOf(sock));
        assertTrue(VmStandbyCommand.claim(sock));
        // a second command during the warm-up starts no other standby
        org.junit.jupiter.api.Assertions.assertFalse(VmStandbyCommand.claim(sock));
        // a claim whose starter died long ago is taken over
        java.nio.file.Files.setLastModifiedTime(VmStandbyCommand.claimOf(sock), java.nio.file.attribute.FileTime.from(
                java.time.Instant.now().minus(java.time.Duration.ofMinutes(VmStandbyCommand.CLAIM_STALE_MINUTES + 1))));
        assertTrue(VmStandbyCommand.claim(sock));
        // the machine command takes the same claim, with mkdir, before it starts a standby
        String script = MachineForwarding.machineCommand("/j/vessel.jar", "abc123", List.of("vm", "run")).get(2);
        assertTrue(script.contains("c=${sock%.sock}.starting"), script);
        assertTrue(script.contains("&& mkdir $c 2>/dev/null; then"), script);
    }
}
