package dev.vessel.it;

import dev.vessel.machine.HelperMachine;
import org.junit.jupiter.api.Test;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Finding the console of the machine a test began on, wherever machine starts have moved it. */
class MachineDeathRetryTest {
    private static MachineDeathRetry.Mark markOf(Path console) throws Exception {
        BasicFileAttributes a = Files.readAttributes(console, BasicFileAttributes.class);
        return new MachineDeathRetry.Mark(1, a.fileKey(), a.size(), Files.readAllBytes(console));
    }

    @Test
    void theSameMachinesConsoleIsConsoleLog(@TempDir Path dir) throws Exception {
        HelperMachine m = new HelperMachine(dir, dir.resolve("kernels"));
        Files.writeString(m.consoleLog(), "boot\n");
        MachineDeathRetry.Mark mark = markOf(m.consoleLog());
        Files.writeString(m.consoleLog(), "more\n", java.nio.file.StandardOpenOption.APPEND);
        assertEquals(Optional.of(m.consoleLog()), MachineDeathRetry.markedConsole(m, mark));
    }

    @Test
    void afterOneNewStartItIsThePreviousConsole(@TempDir Path dir) throws Exception {
        HelperMachine m = new HelperMachine(dir, dir.resolve("kernels"));
        Files.writeString(m.consoleLog(), "the machine the test began on\n");
        MachineDeathRetry.Mark mark = markOf(m.consoleLog());
        // What HelperMachine's start does with the last console, then the new machine's own.
        Files.move(m.consoleLog(), dir.resolve("console.previous.log"));
        Files.writeString(m.consoleLog(), "a new machine\n");
        assertEquals(Optional.of(dir.resolve("console.previous.log")), MachineDeathRetry.markedConsole(m, mark));
    }

    @Test
    void afterTwoNewStartsItIsGoneEvenIfItsInodeIsReused(@TempDir Path dir) throws Exception {
        HelperMachine m = new HelperMachine(dir, dir.resolve("kernels"));
        Files.writeString(m.consoleLog(), "the machine the test began on\n");
        MachineDeathRetry.Mark mark = markOf(m.consoleLog());
        Files.move(m.consoleLog(), dir.resolve("console.previous.log"));
        Files.writeString(m.consoleLog(), "a second machine\n");
        Files.move(m.consoleLog(), dir.resolve("console.previous.log"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        Files.writeString(m.consoleLog(), "a third machine\n");
        assertEquals(Optional.empty(), MachineDeathRetry.markedConsole(m, mark));
        // Same file key, other machine: a file system may hand the freed inode to a new console.
        MachineDeathRetry.Mark sameKey = new MachineDeathRetry.Mark(1,
                Files.readAttributes(m.consoleLog(), BasicFileAttributes.class).fileKey(), 0,
                "the machine the test began on\n".getBytes());
        assertEquals(Optional.empty(), MachineDeathRetry.markedConsole(m, sameKey));
    }

    @Test
    void aCrashCommandThatNeverReachedTheMachineMeansItWasGoneAlready() {
        assertTrue(MachineDeathRetryIT.diedBeforeThePlannedCrash(new VesselCli.Result(1, "",
                "vessel: lost the connection to the helper machine: vessel-agent did not answer the hello within PT30S\n")));
        assertFalse(MachineDeathRetryIT.diedBeforeThePlannedCrash(new VesselCli.Result(1, "",
                "vessel: the helper machine died under this command (its kernel: [    8.8] Kernel panic - not syncing: "
                        + "sysrq triggered crash); its console is ...\n")), "the planned crash itself");
        assertFalse(MachineDeathRetryIT.diedBeforeThePlannedCrash(new VesselCli.Result(0, "", "")),
                "a crash command that returned: Vessel did not tell the death, which the test must report");
        assertFalse(MachineDeathRetryIT.diedBeforeThePlannedCrash(null));
    }
}
