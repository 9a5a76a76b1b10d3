package dev.vessel.devices.virtio.queue;

import dev.vessel.memory.GuestMemory;
import dev.vessel.memory.MemoryRegion;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;

/**
 * A driver's view of one split virtqueue in a small guest RAM, for tests: guest RAM is one region
 * at {@link #RAM_BASE} with guard bytes around it in host memory, the rings sit at its start and a
 * data area follows. Methods write descriptors and ring fields the way a driver would.
 */
public final class RingFixture implements AutoCloseable {
    public static final long RAM_BASE = 0x10_0000;
    public static final int GUARD = 4096;
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    public final int size;
    public final long ramSize;
    public final Arena arena = Arena.ofConfined();
    /** Host memory: guard, RAM, guard. */
    public final MemorySegment host;
    public final MemorySegment ram;
    public final GuestMemory memory;
    public final VirtqueueLayout layout;
    /** First guest address after the rings, page aligned. */
    public final long data;
    private int availIdx;

    public RingFixture(int size) {
        this(size, 1 << 20);
    }

    public RingFixture(int size, long ramSize) {
        this.size = size;
        this.ramSize = ramSize;
        this.host = arena.allocate(ramSize + 2L * GUARD, 4096);
        host.fill((byte) 0xA5);
        this.ram = host.asSlice(GUARD, ramSize);
        ram.fill((byte) 0);
        this.memory = GuestMemory.of(List.of(new MemoryRegion(RAM_BASE, ram)));
        long desc = RAM_BASE;
        long avail = desc + VirtqueueLayout.descTableBytes(size);
        long used = align(avail + VirtqueueLayout.availRingBytes(size), 4096);
        this.layout = new VirtqueueLayout(size, desc, avail, used);
        this.data = align(used + VirtqueueLayout.usedRingBytes(size), 4096);
    }

    static long align(long v, long a) {
        return (v + a - 1) & -a;
    }

    public Virtqueue queue(boolean eventIdx, boolean indirect) throws VirtqueueException {
        return queue(eventIdx, indirect, Virtqueue.DEFAULT_MAX_CHAIN_BYTES);
    }

    public Virtqueue queue(boolean eventIdx, boolean indirect, long maxChainBytes) throws VirtqueueException {
        return new Virtqueue(0, memory, layout, size, eventIdx, indirect, maxChainBytes);
    }

    public MemorySegment at(long gpa, long length) {
        return ram.asSlice(gpa - RAM_BASE, length);
    }

    public void desc(int i, long addr, long len, int flags, int next) {
        descAt(layout.descTable(), i, addr, len, flags, next);
    }

    /** Writes descriptor {@code i} of the table at {@code tableGpa} (the ring's or an indirect table). */
    public void descAt(long tableGpa, int i, long addr, long len, int flags, int next) {
        MemorySegment d = at(tableGpa + 16L * i, 16);
        d.set(U64, 0, addr);
        d.set(U32, 8, (int) len);
        d.set(U16, 12, (short) flags);
        d.set(U16, 14, (short) next);
    }

    /** Puts {@code head} in the next available slot and publishes it. */
    public void publish(int head) {
        at(layout.availRing() + 4 + 2L * (availIdx % size), 2).set(U16, 0, (short) head);
        setAvailIdx(availIdx + 1);
    }

    public void setAvailIdx(int idx) {
        availIdx = idx & 0xFFFF;
        at(layout.availRing() + 2, 2).set(U16, 0, (short) availIdx);
    }

    public int availIdx() {
        return availIdx;
    }

    public void setAvailFlags(int flags) {
        at(layout.availRing(), 2).set(U16, 0, (short) flags);
    }

    public void setUsedEvent(int idx) {
        at(layout.availRing() + 4 + 2L * size, 2).set(U16, 0, (short) idx);
    }

    public int usedFlags() {
        return Short.toUnsignedInt(at(layout.usedRing(), 2).get(U16, 0));
    }

    public int usedIdx() {
        return Short.toUnsignedInt(at(layout.usedRing() + 2, 2).get(U16, 0));
    }

    public int usedId(int slot) {
        return at(layout.usedRing() + 4 + 8L * slot, 4).get(U32, 0);
    }

    public int usedLen(int slot) {
        return at(layout.usedRing() + 8 + 8L * slot, 4).get(U32, 0);
    }

    public int availEvent() {
        return Short.toUnsignedInt(at(layout.usedRing() + 4 + 8L * size, 2).get(U16, 0));
    }

    public void fill(long gpa, byte[] bytes) {
        MemorySegment.copy(bytes, 0, at(gpa, bytes.length), ValueLayout.JAVA_BYTE, 0, bytes.length);
    }

    public byte[] bytes(long gpa, int length) {
        return at(gpa, length).toArray(ValueLayout.JAVA_BYTE);
    }

    /** Whether the guard bytes around guest RAM are untouched. */
    public boolean guardsIntact() {
        for (long i = 0; i < GUARD; i++) {
            if (host.get(ValueLayout.JAVA_BYTE, i) != (byte) 0xA5
                    || host.get(ValueLayout.JAVA_BYTE, GUARD + ramSize + i) != (byte) 0xA5) {
                return false;
            }
        }
        return true;
    }

    @Override
    public void close() {
        arena.close();
    }
}
