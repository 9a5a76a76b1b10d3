package dev.vessel.machine;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What a command that lost its connection says about the machine: a process stands in for QEMU. */
class HelperMachineStoppedTest {
    @Test
    void aMachineWhoseQemuEndedDiedAndItsKernelSaysWhy(@TempDir Path dir) throws Exception {
        HelperMachine m = new HelperMachine(dir, dir.resolve("kernels"));
        Files.writeString(m.consoleLog(), MachineConsoleTest.HEALTHY_BOOT + MachineConsoleTest.SYSRQ_CRASH);
        Process qemu = new ProcessBuilder("true").start();
        qemu.waitFor();
        Optional<String> why = m.stoppedUnder(new HelperMachine.Endpoint(qemu.pid(), 1, "t"), Duration.ofSeconds(1));
        assertEquals(Optional.of("the helper machine died under this command (its kernel: [   15.150443] Kernel panic - not "
                + "syncing: sysrq triggered crash); its console is " + m.consoleLog()
                + " (kept as console.previous.log when the next machine starts)"), why);
    }

    @Test
    void aMachineThatEndedSilentlySaysSo(@TempDir Path dir) throws Exception {
        HelperMachine m = new HelperMachine(dir, dir.resolve("kernels"));
        Files.writeString(m.consoleLog(), MachineConsoleTest.HEALTHY_BOOT);
        Process qemu = new ProcessBuilder("true").start();
        qemu.waitFor();
        String why = m.stoppedUnder(new HelperMachine.Endpoint(qemu.pid(), 1, "t"), Duration.ofSeconds(1)).orElseThrow();
        assertTrue(why.startsWith("the helper machine stopped under this command, with no kernel error in its console"), why);
    }

    @Test
    void whileQemuRunsTheConnectionWasLostSomeOtherWay(@TempDir Path dir) throws Exception {
        HelperMachine m = new HelperMachine(dir, dir.resolve("kernels"));
        Files.writeString(m.consoleLog(), MachineConsoleTest.HEALTHY_BOOT + MachineConsoleTest.SYSRQ_CRASH);
        Process qemu = new ProcessBuilder("sleep", "60").start();
        try {
            assertEquals(Optional.empty(),
                    m.stoppedUnder(new HelperMachine.Endpoint(qemu.pid(), 1, "t"), Duration.ofMillis(200)));
        } finally {
            qemu.destroy();
        }
    }
}
