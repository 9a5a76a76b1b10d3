package dev.vessel.it;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.time.Instant;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Boots the stock Debian cloud kernel with the built-in initramfs, whose init reports what it sees
 * (CPUs, memory, date) and then powers off or reboots: the assertions are on what the guest did.
 */
@ExtendWith(HelperMachineExtension.class)
class VmBootIT {
    private static final Pattern FACTS = Pattern.compile(
            "vessel-facts: nproc=(\\d+) memtotal_kb=(\\d+) epoch=(\\d+) uptime=([0-9.]+)");

    static Matcher facts(VesselCli.Result r) {
        Matcher m = FACTS.matcher(r.stdout());
        assertTrue(m.find(), "the guest's init did not report its facts\n" + r);
        return m;
    }

    @Test
    void oneVcpuBootsFindsItsConsoleKnowsTheDateAndPowersOff() throws Exception {
        long before = Instant.now().getEpochSecond();
        VesselCli.Result r = VesselCli.run("vm", "run", "--memory", "256M");
        long after = Instant.now().getEpochSecond();
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.stdout().contains("Vessel micro-VM: Linux 6."), r.toString());
        Matcher m = facts(r);
        assertEquals(1, Integer.parseInt(m.group(1)), r.toString());
        long memKb = Long.parseLong(m.group(2));
        // 256 MiB minus what the kernel keeps for itself; far more than 128 MiB, never above 256 MiB.
        assertTrue(memKb > 128 * 1024 && memKb <= 256 * 1024, "MemTotal " + memKb + " kB\n" + r);
        long guestEpoch = Long.parseLong(m.group(3));
        assertTrue(guestEpoch >= before - 5 && guestEpoch <= after + 5,
                "guest date " + guestEpoch + " is not the host's (" + before + ".." + after + ")\n" + r);
        assertTrue(r.stdout().contains("reboot: Power down"), "the kernel did not power down through ACPI\n" + r);
        // Nested virtualization is hidden from the guest (CpuidConfig): no vmx or svm flag on any CPU.
        assertTrue(r.stdout().contains(" virt=0"), "the guest sees VMX or SVM\n" + r);
    }

    @Test
    void twoVcpusAreBroughtUpThroughTheMadt() throws Exception {
        VesselCli.Result r = VesselCli.run("vm", "run", "--cpus", "2", "--memory", "512M");
        assertEquals(0, r.status(), r.toString());
        Matcher m = facts(r);
        assertEquals(2, Integer.parseInt(m.group(1)), r.toString());
        long memKb = Long.parseLong(m.group(2));
        assertTrue(memKb > 384 * 1024 && memKb <= 512 * 1024, "MemTotal " + memKb + " kB\n" + r);
    }

    @Test
    void aGuestRebootEndsTheVmWithStatus3() throws Exception {
        VesselCli.Result r = VesselCli.run("vm", "run", "--append", "vessel.action=reboot");
        facts(r);
        assertEquals(3, r.status(), r.toString());
        assertTrue(r.stdout().contains("reboot: Restarting system"), r.toString());
    }
}
