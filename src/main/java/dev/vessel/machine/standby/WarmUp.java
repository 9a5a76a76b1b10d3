package dev.vessel.machine.standby;

import dev.vessel.arch.x86.MinimalKernel;
import dev.vessel.sys.Seccomp;
import dev.vessel.vmm.ExitResult;
import dev.vessel.vmm.VirtualMachine;
import dev.vessel.vmm.VmConfig;
import dev.vessel.vmm.VmExit;

import java.io.OutputStream;
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

    /** The warm-up guest's files in a temporary folder: the kernel (which is its initrd too) and two small disks. */
    public record Files(Path kernel, Path imageDisk, Path rwDisk, Path vsockSocket) {
        /**
         * The same VM as `vm run` options (after "vm run"), for the host's own KVM. Without the
         * sandbox: a warm-up's process starts programs after its VM (the JVM assembling the
         * start-up cache at exit, a standby its successor), which the seccomp filter refuses.
         */
        public List<String> vmRunOptions() {
            return List.of("--accel", "kvm", "--no-seccomp", "--kernel", kernel.toString(), "--initrd", kernel.toString(),
                    "--cmdline", "", "--memory", (VmConfig.MIN_MEMORY >> 20) + "M", "--disk", imageDisk + ",ro",
                    "--disk", rwDisk.toString(), "--vsock", vsockSocket.toString(), "--rng");
        }
    }

    /** What a warm-up does with the files. */
    @FunctionalInterface
    public interface Use<T> {
        T with(Files files) throws Exception;
    }

    /** Makes the warm-up guest's files, hands them to {@code use}, and removes them. */
    public static <T> T withFiles(Use<T> use) throws Exception {
        Path dir = java.nio.file.Files.createTempDirectory("vessel-warm-up");
        try {
            // With the devices a container's VM has (two disks, vsock, rng): the guest never
            // drives them, but making them loads and links their classes, which the start-up
            // cache then holds and a standby has ready (cold, they cost a container's VM ~0.3 s).
            Path kernel = MinimalKernel.write(dir, "poweroff.bzImage", MinimalKernel.POWER_OFF);
            Path image = java.nio.file.Files.write(dir.resolve("image.img"), new byte[1 << 16]);
            Path rw = java.nio.file.Files.write(dir.resolve("rw.img"), new byte[1 << 16]);
            return use.with(new Files(kernel, image, rw, dir.resolve("vsock.sock")));
        } finally {
            for (String f : List.of("poweroff.bzImage", "image.img", "rw.img", "vsock.sock")) {
                java.nio.file.Files.deleteIfExists(dir.resolve(f));
            }
            java.nio.file.Files.deleteIfExists(dir);
        }
    }

    /** Boots and closes the warm-up VM through the VM API; throws if it did not power off in time. */
    public static void run() throws Exception {
        Seccomp.prepare();
        withFiles(files -> {
            VmConfig config = VmConfig.builder().kernel(files.kernel()).initrd(files.kernel()).cmdline("")
                    .memory(VmConfig.MIN_MEMORY).disk(files.imageDisk(), true).disk(files.rwDisk(), false)
                    .vsock(files.vsockSocket()).rng(true).build();
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
            return null;
        });
    }
}
