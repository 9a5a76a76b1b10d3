package dev.vessel.vmm;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * What a VM is: the kernel and initrd to boot, its command line, vCPUs, memory and devices. An
 * immutable description, validated when built; {@link VirtualMachine#create} makes the VM.
 *
 * <pre>{@code
 * VmConfig config = VmConfig.builder()
 *         .kernel(kernel).initrd(initrd)
 *         .cpus(2).memory(512L << 20)
 *         .disk(Path.of("rootfs.img"), true)
 *         .vsock(Path.of("/run/app/vm.vsock"))
 *         .build();
 * }</pre>
 *
 * @param kernel a bzImage (64-bit boot protocol 2.12+) or an ELF vmlinux with a PVH entry note
 * @param initrd the initramfs, or null for none
 * @param cmdline the kernel command line
 * @param cpus vCPUs, 1..255
 * @param memoryBytes guest RAM, a whole number of MiB, at least {@link #MIN_MEMORY}
 * @param disks virtio-blk disks, in the order the guest sees them (vda, vdb, ...)
 * @param console where the guest console goes: the emulated UART (ttyS0) or virtio-console (hvc0)
 * @param vsockSocket host side of the guest's virtio-vsock device (Firecracker's hybrid vsock: a
 *     host program connects to this Unix socket and sends {@code CONNECT <port>}; a guest connection
 *     to CID 2 port P reaches a listener on {@code <vsockSocket>_P}), or null for no vsock device
 * @param vsockUplink {@code HOST:PORT/SECRET} of the host's relay when this VMM runs in the helper
 *     machine (guest connections to the host go there), or null
 * @param rng whether to give the guest a virtio-rng device fed from the host's SecureRandom
 * @param balloon whether to give the guest a virtio-balloon device
 * @param apiSocket Unix socket on which the running VM takes control requests (pause, resume,
 *     stop, describe, balloon, stats; see {@link dev.vessel.vmm.control.ControlServer}), or null
 * @param nets virtio-net devices on host TAP interfaces, in the order the guest sees them (eth0,
 *     eth1, ...); no two on one TAP or with one MAC address
 */
public record VmConfig(Path kernel, Path initrd, String cmdline, int cpus, long memoryBytes,
                       List<Disk> disks, Console console, Path vsockSocket, String vsockUplink, boolean rng, boolean balloon,
                       Path apiSocket, List<NetConfig> nets) {
    public static final long MIN_MEMORY = 32L << 20;
    public static final String DEFAULT_CMDLINE = "console=ttyS0 quiet panic=-1 pci=off";

    /**
     * A disk and whether the guest may write it: a raw image file, or an NBD export
     * ({@code nbd://HOST:PORT/EXPORT}, how the helper machine reaches a disk file on the host).
     */
    public record Disk(String location, boolean readOnly) {
        public Disk {
            Objects.requireNonNull(location, "disk location");
            if (location.isEmpty()) {
                throw new IllegalArgumentException("a disk needs a path");
            }
        }

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
        Objects.requireNonNull(kernel, "a VM needs a kernel");
        if (cmdline == null) {
            cmdline = DEFAULT_CMDLINE;
        }
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
        nets = nets == null ? List.of() : List.copyOf(nets);
        for (int i = 0; i < nets.size(); i++) {
            for (int j = 0; j < i; j++) {
                if (nets.get(i).tap().equals(nets.get(j).tap())) {
                    throw new IllegalArgumentException("two network devices on TAP " + nets.get(i).tap());
                }
                if (nets.get(i).mac().equals(nets.get(j).mac())) {
                    throw new IllegalArgumentException("two network devices with MAC address " + nets.get(i).mac());
                }
            }
        }
    }

    /** A VM without network devices (the description before they existed). */
    public VmConfig(Path kernel, Path initrd, String cmdline, int cpus, long memoryBytes, List<Disk> disks,
                    Console console, Path vsockSocket, String vsockUplink, boolean rng, boolean balloon, Path apiSocket) {
        this(kernel, initrd, cmdline, cpus, memoryBytes, disks, console, vsockSocket, vsockUplink, rng, balloon,
                apiSocket, List.of());
    }

    /** A VM with only the legacy devices (serial console), as `vm run` boots by default. */
    public VmConfig(Path kernel, Path initrd, String cmdline, int cpus, long memoryBytes) {
        this(kernel, initrd, cmdline, cpus, memoryBytes, List.of(), Console.SERIAL, null, null, false, false, null,
                List.of());
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding this description, to derive another from it. */
    public Builder toBuilder() {
        Builder b = new Builder().kernel(kernel).initrd(initrd).cmdline(cmdline).cpus(cpus).memory(memoryBytes)
                .console(console).vsock(vsockSocket).vsockUplink(vsockUplink).rng(rng).balloon(balloon)
                .apiSocket(apiSocket);
        disks.forEach(b::disk);
        nets.forEach(b::net);
        return b;
    }

    /**
     * Builds a {@link VmConfig}. Defaults: no initrd, {@link #DEFAULT_CMDLINE}, 1 vCPU, 256 MiB,
     * the serial console, no devices.
     */
    public static final class Builder {
        private Path kernel;
        private Path initrd;
        private String cmdline = DEFAULT_CMDLINE;
        private int cpus = 1;
        private long memoryBytes = 256L << 20;
        private final List<Disk> disks = new ArrayList<>();
        private Console console = Console.SERIAL;
        private Path vsockSocket;
        private String vsockUplink;
        private boolean rng;
        private boolean balloon;
        private Path apiSocket;
        private final List<NetConfig> nets = new ArrayList<>();

        private Builder() {}

        public Builder kernel(Path kernel) {
            this.kernel = kernel;
            return this;
        }

        public Builder initrd(Path initrd) {
            this.initrd = initrd;
            return this;
        }

        public Builder cmdline(String cmdline) {
            this.cmdline = cmdline;
            return this;
        }

        public Builder cpus(int cpus) {
            this.cpus = cpus;
            return this;
        }

        /** Guest RAM in bytes: a whole number of MiB. */
        public Builder memory(long bytes) {
            this.memoryBytes = bytes;
            return this;
        }

        /** Adds a virtio-blk disk backed by the raw image {@code image}. */
        public Builder disk(Path image, boolean readOnly) {
            return disk(new Disk(image, readOnly));
        }

        public Builder disk(Disk disk) {
            disks.add(Objects.requireNonNull(disk));
            return this;
        }

        public Builder console(Console console) {
            this.console = console;
            return this;
        }

        /** A virtio-vsock device whose host side is the Unix socket {@code socket} (null: none). */
        public Builder vsock(Path socket) {
            this.vsockSocket = socket;
            return this;
        }

        public Builder vsockUplink(String uplink) {
            this.vsockUplink = uplink;
            return this;
        }

        public Builder rng(boolean rng) {
            this.rng = rng;
            return this;
        }

        public Builder balloon(boolean balloon) {
            this.balloon = balloon;
            return this;
        }

        /** The control socket (null: none). */
        public Builder apiSocket(Path socket) {
            this.apiSocket = socket;
            return this;
        }

        /** Adds a virtio-net device (eth0, eth1, ... in order); see {@link NetConfig#tap(String)} for a random MAC. */
        public Builder net(NetConfig net) {
            nets.add(Objects.requireNonNull(net));
            return this;
        }

        /** The description; IllegalArgumentException (or NullPointerException without a kernel) when it is not valid. */
        public VmConfig build() {
            return new VmConfig(kernel, initrd, cmdline, cpus, memoryBytes, disks, console, vsockSocket, vsockUplink,
                    rng, balloon, apiSocket, nets);
        }
    }
}
