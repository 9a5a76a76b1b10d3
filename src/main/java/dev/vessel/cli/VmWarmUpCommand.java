package dev.vessel.cli;

import dev.vessel.arch.x86.MinimalKernel;
import dev.vessel.vmm.ExitResult;
import dev.vessel.vmm.VirtualMachine;
import dev.vessel.vmm.VmConfig;
import dev.vessel.vmm.VmExit;
import picocli.CommandLine.Command;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
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
            // With the devices a container's VM has (two disks, vsock, rng): the guest never
            // drives them, but making them loads and links their classes, which the start-up
            // cache then holds and a standby has ready (cold, they cost a container's VM ~0.3 s).
            Path image = Files.write(dir.resolve("image.img"), new byte[1 << 16]);
            Path rw = Files.write(dir.resolve("rw.img"), new byte[1 << 16]);
            VmConfig config = new VmConfig(kernel, kernel, "", 1, VmConfig.MIN_MEMORY,
                    List.of(new VmConfig.Disk(image, true), new VmConfig.Disk(rw, false)), VmConfig.Console.SERIAL,
                    dir.resolve("vsock.sock"), null, true, false, null);
            try (VirtualMachine vm = VirtualMachine.create(config, OutputStream.nullOutputStream())) {
                vm.start();
                ExitResult exit = vm.awaitExit(DEADLINE).orElse(null);
                if (exit == null) {
                    throw new IllegalStateException("the warm-up guest did not power off within " + DEADLINE.toSeconds() + " s");
                }
                if (exit.exit() != VmExit.POWER_OFF) {
                    throw new IllegalStateException("warm-up guest ended with " + exit.exit() + ": " + exit.reason());
                }
            }
            return 0;
        } finally {
            for (String f : List.of("poweroff.bzImage", "image.img", "rw.img", "vsock.sock")) {
                Files.deleteIfExists(dir.resolve(f));
            }
            Files.deleteIfExists(dir);
        }
    }
}
