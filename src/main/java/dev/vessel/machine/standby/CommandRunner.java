package dev.vessel.machine.standby;

import java.util.List;

/**
 * What a standby needs of the layer that parses Vessel's command lines: a standby takes `vm run`
 * command lines and runs them in its own process, without parsing them itself.
 */
public interface CommandRunner {
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
