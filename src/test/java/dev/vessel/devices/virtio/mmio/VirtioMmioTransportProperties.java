package dev.vessel.devices.virtio.mmio;

import static dev.vessel.devices.virtio.mmio.VirtioMmioRegisters.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.devices.virtio.AbstractVirtioDevice;
import dev.vessel.devices.virtio.VirtioStatus;
import dev.vessel.devices.virtio.queue.ChainReader;
import dev.vessel.devices.virtio.queue.ChainWriter;
import dev.vessel.devices.virtio.queue.Virtqueue;
import dev.vessel.devices.virtio.queue.VirtqueueException;
import dev.vessel.devices.virtio.queue.VirtqueueLayout;
import dev.vessel.memory.GuestMemory;
import dev.vessel.memory.MemoryRegion;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.statistics.Statistics;

/**
 * A hostile driver on the register interface: random accesses of any size at any offset, queue
 * kicks, and scribbles over the rings, optionally after a correct Linux initialisation so that the
 * device is live and works on garbage rings. Nothing may throw, the status must stay a valid
 * state, and memory outside guest RAM must not change.
 */
class VirtioMmioTransportProperties {
    private static final int[] OFFSETS = {MAGIC_VALUE, VERSION, DEVICE_ID, VENDOR_ID, DEVICE_FEATURES,
        DEVICE_FEATURES_SEL, DRIVER_FEATURES, DRIVER_FEATURES_SEL, QUEUE_SEL, QUEUE_NUM_MAX, QUEUE_NUM, QUEUE_READY,
        QUEUE_NOTIFY, INTERRUPT_STATUS, INTERRUPT_ACK, STATUS, QUEUE_DESC_LOW, QUEUE_DESC_HIGH, QUEUE_DRIVER_LOW,
        QUEUE_DRIVER_HIGH, QUEUE_DEVICE_LOW, QUEUE_DEVICE_HIGH, SHM_SEL, SHM_LEN_LOW, QUEUE_RESET, CONFIG_GENERATION,
        CONFIG, CONFIG + 4, CONFIG + 6, CONFIG + 7, 0x1FC, 0x1FF, 0x200, 0x72, -4};
    private static final int[] SIZES = {4, 4, 4, 4, 1, 2, 8, 3, 0, -1};
    private static final int GUARD = 4096;
    private static final long RAM_BASE = 0x10_0000;
    private static final long RAM_SIZE = 1 << 20;

    /** Echoes readable bytes back, reversed, into the writable part. */
    static final class EchoDevice extends AbstractVirtioDevice {
        EchoDevice() {
            super(3, 1, new int[] {16, 8, 0, 4}, 12);
        }

        @Override
        public void writeConfig(int offset, int size, int value) {
            config.write(offset, size, value);
            configChanged();
        }

        @Override
        protected void processQueue(int index, Virtqueue queue) throws VirtqueueException {
            drain(queue, chain -> {
                ChainReader in = chain.reader();
                byte[] data = in.readBytes(Math.min(in.remaining(), 4096));
                ChainWriter out = chain.writer();
                int n = Math.min(data.length, out.remaining());
                for (int i = 0; i < n; i++) {
                    out.writeByte(data[data.length - 1 - i]);
                }
                return out.position();
            });
        }
    }

