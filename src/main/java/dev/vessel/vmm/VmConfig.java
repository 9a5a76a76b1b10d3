package dev.vessel.vmm;

import java.nio.file.Path;
import java.util.List;

/**
 * What to boot and with what: everything `vessel vm run` was told, validated.
 *
 * @param disks virtio-blk disks, in the order the guest sees them (vda, vdb, ...)
 * @param console where the guest console goes: the emulated UART or virtio-console (hvc0)
 * @param vsockSocket host-side Unix socket of the hybrid virtio-vsock device, or null for none
 * @param vsockUplink {@code HOST:PORT/SECRET} of the host's relay when this VMM runs in the helper
 *     machine (guest connections to the host go there), or null
 * @param rng whether to give the guest a virtio-rng device
 * @param balloon whether to give the guest a virtio-balloon device
 * @param apiSocket Unix socket on which the running VM takes requests (balloon target), or null
 */
public record VmConfig(Path kernel, Path initrd, String cmdline, int cpus, long memoryBytes,
                       List<Disk> disks, Console console, Path vsockSocket, String vsockUplink, boolean rng, boolean balloon,
                       Path apiSocket) {
    public static final long MIN_MEMORY = 32L << 20;

    /**
     * A disk and whether the guest may write it: a raw image file, or an NBD export
     * ({@code nbd://HOST:PORT/EXPORT}, how the helper machine reaches a disk file on the host).
     */
    public record Disk(String location, boolean readOnly) {
        public Disk(Path path, boolean readOnly) {
            this(path.toString(), readOnly);
        }

        public boolean isNbd() {
            return location.startsWith("nbd://");
        }

        /** The image file; only for disks that are not NBD exports. */
        public Path path() {
            if (isNbd()) {
                throw new IllegalStateException(location + " is an NBD export, not a file");
            }
            return Path.of(location);
        }
    }

    public enum Console { SERIAL, VIRTIO }

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
        disks = List.copyOf(disks);
        if (console == null) {
            console = Console.SERIAL;
        }
    }

    /** A VM with only the legacy devices (serial console), as `vm run` boots by default. */
    public VmConfig(Path kernel, Path initrd, String cmdline, int cpus, long memoryBytes) {
        this(kernel, initrd, cmdline, cpus, memoryBytes, List.of(), Console.SERIAL, null, null, false, false, null);
    }
}
