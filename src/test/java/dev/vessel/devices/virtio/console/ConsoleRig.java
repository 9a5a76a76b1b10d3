package dev.vessel.devices.virtio.console;

import static dev.vessel.devices.virtio.mmio.VirtioMmioRegisters.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.devices.InterruptLine;
import dev.vessel.devices.virtio.VirtioFeatures;
import dev.vessel.devices.virtio.VirtioStatus;
import dev.vessel.devices.virtio.mmio.VirtioMmioTransport;
import dev.vessel.memory.GuestMemory;
import dev.vessel.memory.MemoryRegion;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;

/**
 * A virtio-console behind a real virtio-mmio transport, with a test playing Linux's driver: the
 * probe and queue set-up of virtio_mmio.c, then buffers in each queue's split ring in a small
 * guest RAM. The worker runs on whichever thread submits work ({@code Runnable::run}), so a kick
 * is handled before {@link DriverQueue#kick} returns, unless another thread is in the worker.
 */
final class ConsoleRig implements AutoCloseable {
    static final long RAM_BASE = 0x10_0000;
    static final long RAM_SIZE = 8L << 20;
    static final long QUEUE_STRIDE = 0x4000;
    static final long DATA = RAM_BASE + (2L << 20);
    static final long MMIO_BASE = 0xD000_0000L;
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    final Arena arena = Arena.ofShared();
    final MemorySegment ram = arena.allocate(RAM_SIZE, 4096);
    final GuestMemory memory = GuestMemory.of(List.of(new MemoryRegion(RAM_BASE, ram)));
    final AtomicInteger interrupts = new AtomicInteger();
    final VirtioConsole device;
    final VirtioMmioTransport transport;
    final List<DriverQueue> queues = new ArrayList<>();
    private long nextData = DATA;

    ConsoleRig(VirtioConsole device) {
        this.device = device;
        this.transport = new VirtioMmioTransport(device, memory, MMIO_BASE, new InterruptLine() {
            @Override
            public void trigger() {
                interrupts.incrementAndGet();
            }

            @Override
            public void setLevel(boolean high) {
                throw new AssertionError("edge-triggered");
            }
        }, Runnable::run);
    }

    int r(int offset) {
        return (int) transport.read(offset, 4);
    }

    void w(int offset, int value) {
        transport.write(offset, 4, Integer.toUnsignedLong(value));
    }

    int status() {
        return r(STATUS);
    }

    long offeredFeatures() {
        w(DEVICE_FEATURES_SEL, 1);
        long high = Integer.toUnsignedLong(r(DEVICE_FEATURES));
        w(DEVICE_FEATURES_SEL, 0);
        return high << 32 | Integer.toUnsignedLong(r(DEVICE_FEATURES));
    }

    int configU16(int offset) {
        return (int) transport.read(CONFIG + offset, 2);
    }

    int configU32(int offset) {
        return (int) transport.read(CONFIG + offset, 4);
    }

