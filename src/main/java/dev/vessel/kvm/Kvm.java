package dev.vessel.kvm;

import dev.vessel.sys.ErrnoException;
import dev.vessel.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** The KVM system handle: /dev/kvm. Creates VMs and answers what the host's KVM supports. */
public final class Kvm implements AutoCloseable {
    public static final Path DEVICE = Path.of("/dev/kvm");
    public static final int API_VERSION = 12;

    public static final int CAP_IRQCHIP = 0;
    public static final int CAP_USER_MEMORY = 3;
    public static final int CAP_SET_TSS_ADDR = 4;
    public static final int CAP_EXT_CPUID = 7;
    public static final int CAP_NR_VCPUS = 9;
    public static final int CAP_MAX_VCPUS = 66;
    public static final int CAP_IRQFD = 32;
    public static final int CAP_PIT2 = 33;
    public static final int CAP_IOEVENTFD = 36;
    public static final int CAP_SIGNAL_MSI = 77;
    public static final int CAP_IMMEDIATE_EXIT = 136;

    private final int fd;

    private Kvm(int fd) {
        this.fd = fd;
    }

    /** Opens /dev/kvm and checks the API version and the capabilities Vessel relies on. */
    public static Kvm open() throws KvmException {
        if (!Files.exists(DEVICE)) {
            throw new KvmException("/dev/kvm does not exist: this host has no KVM (load kvm-intel or kvm-amd, or use --accel machine)");
        }
        int fd;
        try {
            fd = Libc.open(DEVICE.toString(), Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        } catch (ErrnoException e) {
            if (e.errno() == Libc.EACCES) {
                throw new KvmException("no permission to open /dev/kvm (add this user to the kvm group, or run as root)", e);
            }
            throw new KvmException("cannot open /dev/kvm: " + e.getMessage(), e);
        }
        Kvm kvm = new Kvm(fd);
        try {
            int version = Libc.ioctl(fd, KvmIoctls.GET_API_VERSION, 0, "KVM_GET_API_VERSION");
            if (version != API_VERSION) {
                throw new KvmException("/dev/kvm speaks KVM API " + version + ", Vessel needs " + API_VERSION);
            }
            for (int cap : new int[] {CAP_IRQCHIP, CAP_USER_MEMORY, CAP_SET_TSS_ADDR, CAP_EXT_CPUID, CAP_PIT2,
                    CAP_IRQFD, CAP_IOEVENTFD}) {
                if (kvm.checkExtension(cap) <= 0) {
                    throw new KvmException("this host's KVM lacks capability " + cap + " that Vessel needs");
                }
            }
        } catch (ErrnoException e) {
            kvm.close();
            throw new KvmException("/dev/kvm does not answer: " + e.getMessage(), e);
        } catch (KvmException e) {
            kvm.close();
            throw e;
        }
        return kvm;
    }

    public int checkExtension(int cap) throws ErrnoException {
        return Libc.ioctl(fd, KvmIoctls.CHECK_EXTENSION, cap, "KVM_CHECK_EXTENSION");
    }

    /** Largest number of vCPUs KVM allows in one VM. */
    public int maxVcpus() throws ErrnoException {
        int max = checkExtension(CAP_MAX_VCPUS);
        return max > 0 ? max : Math.max(checkExtension(CAP_NR_VCPUS), 4);
    }

    int vcpuMmapSize() throws ErrnoException {
        return Libc.ioctl(fd, KvmIoctls.GET_VCPU_MMAP_SIZE, 0, "KVM_GET_VCPU_MMAP_SIZE");
    }

    /** The CPUID leaves this host's KVM can offer a guest (KVM_GET_SUPPORTED_CPUID). */
    public List<CpuidEntry> supportedCpuid() throws KvmException {
        int capacity = 128;
        while (true) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(8 + capacity * KvmStructs.CPUID_ENTRY2.byteSize(), 8);
                buf.set(ValueLayout.JAVA_INT, 0, capacity);
                try {
                    Libc.ioctl(fd, KvmIoctls.GET_SUPPORTED_CPUID, buf, "KVM_GET_SUPPORTED_CPUID");
                } catch (ErrnoException e) {
                    if (e.errno() == 7 /* E2BIG */ && capacity < 4096) {
                        capacity *= 2;
                        continue;
                    }
                    throw new KvmException("KVM_GET_SUPPORTED_CPUID failed: " + e.getMessage(), e);
                }
                int n = buf.get(ValueLayout.JAVA_INT, 0);
                List<CpuidEntry> entries = new ArrayList<>(n);
                for (int i = 0; i < n; i++) {
                    entries.add(readCpuid(buf, 8 + i * KvmStructs.CPUID_ENTRY2.byteSize()));
                }
                return entries;
            }
        }
    }

    static CpuidEntry readCpuid(MemorySegment s, long o) {
        return new CpuidEntry(s.get(ValueLayout.JAVA_INT, o), s.get(ValueLayout.JAVA_INT, o + 4),
                s.get(ValueLayout.JAVA_INT, o + 8), s.get(ValueLayout.JAVA_INT, o + 12),
                s.get(ValueLayout.JAVA_INT, o + 16), s.get(ValueLayout.JAVA_INT, o + 20),
                s.get(ValueLayout.JAVA_INT, o + 24));
    }

    /** Creates a VM (KVM_CREATE_VM, machine type 0). */
    public VmFd createVm() throws KvmException {
        try {
            int vm = Libc.ioctl(fd, KvmIoctls.CREATE_VM, 0, "KVM_CREATE_VM");
            return new VmFd(this, vm, vcpuMmapSize());
        } catch (ErrnoException e) {
            throw new KvmException("cannot create a VM: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            Libc.close(fd);
        } catch (ErrnoException ignored) {
            // Closing /dev/kvm cannot usefully fail.
        }
    }
}
