package dev.vessel.kvm;

/** ioctl request numbers of the KVM API (linux/kvm.h), computed the way _IOC does. */
final class KvmIoctls {
    private KvmIoctls() {}

    private static final int KVMIO = 0xAE;
    private static final int NONE = 0;
    private static final int WRITE = 1;
    private static final int READ = 2;

    private static long ioc(int dir, int nr, long size) {
        return ((long) dir << 30) | (size << 16) | ((long) KVMIO << 8) | nr;
    }

    static long io(int nr) {
        return ioc(NONE, nr, 0);
    }

    static long ior(int nr, long size) {
        return ioc(READ, nr, size);
    }

    static long iow(int nr, long size) {
        return ioc(WRITE, nr, size);
    }

    static long iowr(int nr, long size) {
        return ioc(READ | WRITE, nr, size);
    }

    // System ioctls.
    static final long GET_API_VERSION = io(0x00);
    static final long CREATE_VM = io(0x01);
    static final long GET_MSR_INDEX_LIST = iowr(0x02, 4);
    static final long CHECK_EXTENSION = io(0x03);
    static final long GET_VCPU_MMAP_SIZE = io(0x04);
    static final long GET_SUPPORTED_CPUID = iowr(0x05, 8);

    // VM ioctls.
    static final long CREATE_VCPU = io(0x41);
    static final long SET_USER_MEMORY_REGION = iow(0x46, 32);
    static final long SET_TSS_ADDR = io(0x47);
    static final long SET_IDENTITY_MAP_ADDR = iow(0x48, 8);
    static final long CREATE_IRQCHIP = io(0x60);
    static final long IRQ_LINE = iow(0x61, 8);
    static final long IRQFD = iow(0x76, 32);
    static final long CREATE_PIT2 = iow(0x77, 64);
    static final long IOEVENTFD = iow(0x79, 64);
    static final long SET_GSI_ROUTING = iow(0x6a, 8);
    static final long SIGNAL_MSI = iow(0xa5, 32);
    static final long ENABLE_CAP = iow(0xa3, 104);
    static final long SET_CLOCK = iow(0x7b, 48);

    // vCPU ioctls.
    static final long RUN = io(0x80);
    static final long GET_REGS = ior(0x81, KvmStructs.REGS.byteSize());
    static final long SET_REGS = iow(0x82, KvmStructs.REGS.byteSize());
    static final long GET_SREGS = ior(0x83, KvmStructs.SREGS.byteSize());
    static final long SET_SREGS = iow(0x84, KvmStructs.SREGS.byteSize());
    static final long SET_MSRS = iow(0x89, 8);
    static final long GET_MSRS = iowr(0x88, 8);
    static final long SET_FPU = iow(0x8d, KvmStructs.FPU.byteSize());
    static final long GET_LAPIC = ior(0x8e, 1024);
    static final long SET_LAPIC = iow(0x8f, 1024);
    static final long SET_CPUID2 = iow(0x90, 8);
    static final long GET_MP_STATE = ior(0x98, 4);
    static final long SET_MP_STATE = iow(0x99, 4);
}
