package dev.vessel.memory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;

/**
 * Hostile guest addresses against guest memory laid out anywhere in the 64-bit space: every access
 * lands wholly inside one region, at the right place, or throws GuestMemoryException — nothing
 * else escapes and no slice is wrong. Regions sit in "families" far apart (low RAM, above 4 GiB,
 * either side of 2^63, just below 2^64), and accesses are aimed at region edges or taken from the
 * overflow edges of a long; everything shrinks towards the plainest case.
 */
class GuestMemoryProperties {
    static final long TWO_TO_63 = Long.MIN_VALUE; // 2^63 as an unsigned address
    static final BigInteger TWO_TO_64 = BigInteger.ONE.shiftLeft(64);

    /**
     * Where a family of regions lies: a region is at start + offset, or start - offset for a family
     * that grows down (offsets under 1 MiB, sizes under 16 KiB: families never overlap).
     */
    enum Family {
        LOW(0, false),
        ABOVE_4_GIB(GuestMemory.FOUR_GIB, false),
        BELOW_2_63(Long.MAX_VALUE - (4L << 20), false),
        ACROSS_2_63(Long.MAX_VALUE - 2047, true), // small offsets: the region spans 2^63
        ABOVE_2_63(TWO_TO_63 + (64L << 10), false),
        BELOW_2_64(-(4L << 20), false);

        final long start;
        final boolean down;

        Family(long start, boolean down) {
            this.start = start;
            this.down = down;
        }
    }

    /** A region: its family, offset in it (under 1 MiB) and size (under 16 KiB). */
    record RegionSpec(Family family, long offset, int size) {
        long base() {
            return family.down ? family.start - offset : family.start + offset;
        }
    }

    /** An access: an address aimed at a region's start or end plus a small delta, or a raw long; and a length. */
    record AccessSpec(Integer region, boolean atEnd, long delta, long raw, long length) {
        long gpa(List<RegionSpec> layout) {
            if (region == null) {
                return raw;
            }
            RegionSpec r = layout.get(region % layout.size());
            return (atEnd ? r.base() + r.size() : r.base()) + delta;
        }
    }

    @Provide
    Arbitrary<List<RegionSpec>> layouts() {
        Arbitrary<RegionSpec> region = Combinators.combine(
                Arbitraries.of(Family.class),
                Arbitraries.longs().between(0, 1L << 20),
                Arbitraries.integers().between(1, 16 << 10)).as(RegionSpec::new);
        return region.list().ofMinSize(1).ofMaxSize(5).uniqueElements(RegionSpec::family);
    }

    @Provide
    Arbitrary<AccessSpec> accesses() {
        Arbitrary<Long> rawAddress = Arbitraries.oneOf(
                Arbitraries.longs(),
                Arbitraries.longs().between(-64, 64),                                  // 0 and just below 2^64
                Arbitraries.longs().between(0, 64).map(k -> Long.MAX_VALUE - k),       // just below 2^63
                Arbitraries.longs().between(0, 64).map(k -> Long.MIN_VALUE + k),       // just above 2^63
                Arbitraries.longs().between(-64, 64).map(k -> GuestMemory.FOUR_GIB + k));
        Arbitrary<Long> length = Arbitraries.oneOf(
                Arbitraries.longs().between(0, 64),                                    // zero and small
                Arbitraries.longs().between(0, 32 << 10),                              // up to past any region's end
                Arbitraries.longs().between(-64, -1),
                Arbitraries.longs().between(0, 64).map(k -> Long.MAX_VALUE - k),       // gpa + length overflows
                Arbitraries.longs().between(0, 64).map(k -> Long.MIN_VALUE + k),
                Arbitraries.longs());
        Arbitrary<Integer> region = Arbitraries.integers().between(0, 4).injectNull(0.2);
        return Combinators.combine(region, Arbitraries.of(false, true), Arbitraries.longs().between(-64, 64), rawAddress,
                length).as(AccessSpec::new);
    }

