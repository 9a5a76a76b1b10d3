package dev.vessel.devices.virtio.mmio;

import static dev.vessel.devices.virtio.mmio.VirtioMmioRegisters.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.devices.virtio.VirtioFeatures;
import dev.vessel.devices.virtio.VirtioStatus;
import dev.vessel.devices.virtio.queue.VirtqueueLayout;
import dev.vessel.memory.GuestMemory;
import dev.vessel.memory.MemoryRegion;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;

/**
 * Plays Linux's virtio_mmio driver against a transport: the probe, feature negotiation and queue
 * setup sequence of drivers/virtio/virtio_mmio.c, with rings in a small guest RAM.
 */
final class MmioDriver implements AutoCloseable {
    static final long RAM_BASE = 0x10_0000;
    static final long RAM_SIZE = 1 << 20;
    /** Queue i's rings live at RAM_BASE + i * QUEUE_STRIDE; data from DATA on. */
    static final long QUEUE_STRIDE = 0x1_0000;
    static final long DATA = RAM_BASE + 0x8_0000;

    final Arena arena = Arena.ofConfined();
    final MemorySegment ram = arena.allocate(RAM_SIZE, 4096);
    final GuestMemory memory = GuestMemory.of(List.of(new MemoryRegion(RAM_BASE, ram)));
    VirtioMmioTransport transport;

    int r(int offset) {
        return (int) transport.read(offset, 4);
    }

    void w(int offset, int value) {
        transport.write(offset, 4, Integer.toUnsignedLong(value));
    }

    int status() {
        return r(STATUS);
    }

    void addStatus(int bits) {
        w(STATUS, status() | bits); // as virtio_add_status does: read, or, write back
    }

    long deviceFeatures() {
        w(DEVICE_FEATURES_SEL, 1);
        long high = Integer.toUnsignedLong(r(DEVICE_FEATURES));
        w(DEVICE_FEATURES_SEL, 0);
        long low = Integer.toUnsignedLong(r(DEVICE_FEATURES));
        return high << 32 | low;
    }

    void writeDriverFeatures(long features) {
        w(DRIVER_FEATURES_SEL, 1);
        w(DRIVER_FEATURES, (int) (features >>> 32));
        w(DRIVER_FEATURES_SEL, 0);
        w(DRIVER_FEATURES, (int) features);
    }

    /** Probe: magic, version, device id; reset, ACKNOWLEDGE, DRIVER; features; FEATURES_OK. Returns whether FEATURES_OK stuck. */
    boolean probe(int expectedType, long driverSupports) {
        assertEquals(0x74726976, r(MAGIC_VALUE));
        assertEquals(2, r(VERSION));
        assertEquals(expectedType, r(DEVICE_ID));
        assertEquals(VirtioMmioTransport.VENDOR, r(VENDOR_ID));
        w(STATUS, 0);
        assertEquals(0, status());
        addStatus(VirtioStatus.ACKNOWLEDGE);
        addStatus(VirtioStatus.DRIVER);
        long offered = deviceFeatures();
        assertTrue(VirtioFeatures.has(offered, VirtioFeatures.VERSION_1));
        writeDriverFeatures(offered & driverSupports);
        addStatus(VirtioStatus.FEATURES_OK);
        return (status() & VirtioStatus.FEATURES_OK) != 0;
    }

    VirtqueueLayout layoutFor(int queue, int size) {
        long base = RAM_BASE + queue * QUEUE_STRIDE;
        return new VirtqueueLayout(size, base, base + 0x4000, base + 0x8000);
    }

    /** vm_setup_vq: select, check not ready, read max, write size and addresses, ready. Returns the size used. */
    int setupQueue(int queue, int size) {
        w(QUEUE_SEL, queue);
        assertEquals(0, r(QUEUE_READY), "queue " + queue + " must not be set up yet");
        int max = r(QUEUE_NUM_MAX);
        int n = size > 0 ? size : max;
        VirtqueueLayout l = layoutFor(queue, n);
        w(QUEUE_NUM, n);
        w(QUEUE_DESC_LOW, (int) l.descTable());
        w(QUEUE_DESC_HIGH, (int) (l.descTable() >>> 32));
        w(QUEUE_DRIVER_LOW, (int) l.availRing());
        w(QUEUE_DRIVER_HIGH, (int) (l.availRing() >>> 32));
        w(QUEUE_DEVICE_LOW, (int) l.usedRing());
        w(QUEUE_DEVICE_HIGH, (int) (l.usedRing() >>> 32));
        w(QUEUE_READY, 1);
        return n;
    }

    /** Full init: probe, set up every queue at its maximum size, DRIVER_OK. */
    void init(int type, long driverSupports, int queues) {
        assertTrue(probe(type, driverSupports), "features accepted");
        for (int i = 0; i < queues; i++) {
            setupQueue(i, 0);
        }
        addStatus(VirtioStatus.DRIVER_OK);
    }

    @Override
    public void close() {
        if (transport != null) {
            transport.close();
        }
        arena.close();
    }
}
