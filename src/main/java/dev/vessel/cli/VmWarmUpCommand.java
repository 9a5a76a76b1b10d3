package dev.vessel.cli;

import dev.vessel.machine.standby.WarmUp;
import picocli.CommandLine.Command;

import java.io.OutputStream;
import java.io.PrintStream;
import java.util.concurrent.Callable;

/**
 * `vessel vm warm-up` (hidden): the training run for the JVM's ahead-of-time cache in the helper
 * machine. It boots the minimal guest of {@link WarmUp} twice: through the VM API, and as a
 * `vm run` command line that a fresh VMM would get (parsing, checks, the launcher, the console),
 * so the cache holds what a cold `vm run` loads before its VM starts.
 */
@Command(name = "warm-up", hidden = true, mixinStandardHelpOptions = true,
        description = "Boot a minimal guest that powers off at once (trains the start-up cache).")
final class VmWarmUpCommand implements Callable<Integer> {
    @Override
    public Integer call() throws Exception {
        WarmUp.run();
        PrintStream out = System.out;
        try {
            System.setOut(new PrintStream(OutputStream.nullOutputStream()));
            int status = WarmUp.withFiles(files -> VmRunCommand.runReceived(files.vmRunOptions()));
            if (status != 0) {
                throw new IllegalStateException("the warm-up `vm run` ended with status " + status);
            }
        } finally {
            System.setOut(out);
        }
        return 0;
    }
}
