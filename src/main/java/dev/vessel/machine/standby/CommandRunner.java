package dev.vessel.machine.standby;

import java.util.List;

/**
 * What a standby needs of the layer that runs Vessel commands: it warms up and runs them in its
 * own process, and does not parse them itself.
 */
public interface CommandRunner {
    /**
     * Boots a minimal guest through the VM code, as the start-up cache's training does: the classes
     * and downcalls a VM needs are then loaded and linked before a command arrives.
     */
    void warmUp() throws Exception;

    /**
     * Goes through what taking a command touches beyond the warm-up — parsing a `vm run` command
     * line and checking its arguments — without starting a VM. Output is discarded and failures
     * are ignored (the real run reports them).
     */
    void prime();

    /**
     * Runs {@code args}, a Vessel command line ("vm", "run", ...: a standby takes no other), in
     * this process with its stdio, and returns its exit status.
     */
    int run(List<String> args) throws Exception;
}
