package dev.vessel.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A kvm_run mapping in ordinary memory, with exits filled in the way KVM fills them: lets tests
 * drive a VMM's exit handling without /dev/kvm. Two pages, like KVM's mapping (the port data
 * page follows the kvm_run page).
 */
public final class FakeKvmRun {
    /** Where KVM puts port I/O data: the page after struct kvm_run (KVM_PIO_PAGE_OFFSET 1). */
    public static final long PIO_DATA = 4096;

    private static final long U = KvmStructs.RUN_EXIT_DATA;

    private final MemorySegment page;
    private final KvmRun run;

    public FakeKvmRun(Arena arena) {
        this.page = arena.allocate(2 * 4096, 4096);
        this.run = new KvmRun(page);
    }

    public KvmRun run() {
        return run;
    }

    public MemorySegment page() {
        return page;
    }

    /** A KVM_EXIT_IO of {@code count} accesses of {@code size} bytes at {@code port}; data at {@code dataOffset}. */
    public FakeKvmRun io(int direction, int size, int port, int count, long dataOffset) {
        page.set(ValueLayout.JAVA_INT, 8, KvmRun.EXIT_IO);
        page.set(ValueLayout.JAVA_BYTE, U, (byte) direction);
        page.set(ValueLayout.JAVA_BYTE, U + 1, (byte) size);
        page.set(ValueLayout.JAVA_SHORT, U + 2, (short) port);
        page.set(ValueLayout.JAVA_INT, U + 4, count);
        page.set(ValueLayout.JAVA_LONG, U + 8, dataOffset);
        return this;
    }

    /** A KVM_EXIT_MMIO of {@code len} bytes at {@code address}; a write stores {@code value}. */
    public FakeKvmRun mmio(long address, int len, boolean write, long value) {
        page.set(ValueLayout.JAVA_INT, 8, KvmRun.EXIT_MMIO);
        page.set(ValueLayout.JAVA_LONG, U, address);
        page.set(ValueLayout.JAVA_LONG_UNALIGNED, U + 8, value);
        page.set(ValueLayout.JAVA_INT, U + 16, len);
        page.set(ValueLayout.JAVA_BYTE, U + 20, (byte) (write ? 1 : 0));
        return this;
    }

    /**
     * A vCPU whose kvm_run page is this one and whose fd is {@code fd}, any open file that is not
     * a vCPU: its {@link VcpuFd#run} makes the real KVM_RUN call, which fails with ENOTTY.
     */
    public VcpuFd vcpuOver(int fd) {
        return new VcpuFd(0, fd, page);
    }

    /** The 8 data bytes of an MMIO exit (what a read returns to the guest, in the low bytes). */
    public long mmioData() {
        return page.get(ValueLayout.JAVA_LONG_UNALIGNED, U + 8);
    }
}