    @Property(tries = 300)
    void anyRegisterTrafficKeepsTheTransportConsistent(@ForAll long seed, @ForAll boolean initialise) {
        Random rnd = new Random(seed);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment host = arena.allocate(RAM_SIZE + 2 * GUARD, 4096);
            host.fill((byte) 0x5A);
            MemorySegment ram = host.asSlice(GUARD, RAM_SIZE);
            ram.fill((byte) 0);
            GuestMemory memory = GuestMemory.of(List.of(new MemoryRegion(RAM_BASE, ram)));
            VirtioMmioTransportTest.CountingLine line = new VirtioMmioTransportTest.CountingLine();
            EchoDevice device = new EchoDevice();
            VirtioMmioTransport t = new VirtioMmioTransport(device, memory, 0xD000_0000L, line, Runnable::run);

            if (initialise) {
                initialise(t, rnd);
            }
            int ops = 50 + rnd.nextInt(250);
            for (int op = 0; op < ops; op++) {
                int kind = rnd.nextInt(10);
                if (kind < 4) {
                    t.write(offset(rnd), SIZES[rnd.nextInt(SIZES.length)], value(rnd));
                } else if (kind < 6) {
                    t.read(offset(rnd), SIZES[rnd.nextInt(SIZES.length)]);
                } else if (kind < 8) {
                    int q = rnd.nextInt(6) - 1;
                    if (rnd.nextBoolean()) {
                        t.write(QUEUE_NOTIFY, 4, q);
                    } else {
                        t.onQueueNotify(q);
                    }
                } else {
                    scribble(ram, rnd);
                }
                checkInvariants(t);
            }
            int served = 0;
            for (int q = 0; q < 4; q++) {
                served += Short.toUnsignedInt(ram.get(ValueLayout.JAVA_SHORT_UNALIGNED, q * 0x1_0000L + 0x8002));
            }
            Statistics.label("used entries published").collect(served == 0 ? "none" : served < 5 ? "1-4" : "5+");
            Statistics.label("final status").collect(VirtioStatus.describe(t.status() & ~VirtioStatus.FAILED));
            t.close();
            assertEquals(0, t.status(), "closed means reset");
            for (long i = 0; i < GUARD; i++) {
                assertEquals((byte) 0x5A, host.get(ValueLayout.JAVA_BYTE, i));
                assertEquals((byte) 0x5A, host.get(ValueLayout.JAVA_BYTE, GUARD + RAM_SIZE + i));
            }
        }
    }

    /** The driver writes descriptors and ring fields, plausible or not. Queue q's rings: q * 0x10000 + 0, 0x4000, 0x8000. */
    private static void scribble(MemorySegment ram, Random rnd) {
        long queue = rnd.nextInt(4) * 0x1_0000L;
        switch (rnd.nextInt(4)) {
            case 0 -> { // a descriptor, pointing into the data area or anywhere
                long at = queue + 16L * rnd.nextInt(17);
                long addr = rnd.nextInt(4) == 0 ? rnd.nextLong() : RAM_BASE + 0x8_0000 + rnd.nextInt(0x1000);
                ram.set(ValueLayout.JAVA_LONG_UNALIGNED, at, addr);
                ram.set(ValueLayout.JAVA_INT_UNALIGNED, at + 8, rnd.nextInt(4) == 0 ? rnd.nextInt() : rnd.nextInt(128));
                ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, at + 12, (short) rnd.nextInt(rnd.nextInt(4) == 0 ? 65536 : 8));
                ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, at + 14, (short) rnd.nextInt(rnd.nextInt(4) == 0 ? 65536 : 17));
            }
            case 1 -> { // an available ring entry and a bumped index
                long avail = queue + 0x4000;
                int idx = Short.toUnsignedInt(ram.get(ValueLayout.JAVA_SHORT_UNALIGNED, avail + 2));
                ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, avail + 4 + 2L * (idx % 4), (short) rnd.nextInt(17));
                ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, avail + 2, (short) (idx + (rnd.nextInt(8) == 0 ? rnd.nextInt(65536) : 1)));
            }
            case 2 -> // flags or used_event
                ram.set(ValueLayout.JAVA_SHORT_UNALIGNED, queue + 0x4000 + (rnd.nextBoolean() ? 0 : 4 + 2L * (4 << rnd.nextInt(3))),
                        (short) rnd.nextInt(65536));
            default -> { // anything in the ring areas
                long at = queue + 0x4000L * rnd.nextInt(3) + rnd.nextInt(256);
                byte[] junk = new byte[1 + rnd.nextInt(16)];
                rnd.nextBytes(junk);
                MemorySegment.copy(junk, 0, ram, ValueLayout.JAVA_BYTE, at, junk.length);
            }
        }
    }

    private static void checkInvariants(VirtioMmioTransport t) {
        int s = (int) t.read(STATUS, 4);
        assertEquals(s, t.status());
        assertEquals(0, s & 0x30, "no unknown status bits");
        if ((s & VirtioStatus.DRIVER_OK) != 0) {
            assertTrue((s & VirtioStatus.FEATURES_OK) != 0, "DRIVER_OK implies FEATURES_OK");
        }
        if ((s & VirtioStatus.FEATURES_OK) != 0) {
            assertTrue((s & VirtioStatus.DRIVER) != 0, "FEATURES_OK implies DRIVER");
        }
        if ((s & VirtioStatus.DRIVER) != 0) {
            assertTrue((s & VirtioStatus.ACKNOWLEDGE) != 0, "DRIVER implies ACKNOWLEDGE");
        }
        if (t.isActive()) {
            assertTrue((s & VirtioStatus.DRIVER_OK) != 0);
            assertEquals(0, s & VirtioStatus.DEVICE_NEEDS_RESET);
        }
        assertEquals(0, t.read(INTERRUPT_STATUS, 4) & ~3L, "only the two interrupt bits");
        assertEquals(0x74726976L, t.read(MAGIC_VALUE, 4));
    }

    /** Linux's sequence, with queues at the spots the scribbles aim at. */
    private static void initialise(VirtioMmioTransport t, Random rnd) {
        t.write(STATUS, 4, 0);
        t.write(STATUS, 4, 1);
        t.write(STATUS, 4, 3);
        t.write(DEVICE_FEATURES_SEL, 4, 1);
        long high = t.read(DEVICE_FEATURES, 4);
        t.write(DEVICE_FEATURES_SEL, 4, 0);
        long low = t.read(DEVICE_FEATURES, 4);
        t.write(DRIVER_FEATURES_SEL, 4, 1);
        t.write(DRIVER_FEATURES, 4, high);
        t.write(DRIVER_FEATURES_SEL, 4, 0);
        t.write(DRIVER_FEATURES, 4, low & (rnd.nextBoolean() ? -1 : ~(3L << 28)));
        t.write(STATUS, 4, 11);
        for (int q = 0; q < 4; q++) {
            t.write(QUEUE_SEL, 4, q);
            int max = (int) t.read(QUEUE_NUM_MAX, 4);
            if (max == 0) {
                continue;
            }
            int size = max >> rnd.nextInt(2);
            long base = RAM_BASE + q * 0x1_0000L;
            VirtqueueLayout l = new VirtqueueLayout(size, base, base + 0x4000, base + 0x8000);
            t.write(QUEUE_NUM, 4, size);
            t.write(QUEUE_DESC_LOW, 4, l.descTable());
            t.write(QUEUE_DRIVER_LOW, 4, l.availRing());
            t.write(QUEUE_DEVICE_LOW, 4, l.usedRing());
            t.write(QUEUE_READY, 4, 1);
        }
        t.write(STATUS, 4, 15);
        assertTrue(t.isActive());
    }

    private static long offset(Random rnd) {
        return switch (rnd.nextInt(5)) {
            case 0 -> rnd.nextInt(0x220);
            case 1 -> rnd.nextLong();
            default -> OFFSETS[rnd.nextInt(OFFSETS.length)];
        };
    }

    private static long value(Random rnd) {
        return switch (rnd.nextInt(6)) {
            case 0 -> rnd.nextInt(16);
            case 1 -> 1L << rnd.nextInt(64);
            case 2 -> RAM_BASE + rnd.nextInt(4) * 0x1_0000L + 0x4000L * rnd.nextInt(3);
            case 3 -> 0;
            case 4 -> rnd.nextInt(256);
            default -> rnd.nextLong();
        };
    }
}
