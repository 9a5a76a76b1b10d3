package dev.vessel.it;

import dev.vessel.machine.MachineConsoleTest;
import org.junit.jupiter.api.Test;

import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;

class MachineDeathTest {
    private static Optional<String> cause(String console, MachineDeath.Health health) {
        return MachineDeath.judge(console, health).map(MachineDeath::cause);
    }

    @Test
    void aFailureInAHealthyMachineIsVesselsAndStands() {
        assertEquals(Optional.empty(), cause("", MachineDeath.Health.ANSWERS));
        assertEquals(Optional.empty(), cause(MachineConsoleTest.HEALTHY_BOOT, MachineDeath.Health.ANSWERS));
    }

    @Test
    void aKernelDeathInTheConsoleCountsWhateverTheMachineSaysNow() {
        for (MachineDeath.Health h : MachineDeath.Health.values()) {
            assertEquals(Optional.of("its kernel: [   15.150443] Kernel panic - not syncing: sysrq triggered crash"),
                    cause(MachineConsoleTest.HEALTHY_BOOT + MachineConsoleTest.SYSRQ_CRASH, h), h.name());
            assertEquals(Optional.of("its kernel: [ 1893.271184] watchdog: BUG: soft lockup - CPU#1 stuck for 22s! [vcpu-0:2961]"),
                    cause(MachineConsoleTest.SOFT_LOCKUP, h), h.name());
        }
    }

    @Test
    void aMachineThatIsGoneOrSilentOrReplacedDiedEvenWithoutAWord() {
        assertEquals(Optional.of("its QEMU is gone, with no kernel error in its console"), cause("", MachineDeath.Health.GONE));
        assertEquals(Optional.of("it does not answer `machine exec -- true`"), cause("", MachineDeath.Health.NOT_ANSWERING));
        assertEquals(Optional.of("a command of the test found it stopped or not answering and started another; "
                + "no kernel error in its console"), cause("", MachineDeath.Health.REPLACED));
    }

    @Test
    void aHungTaskAloneIsNotADeathButNamesOne() {
        String hung = "[  726.310425] INFO: task java:2251 blocked for more than 120 seconds.\n";
        // A task waiting on a host service (an NBD export of Vessel's) is reported the same way.
        assertEquals(Optional.empty(), cause(hung, MachineDeath.Health.ANSWERS));
        assertEquals(Optional.of("it does not answer `machine exec -- true`; its kernel: "
                + "[  726.310425] INFO: task java:2251 blocked for more than 120 seconds."),
                cause(hung, MachineDeath.Health.NOT_ANSWERING));
    }
}
