package dev.vessel.cli;

import dev.vessel.arch.x86.MinimalKernel;
import dev.vessel.vmm.RunningVm;
import dev.vessel.vmm.VmBuilder;
import dev.vessel.vmm.VmConfig;
import dev.vessel.vmm.VmExit;
import picocli.CommandLine.Command;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * `vessel vm warm-up` (hidden): boots a minimal guest that powers off at once, through the same
 * code as `vm run`. It is the training run for the JVM's ahead-of-time cache, so later VMs start
 * without loading and linking the VMM's classes again.
 */
@Command(name = "warm-up", hidden = true, mixinStandardHelpOptions = true,
        description = "Boot a minimal guest that powers off at once (trains the start-up cache).")
final class VmWarmUpCommand implements Callable<Integer> {
    @Override
    public Integer call() throws Exception {
        Path dir = Files.createTempDirectory("vessel-warm-up");
        try {
            Path kernel = MinimalKernel.write(dir, "poweroff.bzImage", MinimalKernel.POWER_OFF);
            RunningVm vm = VmBuilder.start(new VmConfig(kernel, kernel, "", 1, VmConfig.MIN_MEMORY),
                    OutputStream.nullOutputStream());
            VmExit exit = vm.awaitExit();
            if (exit != VmExit.POWER_OFF) {
                throw new IllegalStateException("warm-up guest ended with " + exit + ": " + vm.exitReason());
            }
            return 0;
        } finally {
            Files.deleteIfExists(dir.resolve("poweroff.bzImage"));
            Files.deleteIfExists(dir);
        }
    }
}
