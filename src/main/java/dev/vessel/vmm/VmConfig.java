package dev.vessel.vmm;

import java.nio.file.Path;

/** What to boot and with what: everything `vessel vm run` was told, validated. */
public record VmConfig(Path kernel, Path initrd, String cmdline, int cpus, long memoryBytes) {
    public static final long MIN_MEMORY = 32L << 20;

    public VmConfig {
        if (cpus < 1 || cpus > 255) {
            throw new IllegalArgumentException("--cpus must be between 1 and 255, not " + cpus);
        }
        if (memoryBytes < MIN_MEMORY) {
            throw new IllegalArgumentException("--memory must be at least 32M");
        }
        if ((memoryBytes & 0xFFFFF) != 0) {
            throw new IllegalArgumentException("--memory must be a whole number of MiB");
        }
    }
}
