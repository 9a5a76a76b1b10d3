package dev.vessel.cli;

import dev.vessel.machine.standby.WarmUp;
import picocli.CommandLine.Command;

import java.util.concurrent.Callable;

/**
 * `vessel vm warm-up` (hidden): boots a minimal guest that powers off at once ({@link WarmUp}), the
 * training run for the JVM's ahead-of-time cache in the helper machine.
 */
@Command(name = "warm-up", hidden = true, mixinStandardHelpOptions = true,
        description = "Boot a minimal guest that powers off at once (trains the start-up cache).")
final class VmWarmUpCommand implements Callable<Integer> {
    @Override
    public Integer call() throws Exception {
        WarmUp.run();
        return 0;
    }
}
