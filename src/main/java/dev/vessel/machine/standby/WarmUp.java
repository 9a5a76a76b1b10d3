package dev.vessel.machine.standby;

import dev.vessel.arch.x86.MinimalKernel;
import dev.vessel.vmm.ExitResult;
import dev.vessel.vmm.VirtualMachine;
import dev.vessel.vmm.VmConfig;
import dev.vessel.vmm.VmExit;

import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Boots a minimal guest that powers off at once, through the same code as any VM: the training
 * run for the JVM's ahead-of-time cache (`vm warm-up`), and a standby's warm-up, so later VMs start
 * without loading and linking the VMM's classes again.
 */
public final class WarmUp {
    private WarmUp() {}

    /**
     * The guest powers off within a second of guest time; a boot stuck under the helper machine's
     * emulation (docs/helper-machine.md) must not keep a standby or the cache's training waiting.
     */
    public static final Duration DEADLINE = Duration.ofSeconds(120);

    /** Boots and closes the warm-up VM; throws if it did not power off in time. */
    public static void run() throws Exception {
        Path dir = Files.createTempDirectory("vessel-warm-up");
        try {
            Path kernel = MinimalKernel.write(dir, "poweroff.bzImage", MinimalKernel.POWER_OFF);
            // With the devices a container's VM has (two disks, vsock, rng): the guest never
            // drives them, but making them loads and links their classes, which the start-up
            // cache then holds and a standby has ready (cold, they cost a container's VM ~0.3 s).
            Path image = Files.write(dir.resolve("image.img"), new byte[1 << 16]);
            Path rw = Files.write(dir.resolve("rw.img"), new byte[1 << 16]);
            VmConfig config = VmConfig.builder().kernel(kernel).initrd(kernel).cmdline("").memory(VmConfig.MIN_MEMORY)
                    .disk(image, true).disk(rw, false).vsock(dir.resolve("vsock.sock")).rng(true).build();
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
        } finally {
            for (String f : List.of("poweroff.bzImage", "image.img", "rw.img", "vsock.sock")) {
                Files.deleteIfExists(dir.resolve(f));
            }
            Files.deleteIfExists(dir);
        }
    }
}