    /**
     * What Linux does: reset, ACKNOWLEDGE, DRIVER, accept {@code wanted} of the offered features
     * (VERSION_1 and EVENT_IDX always), FEATURES_OK, every queue at its maximum size, DRIVER_OK.
     */
    void init(long wanted) {
        assertEquals(3, r(DEVICE_ID));
        w(STATUS, 0);
        w(STATUS, VirtioStatus.ACKNOWLEDGE);
        w(STATUS, VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER);
        long accept = offeredFeatures() & (wanted | VirtioFeatures.bit(VirtioFeatures.VERSION_1)
                | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX));
        w(DRIVER_FEATURES_SEL, 1);
        w(DRIVER_FEATURES, (int) (accept >>> 32));
        w(DRIVER_FEATURES_SEL, 0);
        w(DRIVER_FEATURES, (int) accept);
        w(STATUS, VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER | VirtioStatus.FEATURES_OK);
        assertTrue((status() & VirtioStatus.FEATURES_OK) != 0, "features accepted");
        queues.clear();
        ram.asSlice(0, device.queueCount() * QUEUE_STRIDE).fill((byte) 0); // fresh rings start zeroed, as Linux's do
        for (int q = 0; q < device.queueCount(); q++) {
            w(QUEUE_SEL, q);
            int size = r(QUEUE_NUM_MAX);
            long base = RAM_BASE + q * QUEUE_STRIDE;
            DriverQueue dq = new DriverQueue(q, size, base, VirtioFeatures.has(accept, VirtioFeatures.RING_EVENT_IDX));
            w(QUEUE_NUM, size);
            w(QUEUE_DESC_LOW, (int) dq.desc);
            w(QUEUE_DESC_HIGH, 0);
            w(QUEUE_DRIVER_LOW, (int) dq.avail);
            w(QUEUE_DRIVER_HIGH, 0);
            w(QUEUE_DEVICE_LOW, (int) dq.used);
            w(QUEUE_DEVICE_HIGH, 0);
            w(QUEUE_READY, 1);
            queues.add(dq);
        }
        w(STATUS, VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER | VirtioStatus.FEATURES_OK | VirtioStatus.DRIVER_OK);
        assertTrue(transport.isActive(), "active: " + transport.lastError());
    }

    DriverQueue q(int index) {
        return queues.get(index);
    }

    /** Guest RAM for a buffer (never reused). */
    long alloc(int length) {
        long a = nextData;
        nextData = (nextData + length + 63) & ~63L;
        if (nextData > RAM_BASE + RAM_SIZE) {
            throw new IllegalStateException("test RAM exhausted");
        }
        return a;
    }

    void write(long gpa, byte[] data) {
        MemorySegment.copy(data, 0, ram, ValueLayout.JAVA_BYTE, gpa - RAM_BASE, data.length);
    }

    byte[] read(long gpa, int length) {
        return ram.asSlice(gpa - RAM_BASE, length).toArray(ValueLayout.JAVA_BYTE);
    }

    static void await(String what, BooleanSupplier condition) throws InterruptedException {
        await(what, Duration.ofSeconds(10), condition);
    }

    static void await(String what, Duration timeout, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(2);
        }
    }

    @Override
    public void close() {
        transport.close();
        device.close();
        arena.close();
    }

    /** A used element the device returned. */
    record Used(int head, int length, byte[] data) {}

    /** The driver's side of one split virtqueue. */
    final class DriverQueue {
        final int index;
        final int size;
        final long desc;
        final long avail;
        final long used;
        final boolean eventIdx;
        private final ArrayDeque<Integer> free = new ArrayDeque<>();
        /** head -> (buffer address, length, descriptor count, writable) of what the driver put there. */
        private final Map<Integer, long[]> outstanding = new HashMap<>();
        private int availIdx;
        private int lastUsed;

        DriverQueue(int index, int size, long base, boolean eventIdx) {
            this.index = index;
            this.size = size;
            this.desc = base;
            this.avail = base + 16L * size;
            this.used = (avail + 6 + 2L * size + 3) & ~3L;
            this.eventIdx = eventIdx;
            if (used + 6 + 8L * size > base + QUEUE_STRIDE) {
                throw new IllegalStateException("queue " + index + " does not fit its stride");
            }
            for (int i = 0; i < size; i++) {
                free.add(i);
            }
        }

        private void putDesc(int i, long addr, int len, int flags, int next) {
            long o = desc + 16L * i - RAM_BASE;
            ram.set(U64, o, addr);
            ram.set(U32, o + 8, len);
            ram.set(U16, o + 12, (short) flags);
            ram.set(U16, o + 14, (short) next);
        }

        /** Makes a chain of buffers available: readable parts then writable lengths. Returns its head. */
        int add(List<byte[]> readable, List<Integer> writable) {
            int n = readable.size() + writable.size();
            if (free.size() < n) {
                throw new IllegalStateException("queue " + index + " has no room for " + n + " descriptors");
            }
            int[] ids = new int[n];
            for (int i = 0; i < n; i++) {
                ids[i] = free.poll();
            }
            long firstAddr = 0;
            int firstLen = 0;
            for (int i = 0; i < n; i++) {
                boolean w = i >= readable.size();
                int len = w ? writable.get(i - readable.size()) : readable.get(i).length;
                long a = alloc(Math.max(len, 1));
                if (!w) {
                    write(a, readable.get(i));
                }
                if (i == 0) {
                    firstAddr = a;
                    firstLen = len;
                }
                int flags = (i + 1 < n ? 1 : 0) | (w ? 2 : 0);
                putDesc(ids[i], a, len, flags, i + 1 < n ? ids[i + 1] : 0);
            }
            outstanding.put(ids[0], new long[] {firstAddr, firstLen, n, ids.length});
            publish(ids[0], ids);
            return ids[0];
        }

        /** A chain whose only descriptor points outside guest RAM (bad). */
        int addBad() {
            int id = free.poll();
            putDesc(id, 0x7000_0000_0000L, 64, 0, 0);
            outstanding.put(id, new long[] {0, 0, 1});
            publish(id, new int[] {id});
            return id;
        }

        private final Map<Integer, int[]> chainIds = new HashMap<>();

        private void publish(int head, int[] ids) {
            chainIds.put(head, ids);
            ram.set(U16, avail + 4 + 2L * (availIdx % size) - RAM_BASE, (short) head);
            availIdx = (availIdx + 1) & 0xFFFF;
            ram.set(U16, avail + 2 - RAM_BASE, (short) availIdx);
        }

        int send(byte[] data) {
            return add(List.of(data), List.of());
        }

        int post(int length) {
            return add(List.of(), List.of(length));
        }

        /** Posts {@code count} receive buffers of {@code length} bytes. */
        void post(int count, int length) {
            for (int i = 0; i < count; i++) {
                post(length);
            }
        }

        void kick() {
            w(QUEUE_NOTIFY, index);
        }

        int usedIdx() {
            return Short.toUnsignedInt(ram.get(U16, used + 2 - RAM_BASE));
        }

        /** Used elements returned since the last call, with the bytes the device wrote (from the first buffer). */
        List<Used> takeUsed() {
            List<Used> out = new ArrayList<>();
            int now = usedIdx();
            while (lastUsed != now) {
                long e = used + 4 + 8L * (lastUsed % size) - RAM_BASE;
                int head = ram.get(U32, e);
                int len = ram.get(U32, e + 4);
                long[] info = outstanding.remove(head);
                if (info == null) {
                    throw new AssertionError("queue " + index + ": device returned head " + head + " twice or never given");
                }
                byte[] data = info[0] == 0 ? new byte[0] : read(info[0], (int) Math.min(len, info[1]));
                out.add(new Used(head, len, data));
                for (int id : chainIds.remove(head)) {
                    free.add(id);
                }
                lastUsed = (lastUsed + 1) & 0xFFFF;
            }
            return out;
        }

        int outstandingCount() {
            return outstanding.size();
        }
    }
}
