package dev.vessel.devices;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.LongRange;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BusTest {
    /** Records what reached it; reads answer base-relative offset + 0x100 * tag. */
    static final class Recorder implements BusDevice {
        final int tag;
        final List<String> log = new ArrayList<>();

        Recorder(int tag) {
            this.tag = tag;
        }

        @Override
        public long read(long offset, int size) {
            log.add("r " + offset + "/" + size);
            return offset + 0x100L * tag;
        }

        @Override
        public void write(long offset, int size, long value) {
            log.add("w " + offset + "/" + size + "=" + value);
        }
    }

    @Test
    void accessesReachTheDeviceWithOffsetsRelativeToItsBase() {
        Bus bus = new Bus("pio");
        Recorder uart = new Recorder(1);
        Recorder rtc = new Recorder(2);
        bus.register(0x3f8, 8, "uart", uart);
        bus.register(0x70, 2, "rtc", rtc);
        assertEquals(0x100 + 5, bus.read(0x3fd, 1));
        assertTrue(bus.write(0x71, 1, 0x42));
        assertEquals(List.of("r 5/1"), uart.log);
        assertEquals(List.of("w 1/1=66"), rtc.log);
        assertEquals(0, bus.unhandledAccesses());
    }

    @Test
    void accessesNoDeviceClaimsReadAllOnesAndAreCounted() {
        Bus bus = new Bus("pio");
        bus.register(0x3f8, 8, "uart", new Recorder(1));
        assertEquals(0xff, bus.read(0x80, 1));
        assertEquals(0xffff, bus.read(0x3f0, 2));
        assertEquals(0xffff_ffffL, bus.read(0x400, 4));
        assertEquals(-1L, bus.read(0x1000, 8));
        assertFalse(bus.write(0x80, 1, 1));
        assertEquals(5, bus.unhandledAccesses());
    }

    @Test
    void anAccessThatRunsPastTheEndOfARangeMissesIt() {
        Bus bus = new Bus("mmio");
        Recorder d = new Recorder(1);
        bus.register(0x1000, 0x200, "virtio", d);
        assertEquals(0x1fc + 0x100, bus.read(0x11fc, 4));
        assertEquals(0xffff_ffffL, bus.read(0x11fe, 4));
        assertEquals(-1L, bus.read(0x11fc, 8));
        assertEquals(0xff, bus.read(0x0fff, 1));
        assertEquals(0xff, bus.read(0x1200, 1));
        assertFalse(bus.write(-1, 1, 0)); // a negative address finds nothing, it does not throw
        assertEquals(List.of("r 508/4"), d.log);
    }

    @Test
    void overlappingRangesAreRefusedWithBothNames() {
        Bus bus = new Bus("pio");
        bus.register(0x70, 2, "rtc", new Recorder(1));
        bus.register(0x60, 1, "i8042-data", new Recorder(2));
        IllegalArgumentException below = assertThrows(IllegalArgumentException.class,
                () -> bus.register(0x6f, 2, "wide", new Recorder(3)));
        assertTrue(below.getMessage().contains("wide at 0x6f overlaps rtc on the pio bus"), below.getMessage());
        IllegalArgumentException inside = assertThrows(IllegalArgumentException.class,
                () -> bus.register(0x71, 1, "inner", new Recorder(3)));
        assertTrue(inside.getMessage().contains("overlaps rtc"), inside.getMessage());
        assertThrows(IllegalArgumentException.class, () -> bus.register(0x70, 1, "same base", new Recorder(3)));
        assertThrows(IllegalArgumentException.class, () -> bus.register(0x50, 0x100, "around", new Recorder(3)));
        bus.register(0x72, 1, "next door", new Recorder(3));
        bus.register(0x6f, 1, "below", new Recorder(4));
        assertEquals(0x400, bus.read(0x6f, 1));
    }

    @Test
    void badRangesAreRefused() {
        Bus bus = new Bus("mmio");
        assertThrows(IllegalArgumentException.class, () -> bus.register(0x1000, 0, "empty", new Recorder(1)));
        assertThrows(IllegalArgumentException.class, () -> bus.register(-4, 2, "negative", new Recorder(1)));
        assertThrows(IllegalArgumentException.class, () -> bus.register(Long.MAX_VALUE - 1, 4, "wraps", new Recorder(1)));
    }

    @Test
    void aFrozenBusTakesNoMoreDevicesAndKeepsServingTheOnesItHas() {
        Bus bus = new Bus("pio");
        bus.register(0x600, 1, "acpi", new Recorder(1));
        bus.freeze();
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> bus.register(0x3f8, 8, "uart", new Recorder(2)));
        assertTrue(e.getMessage().contains("the pio bus is frozen: uart"), e.getMessage());
        assertEquals(0x100, bus.read(0x600, 1));
        assertEquals(0xff, bus.read(0x3f8, 1));
    }

    record Placed(long base, long length) {}

    /** Ranges registered in any order and addresses anywhere: the bus finds what a linear scan finds. */
    @Property(tries = 300)
    void lookupAgreesWithALinearScan(@ForAll("layouts") List<Placed> ranges,
                                     @ForAll @LongRange(min = 0, max = 0x3000) long address,
                                     @ForAll @IntRange(min = 1, max = 8) int size) {
        Bus bus = new Bus("mmio");
        List<Placed> accepted = new ArrayList<>();
        for (Placed p : ranges) {
            boolean overlaps = accepted.stream().anyMatch(a -> p.base() < a.base() + a.length() && a.base() < p.base() + p.length());
            if (overlaps) {
                assertThrows(IllegalArgumentException.class, () -> bus.register(p.base(), p.length(), "d", new Recorder(0)));
            } else {
                bus.register(p.base(), p.length(), "d" + accepted.size(), new Recorder(accepted.size() + 1));
                accepted.add(p);
            }
        }
        bus.freeze();
        long expected = (1L << (size * 8)) - 1;
        if (size == 8) {
            expected = -1L;
        }
        for (int i = 0; i < accepted.size(); i++) {
            Placed p = accepted.get(i);
            if (address >= p.base() && address + size <= p.base() + p.length()) {
                expected = address - p.base() + 0x100L * (i + 1);
            }
        }
        assertEquals(expected, bus.read(address, size));
    }

    @Provide
    Arbitrary<List<Placed>> layouts() {
        Arbitrary<Placed> one = Arbitraries.longs().between(0, 0x2f00)
                .flatMap(base -> Arbitraries.longs().between(1, 0x300).map(len -> new Placed(base, len)));
        return one.list().ofMinSize(0).ofMaxSize(12);
    }
}
