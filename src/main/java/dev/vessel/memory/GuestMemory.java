package dev.vessel.memory;

import dev.vessel.sys.ErrnoException;
import dev.vessel.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * The guest's RAM: anonymous host mappings at guest-physical addresses. Every access goes
 * through {@link #slice}, which checks that the whole range lies inside one region; a guest
 * address that came from the guest is never trusted further than that.
 *
 * <p>Addresses are unsigned 64-bit values and lengths are non-negative: an access either lands
 * wholly inside one region or throws {@link GuestMemoryException} — for addresses at or near 2^64
 * (negative longs), ranges that run past a region's end or wrap around 2^64, negative lengths —
 * and never anything else. Regions do not overlap ({@link #of} checks), so the region an access
 * lands in is the only one that holds it.
 */
public final class GuestMemory implements AutoCloseable {
    /** x86: guest RAM stops below the 32-bit MMIO hole (APIC, IOAPIC, device windows) and resumes at 4 GiB. */
    public static final long MMIO_HOLE_START = 0xC000_0000L;
    public static final long FOUR_GIB = 0x1_0000_0000L;

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;

    private final List<MemoryRegion> regions;
    private final Arena arena;
    private final long totalSize;

    private GuestMemory(List<MemoryRegion> regions, Arena arena) {
        checkDisjoint(regions);
        this.regions = List.copyOf(regions);
        this.arena = arena;
        this.totalSize = regions.stream().mapToLong(MemoryRegion::size).sum();
    }

    /**
     * Reserves {@code size} bytes of guest RAM laid out the x86 way: from 0 up to the MMIO hole,
     * the rest above 4 GiB. MAP_NORESERVE: pages cost host memory only once the guest touches them.
     */
    public static GuestMemory allocate(long size) throws ErrnoException {
        if (size <= 0 || (size & 0xFFF) != 0) {
            throw new IllegalArgumentException("guest memory size must be a positive multiple of 4 KiB: " + size);
        }
        Arena arena = Arena.ofShared();
        List<MemoryRegion> regions = new ArrayList<>();
        try {
            long low = Math.min(size, MMIO_HOLE_START);
            regions.add(new MemoryRegion(0, map(low, arena)));
            if (size > low) {
                regions.add(new MemoryRegion(FOUR_GIB, map(size - low, arena)));
            }
        } catch (ErrnoException | RuntimeException e) {
            arena.close();
            throw e;
        }
        return new GuestMemory(regions, arena);
    }

    /**
     * Guest memory over caller-owned segments, for tests and tools that need no real mapping.
     *
     * @throws IllegalArgumentException if two regions overlap
     */
    public static GuestMemory of(List<MemoryRegion> regions) {
        return new GuestMemory(regions, null);
    }

    private static void checkDisjoint(List<MemoryRegion> regions) {
        List<MemoryRegion> sorted = new ArrayList<>(regions);
        sorted.sort((a, b) -> Long.compareUnsigned(a.guestAddress(), b.guestAddress()));
        for (int i = 1; i < sorted.size(); i++) {
            MemoryRegion before = sorted.get(i - 1);
            MemoryRegion after = sorted.get(i);
            if (Long.compareUnsigned(before.end(), after.guestAddress()) > 0) {
                throw new IllegalArgumentException("guest memory regions overlap: 0x" + Long.toHexString(before.guestAddress())
                        + "+" + before.size() + " and 0x" + Long.toHexString(after.guestAddress()) + "+" + after.size());
            }
        }
    }

    private static MemorySegment map(long size, Arena arena) throws ErrnoException {
        MemorySegment raw = Libc.mmap(size, Libc.PROT_READ | Libc.PROT_WRITE,
                Libc.MAP_PRIVATE | Libc.MAP_ANONYMOUS | Libc.MAP_NORESERVE, -1, 0);
        long address = raw.address();
        return raw.reinterpret(size, arena, s -> {
            try {
                Libc.munmap(address, size);
            } catch (ErrnoException ignored) {
                // The process is tearing the VM down; the mapping dies with it.
            }
        });
    }

    public List<MemoryRegion> regions() {
        return regions;
    }

    public long size() {
        return totalSize;
    }

    /** The end of RAM below the MMIO hole: where low-memory structures must stay. */
    public long lowMemoryEnd() {
        return regions.get(0).end();
    }

    /** Whether [gpa, gpa+length) is entirely guest RAM within one region ({@code gpa} unsigned). */
    public boolean contains(long gpa, long length) {
        return find(gpa, length) != null;
    }

    private MemoryRegion find(long gpa, long length) {
        for (MemoryRegion r : regions) {
            if (r.contains(gpa, length)) {
                return r;
            }
        }
        return null;
    }

    /** A view of [gpa, gpa+length) in host memory; fails unless the range is all RAM of one region. */
    public MemorySegment slice(long gpa, long length) throws GuestMemoryException {
        MemoryRegion r = find(gpa, length);
        if (r == null) {
            throw new GuestMemoryException("guest range 0x" + Long.toHexString(gpa) + "+" + length
                    + " is not guest RAM");
        }
        return r.host().asSlice(gpa - r.guestAddress(), length);
    }

    public byte readByte(long gpa) throws GuestMemoryException {
        return slice(gpa, 1).get(ValueLayout.JAVA_BYTE, 0);
    }

    public short readShort(long gpa) throws GuestMemoryException {
        return slice(gpa, 2).get(U16, 0);
    }

    public int readInt(long gpa) throws GuestMemoryException {
        return slice(gpa, 4).get(U32, 0);
    }

    public long readLong(long gpa) throws GuestMemoryException {
        return slice(gpa, 8).get(U64, 0);
    }

    public void writeByte(long gpa, byte v) throws GuestMemoryException {
        slice(gpa, 1).set(ValueLayout.JAVA_BYTE, 0, v);
    }

    public void writeShort(long gpa, short v) throws GuestMemoryException {
        slice(gpa, 2).set(U16, 0, v);
    }

    public void writeInt(long gpa, int v) throws GuestMemoryException {
        slice(gpa, 4).set(U32, 0, v);
    }

    public void writeLong(long gpa, long v) throws GuestMemoryException {
        slice(gpa, 8).set(U64, 0, v);
    }

    public void write(long gpa, byte[] bytes) throws GuestMemoryException {
        MemorySegment.copy(bytes, 0, slice(gpa, bytes.length), ValueLayout.JAVA_BYTE, 0, bytes.length);
    }

    public void write(long gpa, MemorySegment source) throws GuestMemoryException {
        slice(gpa, source.byteSize()).copyFrom(source);
    }

    public byte[] read(long gpa, int length) throws GuestMemoryException {
        return slice(gpa, length).toArray(ValueLayout.JAVA_BYTE);
    }

    @Override
    public void close() {
        if (arena != null) {
            arena.close();
        }
    }
}
