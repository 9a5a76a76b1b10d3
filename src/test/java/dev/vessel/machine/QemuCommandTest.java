package dev.vessel.machine;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.Collections;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** The flags that make a dead machine end QEMU at once (docs/helper-machine.md). */
class QemuCommandTest {
    private static List<String> argv() {
        Path p = Path.of("x");
        return new QemuCommand(p, p, p, p, p, p, p, 2, 1L << 30, 1024, 1025).argv();
    }

    @Test
    void aPanicEndsQemuAndASoftLockupPanicsAfterAMinute() {
        List<String> a = argv();
        String cmdline = a.get(a.indexOf("-append") + 1);
        assertTrue(cmdline.contains(" panic=-1 ") && cmdline.contains(" softlockup_panic=1 ")
                && cmdline.contains(" watchdog_thresh=30 "), cmdline);
        assertTrue(a.contains("-no-reboot"), a.toString());
        assertTrue(Collections.indexOfSubList(a, List.of("-device", "pvpanic")) >= 0, a.toString());
        assertTrue(Collections.indexOfSubList(a, List.of("-action", "panic=exit-failure")) >= 0, a.toString());
    }

    @Test
    void theMachineHasTapDevicesForTheVmsNetworkCards() {
        assertTrue(MachineImage.KERNEL_MODULES.contains("tun"), MachineImage.KERNEL_MODULES.toString());
    }

    @Test
    void theMachineLoadsThePanicDriverAfterItsCore() {
        List<String> m = MachineImage.KERNEL_MODULES;
        assertTrue(m.indexOf("pvpanic") >= 0 && m.indexOf("pvpanic") < m.indexOf("pvpanic-mmio"), m.toString());
    }
}
