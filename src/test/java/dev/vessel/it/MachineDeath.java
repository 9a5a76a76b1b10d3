package dev.vessel.it;

import dev.vessel.machine.MachineConsole;

import java.util.Optional;

/**
 * The judgement, after a test failed, of whether the helper machine itself died under it (its own
 * kernel, under emulation: docs/helper-machine.md) rather than Vessel failing in a healthy machine.
 * Only the first may be retried.
 *
 * @param cause what showed it, for the report: "its kernel: LINE", or how the machine was found
 */
record MachineDeath(String cause) {
    /** How the machine that ran the test is found after the failure. */
    enum Health {
        /** It runs and answers a trivial command. */
        ANSWERS,
        /** Its QEMU runs, but its agent does not answer in time. */
        NOT_ANSWERING,
        /** Its QEMU is gone. */
        GONE,
        /** Another machine runs in its place: a command of the test found it stopped or not answering and started a new one. */
        REPLACED
    }

    /**
     * @param consoleSince what the machine's console received while the test ran
     * @param health how the machine is found now
     * @return the death, or empty when the machine is healthy and the failure is Vessel's
     */
    static Optional<MachineDeath> judge(String consoleSince, Health health) {
        Optional<String> fatal = MachineConsole.fatalLine(consoleSince);
        if (fatal.isPresent()) {
            return Optional.of(new MachineDeath("its kernel: " + fatal.get()));
        }
        Optional<String> stuck = MachineConsole.stuckTaskLine(consoleSince).map(l -> "; its kernel: " + l);
        return switch (health) {
            case ANSWERS -> Optional.empty();
            case NOT_ANSWERING -> Optional.of(new MachineDeath("it does not answer `machine exec -- true`" + stuck.orElse("")));
            case GONE -> Optional.of(new MachineDeath("its QEMU is gone, with no kernel error in its console"));
            case REPLACED -> Optional.of(new MachineDeath(
                    "a command of the test found it stopped or not answering and started another; no kernel error in its console"));
        };
    }
}
