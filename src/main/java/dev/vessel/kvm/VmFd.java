package dev.vessel.kvm;

import dev.vessel.sys.ErrnoException;
import dev.vessel.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

/** A KVM virtual machine file descriptor: memory slots, the in-kernel irqchip, vCPUs. */
public final class VmFd implements AutoCloseable {
    /** kvm_pit_config.flags: the PIT speaker port is a dummy (no PC speaker). */
    private static final int PIT_SPEAKER_DUMMY = 1;
    private static final int IOEVENTFD_FLAG_PIO = 1 << 1;
    private static final int IOEVENTFD_FLAG_DATAMATCH = 1;
    private static final int IRQFD_FLAG_DEASSIGN = 1;

    private final Kvm kvm;
    private final int fd;
    private final int vcpuMmapSize;

    VmFd(Kvm kvm, int fd, int vcpuMmapSize) {
        this.kvm = kvm;
        this.fd = fd;
        this.vcpuMmapSize = vcpuMmapSize;
    }

    public Kvm kvm() {
        return kvm;
    }

    /** Maps host memory at {@code hostAddress} into the guest at {@code guestPhys} in memory slot {@code slot}. */
    public void setUserMemoryRegion(int slot, long guestPhys, long size, long hostAddress, boolean readOnly)
            throws KvmException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment r = arena.allocate(KvmStructs.USER_MEMORY_REGION);
            r.set(ValueLayout.JAVA_INT, 0, slot);
            r.set(ValueLayout.JAVA_INT, 4, readOnly ? 2 /* KVM_MEM_READONLY */ : 0);
            r.set(ValueLayout.JAVA_LONG, 8, guestPhys);
            r.set(ValueLayout.JAVA_LONG, 16, size);
            r.set(ValueLayout.JAVA_LONG, 24, hostAddress);
            Libc.ioctl(fd, KvmIoctls.SET_USER_MEMORY_REGION, r, "KVM_SET_USER_MEMORY_REGION");
        } catch (ErrnoException e) {
            throw new KvmException("cannot map guest memory slot " + slot + " at 0x" + Long.toHexString(guestPhys)
                    + " (" + size + " bytes): " + e.getMessage(), e);
        }
    }

    /** Where Intel VMX keeps the real-mode TSS (three pages); harmless on AMD. */
    public void setTssAddress(long address) throws KvmException {
        try {
            Libc.ioctl(fd, KvmIoctls.SET_TSS_ADDR, address, "KVM_SET_TSS_ADDR");
        } catch (ErrnoException e) {
            throw new KvmException("KVM_SET_TSS_ADDR failed: " + e.getMessage(), e);
        }
    }

    /** Where Intel VMX keeps its identity-mapped page table (one page). */
    public void setIdentityMapAddress(long address) throws KvmException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment a = arena.allocate(ValueLayout.JAVA_LONG);
            a.set(ValueLayout.JAVA_LONG, 0, address);
            Libc.ioctl(fd, KvmIoctls.SET_IDENTITY_MAP_ADDR, a, "KVM_SET_IDENTITY_MAP_ADDR");
        } catch (ErrnoException e) {
            throw new KvmException("KVM_SET_IDENTITY_MAP_ADDR failed: " + e.getMessage(), e);
        }
    }

    /** The in-kernel PIC pair, IOAPIC and a local APIC per vCPU. */
    public void createIrqchip() throws KvmException {
        try {
            Libc.ioctl(fd, KvmIoctls.CREATE_IRQCHIP, 0, "KVM_CREATE_IRQCHIP");
        } catch (ErrnoException e) {
            throw new KvmException("cannot create the in-kernel interrupt controller: " + e.getMessage(), e);
        }
    }

    /** The in-kernel i8254 PIT, with a dummy speaker port. */
    public void createPit2() throws KvmException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment c = arena.allocate(KvmStructs.PIT_CONFIG);
            c.set(ValueLayout.JAVA_INT, 0, PIT_SPEAKER_DUMMY);
            Libc.ioctl(fd, KvmIoctls.CREATE_PIT2, c, "KVM_CREATE_PIT2");
        } catch (ErrnoException e) {
            throw new KvmException("cannot create the in-kernel PIT: " + e.getMessage(), e);
        }
    }

    /** Drives interrupt line {@code gsi} to {@code level} (KVM_IRQ_LINE). */
    public void irqLine(int gsi, boolean level) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment l = arena.allocate(KvmStructs.IRQ_LEVEL);
            l.set(ValueLayout.JAVA_INT, 0, gsi);
            l.set(ValueLayout.JAVA_INT, 4, level ? 1 : 0);
            Libc.ioctl(fd, KvmIoctls.IRQ_LINE, l, "KVM_IRQ_LINE");
        }
    }

    /** Makes every write to eventfd {@code eventFd} inject an edge on interrupt {@code gsi}. */
    public void registerIrqFd(int eventFd, int gsi) throws KvmException {
        irqfd(eventFd, gsi, 0);
    }

    public void unregisterIrqFd(int eventFd, int gsi) throws KvmException {
        irqfd(eventFd, gsi, IRQFD_FLAG_DEASSIGN);
    }

    private void irqfd(int eventFd, int gsi, int flags) throws KvmException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(KvmStructs.IRQFD);
            s.set(ValueLayout.JAVA_INT, 0, eventFd);
            s.set(ValueLayout.JAVA_INT, 4, gsi);
            s.set(ValueLayout.JAVA_INT, 8, flags);
            Libc.ioctl(fd, KvmIoctls.IRQFD, s, "KVM_IRQFD");
        } catch (ErrnoException e) {
            throw new KvmException("KVM_IRQFD for GSI " + gsi + " failed: " + e.getMessage(), e);
        }
    }

    /**
     * Makes a guest write of {@code length} bytes to {@code address} (MMIO, or port I/O when {@code pio})
     * signal eventfd {@code eventFd} inside KVM, without an exit to the VMM. With {@code dataMatch}
     * non-null only writes of that value match.
     */
    public void registerIoEventFd(int eventFd, long address, int length, boolean pio, Long dataMatch)
            throws KvmException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment s = arena.allocate(KvmStructs.IOEVENTFD);
            int flags = (pio ? IOEVENTFD_FLAG_PIO : 0) | (dataMatch != null ? IOEVENTFD_FLAG_DATAMATCH : 0);
            s.set(ValueLayout.JAVA_LONG, KvmStructs.IOEVENTFD.byteOffset(groupElement("datamatch")),
                    dataMatch == null ? 0 : dataMatch);
            s.set(ValueLayout.JAVA_LONG, KvmStructs.IOEVENTFD.byteOffset(groupElement("addr")), address);
            s.set(ValueLayout.JAVA_INT, KvmStructs.IOEVENTFD.byteOffset(groupElement("len")), length);
            s.set(ValueLayout.JAVA_INT, KvmStructs.IOEVENTFD.byteOffset(groupElement("fd")), eventFd);
            s.set(ValueLayout.JAVA_INT, KvmStructs.IOEVENTFD.byteOffset(groupElement("flags")), flags);
            Libc.ioctl(fd, KvmIoctls.IOEVENTFD, s, "KVM_IOEVENTFD");
        } catch (ErrnoException e) {
            throw new KvmException("KVM_IOEVENTFD at 0x" + Long.toHexString(address) + " failed: " + e.getMessage(), e);
        }
    }

    /** Creates vCPU {@code id} (its initial APIC id) and maps its kvm_run area. */
    public VcpuFd createVcpu(int id) throws KvmException {
        try {
            int vcpu = Libc.ioctl(fd, KvmIoctls.CREATE_VCPU, id, "KVM_CREATE_VCPU");
            MemorySegment run = Libc.mmap(vcpuMmapSize, Libc.PROT_READ | Libc.PROT_WRITE, Libc.MAP_SHARED, vcpu, 0)
                    .reinterpret(vcpuMmapSize);
            return new VcpuFd(id, vcpu, run);
        } catch (ErrnoException e) {
            throw new KvmException("cannot create vCPU " + id + ": " + e.getMessage(), e);
        }
    }

    @Override
    public void close() {
        try {
            Libc.close(fd);
        } catch (ErrnoException ignored) {
            // Nothing to do: the VM goes away with its last reference.
        }
    }
}