    /** The region that holds [gpa, gpa+length), computed without overflow; null if none. */
    static MemoryRegion expected(List<MemoryRegion> regions, long gpa, long length) {
        if (length < 0) {
            return null;
        }
        BigInteger start = unsigned(gpa);
        BigInteger end = start.add(BigInteger.valueOf(length));
        for (MemoryRegion r : regions) {
            BigInteger base = unsigned(r.guestAddress());
            if (start.compareTo(base) >= 0 && end.compareTo(base.add(BigInteger.valueOf(r.size()))) <= 0) {
                return r;
            }
        }
        return null;
    }

    static BigInteger unsigned(long v) {
        BigInteger b = BigInteger.valueOf(v);
        return v < 0 ? b.add(TWO_TO_64) : b;
    }

    static List<MemoryRegion> regions(Arena arena, List<RegionSpec> layout) {
        List<MemoryRegion> regions = new ArrayList<>();
        for (RegionSpec spec : layout) {
            MemorySegment host = arena.allocate(spec.size());
            for (int i = 0; i < spec.size(); i++) {
                host.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 31 + spec.family().ordinal()));
            }
            regions.add(new MemoryRegion(spec.base(), host));
        }
        return regions;
    }

    @Property(tries = 2000)
    void aSliceLandsWhollyInOneRegionAtTheRightPlaceOrThrows(@ForAll("layouts") List<RegionSpec> layout,
            @ForAll("accesses") AccessSpec access) {
        try (Arena arena = Arena.ofConfined()) {
            List<MemoryRegion> regions = regions(arena, layout);
            GuestMemory memory = GuestMemory.of(regions);
            long gpa = access.gpa(layout);
            long length = access.length();
            MemoryRegion holder = expected(regions, gpa, length);
            assertEquals(holder != null, memory.contains(gpa, length));
            if (holder == null) {
                assertThrows(GuestMemoryException.class, () -> memory.slice(gpa, length));
                return;
            }
            MemorySegment slice = assertSliced(memory, gpa, length);
            assertEquals(holder.host().address() + (gpa - holder.guestAddress()), slice.address(), "the right place");
            assertEquals(length, slice.byteSize());
        }
    }

    @Property(tries = 2000)
    void typedAccessesLandInOneRegionOrThrow(@ForAll("layouts") List<RegionSpec> layout,
            @ForAll("accesses") AccessSpec access, @ForAll("widths") int width) {
        try (Arena arena = Arena.ofConfined()) {
            List<MemoryRegion> regions = regions(arena, layout);
            GuestMemory memory = GuestMemory.of(regions);
            long gpa = access.gpa(layout);
            MemoryRegion holder = expected(regions, gpa, width);
            if (holder == null) {
                assertThrows(GuestMemoryException.class, () -> read(memory, gpa, width));
                assertThrows(GuestMemoryException.class, () -> write(memory, gpa, width, -1L));
                return;
            }
            long offset = gpa - holder.guestAddress();
            long value = 0x0102_0304_0506_0708L ^ gpa;
            try {
                write(memory, gpa, width, value);
                byte[] want = new byte[width];
                for (int i = 0; i < width; i++) {
                    want[i] = (byte) (value >>> (8 * i));
                }
                assertArrayEquals(want, holder.host().asSlice(offset, width).toArray(ValueLayout.JAVA_BYTE),
                        "the bytes landed where the address says");
                long mask = width == 8 ? -1L : (1L << (8 * width)) - 1;
                assertEquals(value & mask, read(memory, gpa, width) & mask);
            } catch (GuestMemoryException e) {
                throw new AssertionError("an access inside RAM failed: " + e.getMessage(), e);
            }
        }
    }

    @Property(tries = 1000)
    void byteArrayAccessesOfAnyLengthLandInOneRegionOrThrow(@ForAll("layouts") List<RegionSpec> layout,
            @ForAll("accesses") AccessSpec access) {
        int length = (int) Math.clamp(access.length(), -64, 40_000); // what an int-sized request can be here
        try (Arena arena = Arena.ofConfined()) {
            List<MemoryRegion> regions = regions(arena, layout);
            GuestMemory memory = GuestMemory.of(regions);
            long gpa = access.gpa(layout);
            MemoryRegion holder = expected(regions, gpa, length);
            if (holder == null) {
                assertThrows(GuestMemoryException.class, () -> memory.read(gpa, length));
                if (length >= 0) {
                    assertThrows(GuestMemoryException.class, () -> memory.write(gpa, new byte[length]));
                }
                return;
            }
            long offset = gpa - holder.guestAddress();
            try {
                assertArrayEquals(holder.host().asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE),
                        memory.read(gpa, length));
                byte[] data = new byte[length];
                java.util.Arrays.fill(data, (byte) 0x5A);
                memory.write(gpa, data);
                assertArrayEquals(data, holder.host().asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE));
            } catch (GuestMemoryException e) {
                throw new AssertionError("an access inside RAM failed: " + e.getMessage(), e);
            }
        }
    }

    @Provide
    Arbitrary<Integer> widths() {
        return Arbitraries.of(1, 2, 4, 8);
    }

    @Property(tries = 500)
    void layoutsWithOverlappingRegionsAreRefused(@ForAll("layouts") List<RegionSpec> layout,
            @ForAll("overlaps") Tuple.Tuple2<Integer, Integer> overlap) {
        RegionSpec first = layout.get(overlap.get1() % layout.size());
        try (Arena arena = Arena.ofConfined()) {
            List<MemoryRegion> regions = new ArrayList<>(regions(arena, layout));
            // Another region that starts inside the first one (or at its very start).
            long start = first.base() + Math.min(overlap.get2(), first.size() - 1);
            regions.add(new MemoryRegion(start, arena.allocate(64)));
            assertThrows(IllegalArgumentException.class, () -> GuestMemory.of(regions));
        }
    }

    @Provide
    Arbitrary<Tuple.Tuple2<Integer, Integer>> overlaps() {
        return Combinators.combine(Arbitraries.integers().between(0, 3), Arbitraries.integers().between(0, 16 << 10))
                .as(Tuple::of);
    }

    @Example
    void aRegionMayNotRunPastTwoToThe64() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment page = arena.allocate(4096);
            assertThrows(IllegalArgumentException.class, () -> new MemoryRegion(-4096, page));
            assertThrows(IllegalArgumentException.class, () -> new MemoryRegion(-1, page));
            MemoryRegion top = new MemoryRegion(-4097, page); // ends at 2^64 - 1
            assertEquals(-1L, top.end());
            GuestMemory memory = GuestMemory.of(List.of(top));
            assertEquals(true, memory.contains(-2, 1));
            assertEquals(false, memory.contains(-2, 2), "the last address is not RAM");
            assertEquals(false, memory.contains(-4097, Long.MAX_VALUE));
        }
    }

    private static MemorySegment assertSliced(GuestMemory memory, long gpa, long length) {
        try {
            return memory.slice(gpa, length);
        } catch (GuestMemoryException e) {
            throw new AssertionError("an access inside RAM failed: " + e.getMessage(), e);
        }
    }

    private static long read(GuestMemory memory, long gpa, int width) throws GuestMemoryException {
        return switch (width) {
            case 1 -> memory.readByte(gpa);
            case 2 -> memory.readShort(gpa);
            case 4 -> memory.readInt(gpa);
            default -> memory.readLong(gpa);
        };
    }

    private static void write(GuestMemory memory, long gpa, int width, long value) throws GuestMemoryException {
        switch (width) {
            case 1 -> memory.writeByte(gpa, (byte) value);
            case 2 -> memory.writeShort(gpa, (short) value);
            case 4 -> memory.writeInt(gpa, (int) value);
            default -> memory.writeLong(gpa, value);
        }
    }
}
