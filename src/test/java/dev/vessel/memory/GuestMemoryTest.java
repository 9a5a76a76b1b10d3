package dev.vessel.memory;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class GuestMemoryTest {
    @Test
    void smallMemoryIsOneRegionFromZero() throws Exception {
        try (GuestMemory m = GuestMemory.allocate(64L << 20)) {
            assertEquals(1, m.regions().size());
            assertEquals(64L << 20, m.size());
            assertEquals(64L << 20, m.lowMemoryEnd());
            m.writeLong(0x1000, 0x1122334455667788L);
            assertEquals(0x1122334455667788L, m.readLong(0x1000));
            assertEquals(0x7788, m.readShort(0x1000) & 0xffff);
            m.write(0x2000, new byte[] {1, 2, 3});
            assertArrayEquals(new byte[] {1, 2, 3}, m.read(0x2000, 3));
        }
    }

    @Test
    void largeMemorySkipsTheMmioHole() throws Exception {
        // MAP_NORESERVE: reserving 4 GiB costs nothing until touched.
        try (GuestMemory m = GuestMemory.allocate(4L << 30)) {
            assertEquals(2, m.regions().size());
            assertEquals(GuestMemory.MMIO_HOLE_START, m.lowMemoryEnd());
            assertEquals(GuestMemory.FOUR_GIB, m.regions().get(1).guestAddress());
            assertEquals(4L << 30, m.size());
            assertFalse(m.contains(GuestMemory.MMIO_HOLE_START, 1));
            assertTrue(m.contains(GuestMemory.FOUR_GIB, 4096));
            assertThrows(GuestMemoryException.class, () -> m.readByte(0xFEE00000L));
            // A range may not straddle the hole even though both ends are RAM-adjacent.
            assertThrows(GuestMemoryException.class, () -> m.slice(GuestMemory.MMIO_HOLE_START - 4, 8));
        }
    }

    @Test
    void rejectsBadSizes() {
        assertThrows(IllegalArgumentException.class, () -> GuestMemory.allocate(0));
        assertThrows(IllegalArgumentException.class, () -> GuestMemory.allocate(4097));
    }

    @Property(tries = 300)
    void everyAccessOutsideRamFails(@ForAll @LongRange(min = -16, max = (1L << 21) + 16) long gpa,
                                    @ForAll @LongRange(min = -1, max = 64) long length) throws Exception {
        try (java.lang.foreign.Arena arena = java.lang.foreign.Arena.ofConfined()) {
            GuestMemory m = GuestMemory.of(java.util.List.of(new MemoryRegion(0, arena.allocate(1L << 21))));
            boolean inside = gpa >= 0 && length >= 0 && gpa + length <= (1L << 21);
            assertEquals(inside, m.contains(gpa, length));
            if (inside) {
                assertEquals(length, m.slice(gpa, length).byteSize());
            } else {
                assertThrows(GuestMemoryException.class, () -> m.slice(gpa, length));
            }
        }
    }
}
