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
import java.time.Duration;
import java.util.concurrent.Callable;

/**
 * `vessel vm warm-up` (hidden): boots a minimal guest that powers off at once, through the same
 * code as `vm run`. It is the training run for the JVM's ahead-of-time cache, so later VMs start
 * without loading and linking the VMM's classes again.
 */
@Command(name = "warm-up", hidden = true, mixinStandardHelpOptions = true,
        description = "Boot a minimal guest that powers off at once (trains the start-up cache).")
final class VmWarmUpCommand implements Callable<Integer> {
    /**
     * The guest powers off within a second of guest time; a boot stuck under the helper machine's
     * emulation (docs/helper-machine.md) must not keep a standby or the cache's training waiting.
     */
    static final Duration DEADLINE = Duration.ofSeconds(120);

    @Override
    public Integer call() throws Exception {
        Path dir = Files.createTempDirectory("vessel-warm-up");
        try {
            Path kernel = MinimalKernel.write(dir, "poweroff.bzImage", MinimalKernel.POWER_OFF);
            RunningVm vm = VmBuilder.start(new VmConfig(kernel, kernel, "", 1, VmConfig.MIN_MEMORY),
                    OutputStream.nullOutputStream());
            Thread watchdog = Thread.ofPlatform().daemon().name("warm-up-deadline").start(() -> {
                try {
                    Thread.sleep(DEADLINE);
                    vm.stop(VmExit.VMM_ERROR, "the warm-up guest did not power off within " + DEADLINE.toSeconds() + " s");
                } catch (InterruptedException e) {
                    // the guest ended in time
                }
            });
            VmExit exit = vm.awaitExit();
            watchdog.interrupt();
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
