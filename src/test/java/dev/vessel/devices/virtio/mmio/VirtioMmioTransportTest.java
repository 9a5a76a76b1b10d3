package dev.vessel.devices.virtio.mmio;

import static dev.vessel.devices.virtio.mmio.VirtioMmioRegisters.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.devices.Bus;
import dev.vessel.devices.InterruptLine;
import dev.vessel.devices.virtio.AbstractVirtioDevice;
import dev.vessel.devices.virtio.VirtioContext;
import dev.vessel.devices.virtio.VirtioFeatures;
import dev.vessel.devices.virtio.VirtioStatus;
import dev.vessel.devices.virtio.queue.ChainWriter;
import dev.vessel.devices.virtio.queue.Virtqueue;
import dev.vessel.devices.virtio.queue.VirtqueueException;
import dev.vessel.devices.virtio.queue.VirtqueueLayout;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class VirtioMmioTransportTest {
    static final int ACK = VirtioStatus.ACKNOWLEDGE;
    static final int DRIVER = VirtioStatus.DRIVER;
    static final int FEATURES_OK = VirtioStatus.FEATURES_OK;
    static final int DRIVER_OK = VirtioStatus.DRIVER_OK;
    static final int NEEDS_RESET = VirtioStatus.DEVICE_NEEDS_RESET;
    static final int FAILED = VirtioStatus.FAILED;
    static final long BASE = 0xD000_0000L;
    static final long ALL = -1L;
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** Counts edges. */
    static final class CountingLine implements InterruptLine {
        final AtomicInteger edges = new AtomicInteger();

        @Override
        public void trigger() {
            edges.incrementAndGet();
        }

        @Override
        public void setLevel(boolean high) {
            throw new AssertionError("virtio-mmio is edge-triggered");
        }
    }

    final MmioDriver driver = new MmioDriver();
    final CountingLine line = new CountingLine();
    RecordingDevice device = new RecordingDevice(2, VirtioFeatures.bit(5) | VirtioFeatures.bit(30)
            | VirtioFeatures.bit(55), 16, 256, 128, 0);

    VirtioMmioTransport transport(Executor executor) {
        driver.transport = new VirtioMmioTransport(device, driver.memory, BASE, line, executor);
        return driver.transport;
    }

    VirtioMmioTransport transport() {
        return transport(Runnable::run);
    }

    @AfterEach
    void close() {
        driver.close();
    }

    int r(int offset) {
        return driver.r(offset);
    }

    void w(int offset, int value) {
        driver.w(offset, value);
    }

    @Test
    void linuxProbeAndInit() {
        VirtioMmioTransport t = transport();
        assertEquals(t, device.transport, "attached at construction");
        assertTrue(driver.probe(2, ALL));
        long offered = driver.deviceFeatures();
        assertEquals(VirtioFeatures.bit(5) | VirtioFeatures.bit(55) | VirtioFeatures.bit(VirtioFeatures.VERSION_1)
                | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX) | VirtioFeatures.bit(VirtioFeatures.INDIRECT_DESC),
                offered, "device bits (minus the transport range) plus the transport's own");
        assertEquals(offered, t.offeredFeatures());
        w(DEVICE_FEATURES_SEL, 2);
        assertEquals(0, r(DEVICE_FEATURES));
        assertEquals(ACK | DRIVER | FEATURES_OK, driver.status());

        w(QUEUE_SEL, 0);
        assertEquals(256, r(QUEUE_NUM_MAX));
        w(QUEUE_SEL, 1);
        assertEquals(128, r(QUEUE_NUM_MAX));
        w(QUEUE_SEL, 2);
        assertEquals(0, r(QUEUE_NUM_MAX), "queue 2 has size 0: it does not exist");
        w(QUEUE_SEL, 3);
        assertEquals(0, r(QUEUE_NUM_MAX));

        assertEquals(256, driver.setupQueue(0, 0));
        assertEquals(64, driver.setupQueue(1, 64), "Linux may pick less than the maximum");
        w(QUEUE_SEL, 0);
        assertEquals(1, r(QUEUE_READY));
        assertEquals(List.of("reset"), device.events, "only the probe's reset so far");
        device.events.clear();
        driver.addStatus(DRIVER_OK);
        assertEquals(ACK | DRIVER | FEATURES_OK | DRIVER_OK, driver.status());
        assertTrue(t.isActive());

        assertEquals(List.of("activate", "notify 0", "notify 1"), device.events,
                "activated, then one look at every enabled queue");
        VirtioContext ctx = device.context;
        assertEquals(offered, ctx.features());
        assertTrue(ctx.hasFeature(VirtioFeatures.VERSION_1));
        assertEquals(3, ctx.queueCount());
        assertEquals(driver.layoutFor(0, 256), ctx.queue(0).layout());
        assertEquals(driver.layoutFor(1, 64), ctx.queue(1).layout());
        assertTrue(ctx.queue(0).eventIdx());
        assertTrue(ctx.queue(0).indirectDescriptors());
        assertNull(ctx.queue(2));
        assertNull(ctx.queue(-1));
        assertNull(ctx.queue(3));
        assertEquals(driver.memory, ctx.memory());

        w(QUEUE_NOTIFY, 1);
        w(QUEUE_NOTIFY, 2);
        w(QUEUE_NOTIFY, -1);
        w(QUEUE_NOTIFY, 1 << 16);
        t.onQueueNotify(0);
        assertEquals(List.of("activate", "notify 0", "notify 1", "notify 1", "notify 0"), device.events,
                "kicks for queues that are not enabled are dropped");
    }

    @Test
    void driverWithoutEventIdxOrIndirectGetsPlainQueues() {
        transport();
        long plain = ALL & ~VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX) & ~VirtioFeatures.bit(VirtioFeatures.INDIRECT_DESC);
        driver.init(2, plain, 1);
        Virtqueue q = device.context.queue(0);
        assertFalse(q.eventIdx());
        assertFalse(q.indirectDescriptors());
    }

    @Test
    void notificationsBeforeDriverOkAreDropped() {
        VirtioMmioTransport t = transport();
        t.onQueueNotify(0);
        assertTrue(driver.probe(2, ALL));
        driver.setupQueue(0, 0);
        w(QUEUE_NOTIFY, 0);
        assertEquals(List.of("reset"), device.events);
        assertEquals(BASE + 0x50, t.notifyAddress());
    }

    @Test
    void queueSizeMustBeAPowerOfTwoWithinTheMaximum() {
        for (int size : new int[] {100, 0, 512, -1, 3}) {
            device = new RecordingDevice(2, 0, 0, 256);
            transport();
            assertTrue(driver.probe(2, ALL));
            w(QUEUE_SEL, 0);
            VirtqueueLayout l = driver.layoutFor(0, 256);
            w(QUEUE_NUM, size);
            w(QUEUE_DESC_LOW, (int) l.descTable());
            w(QUEUE_DRIVER_LOW, (int) l.availRing());
            w(QUEUE_DEVICE_LOW, (int) l.usedRing());
            w(QUEUE_READY, 1);
            assertEquals(0, r(QUEUE_READY), "size " + size + " refused");
            assertEquals(NEEDS_RESET, driver.status() & NEEDS_RESET);
            assertTrue(driver.transport.lastError().contains("queue 0"), driver.transport.lastError());
            driver.addStatus(DRIVER_OK);
            assertEquals(0, driver.status() & DRIVER_OK, "a device that needs a reset does not go live");
            assertEquals(List.of("reset"), device.events);
            w(STATUS, 0);
            assertEquals(0, driver.status(), "reset clears DEVICE_NEEDS_RESET");
            driver.transport.close();
        }
    }

    @Test
    void queueAddressesMustBeAlignedRam() {
        transport();
        assertTrue(driver.probe(2, ALL));
        long[][] bad = {
            {MmioDriver.RAM_BASE + 8, MmioDriver.RAM_BASE + 0x4000, MmioDriver.RAM_BASE + 0x8000},
            {MmioDriver.RAM_BASE, MmioDriver.RAM_BASE + 0x4001, MmioDriver.RAM_BASE + 0x8000},
            {MmioDriver.RAM_BASE, MmioDriver.RAM_BASE + 0x4000, MmioDriver.RAM_BASE + 0x8002},
            {0, MmioDriver.RAM_BASE + 0x4000, MmioDriver.RAM_BASE + 0x8000},
            {MmioDriver.RAM_BASE, MmioDriver.RAM_BASE + 0x4000, MmioDriver.RAM_BASE + MmioDriver.RAM_SIZE - 8},
            {MmioDriver.RAM_BASE | (1L << 40), MmioDriver.RAM_BASE + 0x4000, MmioDriver.RAM_BASE + 0x8000},
        };
        for (long[] b : bad) {
            w(QUEUE_SEL, 0);
            w(QUEUE_NUM, 256);
            w(QUEUE_DESC_LOW, (int) b[0]);
            w(QUEUE_DESC_HIGH, (int) (b[0] >>> 32));
            w(QUEUE_DRIVER_LOW, (int) b[1]);
            w(QUEUE_DRIVER_HIGH, 0);
            w(QUEUE_DEVICE_LOW, (int) b[2]);
            w(QUEUE_DEVICE_HIGH, 0);
            w(QUEUE_READY, 1);
            assertEquals(0, r(QUEUE_READY));
        }
        assertEquals(NEEDS_RESET, driver.status() & NEEDS_RESET);
    }

    @Test
    void featureNegotiationFailuresLeaveFeaturesOkClear() {
        transport();
        // No VERSION_1.
        assertFalse(driver.probe(2, ALL & ~VirtioFeatures.bit(VirtioFeatures.VERSION_1)));
        assertEquals(ACK | DRIVER, driver.status());
        assertTrue(driver.transport.lastError().contains("VERSION_1"));
        // A feature that was not offered.
        w(STATUS, 0);
        driver.addStatus(ACK);
        driver.addStatus(DRIVER);
        driver.writeDriverFeatures(driver.deviceFeatures() | VirtioFeatures.bit(6));
        driver.addStatus(FEATURES_OK);
        assertEquals(0, driver.status() & FEATURES_OK);
        assertTrue(driver.transport.lastError().contains("not offered"));
        // Bits above 63.
        w(STATUS, 0);
        driver.addStatus(ACK);
        driver.addStatus(DRIVER);
        driver.writeDriverFeatures(driver.deviceFeatures());
        w(DRIVER_FEATURES_SEL, 2);
        w(DRIVER_FEATURES, 1);
        driver.addStatus(FEATURES_OK);
        assertEquals(0, driver.status() & FEATURES_OK);
        // The device itself refuses.
        device.acceptFeatures = false;
        assertFalse(driver.probe(2, ALL));
        device.acceptFeatures = true;
        // The driver may try again with acceptable features without a reset.
        driver.writeDriverFeatures(driver.deviceFeatures());
        driver.addStatus(FEATURES_OK);
        assertEquals(FEATURES_OK, driver.status() & FEATURES_OK);
    }

    @Test
    void versionOneAloneIsEnough() {
        transport();
        assertTrue(driver.probe(2, VirtioFeatures.bit(VirtioFeatures.VERSION_1)), "VERSION_1 alone is enough");
        assertEquals(VirtioFeatures.bit(VirtioFeatures.VERSION_1), negotiatedAfterDriverOk());
    }

    private long negotiatedAfterDriverOk() {
        driver.addStatus(DRIVER_OK);
        return device.context.features();
    }

    @Test
    void statusWritesInTheWrongStateAreIgnored() {
        transport();
        w(STATUS, DRIVER);
        assertEquals(0, driver.status(), "DRIVER needs ACKNOWLEDGE");
        w(STATUS, ACK | FEATURES_OK);
        assertEquals(0, driver.status(), "FEATURES_OK needs DRIVER");
        w(STATUS, ACK);
        w(STATUS, ACK | DRIVER_OK);
        assertEquals(ACK, driver.status(), "DRIVER_OK needs FEATURES_OK");
        w(STATUS, ACK | 0x10);
        assertEquals(ACK, driver.status(), "unknown bits");
        w(DRIVER_FEATURES, 0xFFFF_FFFF);
        w(STATUS, ACK | DRIVER);
        w(STATUS, ACK);
        assertEquals(ACK | DRIVER, driver.status(), "bits are only cleared by a reset");
        w(STATUS, ACK | DRIVER | NEEDS_RESET);
        assertEquals(ACK | DRIVER, driver.status(), "the driver cannot set DEVICE_NEEDS_RESET");

        // Queue registers before FEATURES_OK are ignored.
        w(QUEUE_SEL, 0);
        VirtqueueLayout l = driver.layoutFor(0, 256);
        w(QUEUE_DESC_HIGH, 1);
        w(QUEUE_READY, 1);
        assertEquals(0, r(QUEUE_READY));

        // DriverFeatures written before DRIVER was ignored: only VERSION_1 now, then FEATURES_OK.
        w(DRIVER_FEATURES_SEL, 1);
        w(DRIVER_FEATURES, 1);
        driver.addStatus(FEATURES_OK);
        assertEquals(ACK | DRIVER | FEATURES_OK, driver.status());
        w(DRIVER_FEATURES_SEL, 0);
        w(DRIVER_FEATURES, 1 << 5);
        // Set the queue up without the high halves: the DescHigh=1 written before FEATURES_OK did not stick.
        w(QUEUE_NUM, 256);
        w(QUEUE_DESC_LOW, (int) l.descTable());
        w(QUEUE_DRIVER_LOW, (int) l.availRing());
        w(QUEUE_DEVICE_LOW, (int) l.usedRing());
        w(QUEUE_READY, 1);
        assertEquals(1, r(QUEUE_READY));
        assertEquals(0, driver.status() & NEEDS_RESET);
        // Addresses and size are frozen while the queue is ready.
        w(QUEUE_NUM, 16);
        w(QUEUE_DESC_LOW, 0x1234_0000);
        driver.setupQueue(1, 0);
        driver.addStatus(DRIVER_OK);
        assertEquals(VirtioFeatures.bit(VirtioFeatures.VERSION_1), device.context.features(),
                "DriverFeatures after FEATURES_OK is ignored");
        assertEquals(driver.layoutFor(0, 256), device.context.queue(0).layout());

        // After DRIVER_OK, queue registers are frozen: QueueReady=0 is ignored.
        w(QUEUE_SEL, 0);
        w(QUEUE_READY, 0);
        assertEquals(1, r(QUEUE_READY));

        // FAILED is accepted; after it, only a reset.
        driver.addStatus(FAILED);
        assertEquals(FAILED, driver.status() & FAILED);
        int before = driver.status();
        w(STATUS, before | 0x10);
        assertEquals(before, driver.status());
        w(STATUS, 0);
        assertEquals(0, driver.status());
    }

    @Test
    void failedBeforeDriverOkStopsInitialisation() {
        transport();
        assertTrue(driver.probe(2, ALL));
        driver.addStatus(FAILED);
        driver.setupQueue(0, 0);
        w(QUEUE_SEL, 0);
        assertEquals(0, r(QUEUE_READY), "no queue setup after FAILED");
        driver.addStatus(DRIVER_OK);
        assertEquals(0, driver.status() & DRIVER_OK);
        assertEquals(List.of("reset"), device.events);
    }

    @Test
    void resetClearsEverything() throws Exception {
        VirtioMmioTransport t = transport();
        driver.init(2, ALL, 2);
        VirtioContext ctx = device.context;
        Virtqueue q0 = ctx.queue(0);
        ctx.signalUsed();
        ctx.configChanged();
        assertEquals(3, r(INTERRUPT_STATUS));
        w(DEVICE_FEATURES_SEL, 1);
        w(QUEUE_SEL, 1);

        w(STATUS, 0);
        assertEquals(0, driver.status());
        assertEquals(0, r(INTERRUPT_STATUS));
        assertEquals(2, device.count("reset"), "the probe's and this one");
        assertNull(device.context);
        assertFalse(ctx.isLive());
        assertFalse(q0.isLive());
        assertNull(q0.pop());
        assertFalse(t.isActive());
        int edges = line.edges.get();
        ctx.signalUsed();
        ctx.configChanged();
        ctx.fail("too late");
        assertEquals(0, r(INTERRUPT_STATUS), "an old activation raises nothing");
        assertEquals(0, driver.status());
        assertEquals(edges, line.edges.get());
        for (int q = 0; q < 2; q++) {
            w(QUEUE_SEL, q);
            assertEquals(0, r(QUEUE_READY));
        }
        // Selectors are back to 0: DeviceFeatures shows the low word again.
        assertEquals((int) t.offeredFeatures(), r(DEVICE_FEATURES));

        // Back to work with a fresh activation.
        device.events.clear();
        driver.init(2, ALL, 1);
        assertEquals(List.of("reset", "activate", "notify 0"), device.events);
        assertNotNull(device.context.queue(0));
        assertNotEquals(ctx, device.context);
    }

    @Test
    void interruptsAndAcknowledgement() {
        VirtioMmioTransport t = transport();
        int generation = r(CONFIG_GENERATION);
        t.configChanged();
        assertEquals(generation + 1, r(CONFIG_GENERATION), "generation changes before DRIVER_OK too");
        assertEquals(0, r(INTERRUPT_STATUS), "but no interrupt before DRIVER_OK");
        assertEquals(0, line.edges.get());

        driver.init(2, ALL, 1);
        VirtioContext ctx = device.context;
        ctx.signalUsed();
        assertEquals(VirtioMmioTransport.INTERRUPT_USED_BUFFER, r(INTERRUPT_STATUS));
        assertEquals(1, line.edges.get());
        ctx.signalUsed();
        assertEquals(2, line.edges.get(), "an edge for every signal, even with the bit already set");
        device.config.putU32(0, 0xCAFE);
        ctx.configChanged();
        assertEquals(generation + 2, r(CONFIG_GENERATION));
        assertEquals(3, r(INTERRUPT_STATUS));
        assertEquals(3, line.edges.get());
        w(INTERRUPT_ACK, 1);
        assertEquals(2, r(INTERRUPT_STATUS));
        w(INTERRUPT_ACK, 0xFFFF_FFF0);
        assertEquals(2, r(INTERRUPT_STATUS));
        w(INTERRUPT_ACK, 2);
        assertEquals(0, r(INTERRUPT_STATUS));
        assertFalse(ctx.notifyIfNeeded(ctx.queue(0)), "nothing used: nothing to notify");
        assertFalse(ctx.notifyIfNeeded(null));
        assertEquals(3, line.edges.get());
    }

    @Test
    void failingTheDevice() {
        VirtioMmioTransport t = transport();
        driver.init(2, ALL, 1);
        VirtioContext ctx = device.context;
        Virtqueue q = ctx.queue(0);
        ctx.fail("corrupt ring");
        assertEquals(NEEDS_RESET, driver.status() & NEEDS_RESET);
        assertEquals(DRIVER_OK, driver.status() & DRIVER_OK);
        assertEquals(VirtioMmioTransport.INTERRUPT_CONFIG_CHANGE, r(INTERRUPT_STATUS), "the driver is told");
        assertEquals(1, line.edges.get());
        assertTrue(t.lastError().contains("corrupt ring"));
        assertFalse(ctx.isLive());
        assertFalse(q.isLive());
        assertFalse(t.isActive());
        device.events.clear();
        w(QUEUE_NOTIFY, 0);
        assertTrue(device.events.isEmpty(), "a failed device gets no more work");
        ctx.fail("again");
        assertEquals(1, line.edges.get(), "failing twice tells the driver once");
        driver.addStatus(0); // Linux writes the status back with DEVICE_NEEDS_RESET in it: harmless
        w(STATUS, 0);
        assertEquals(0, driver.status());
    }

    @Test
    void theHostSideCanFailTheDevice() {
        VirtioMmioTransport t = transport();
        t.failDevice("before activation");
        assertEquals(0, driver.status() & NEEDS_RESET, "nothing to fail before DRIVER_OK");
        assertEquals("before activation", t.lastError());
        driver.init(2, ALL, 1);
        t.failDevice("a kick handler failed");
        assertEquals(NEEDS_RESET, driver.status() & NEEDS_RESET);
        assertEquals(VirtioMmioTransport.INTERRUPT_CONFIG_CHANGE, r(INTERRUPT_STATUS));
        assertEquals(1, line.edges.get());
        assertFalse(t.isActive());
        w(STATUS, 0);
        assertEquals(0, driver.status());
    }

    @Test
    void deviceExceptionsFailTheDeviceButNeverReachTheGuest() {
        transport();
        driver.init(2, ALL, 1);
        device.throwOnNotify = new IllegalStateException("device bug");
        w(QUEUE_NOTIFY, 0);
        assertEquals(NEEDS_RESET, driver.status() & NEEDS_RESET);
        device.throwOnConfig = new IllegalStateException("config bug");
        assertEquals(0, driver.transport.read(CONFIG, 4));
        device.onReset = () -> {
            throw new IllegalStateException("reset bug");
        };
        w(STATUS, 0);
        assertEquals(0, driver.status());
    }

    @Test
    void configSpaceAccesses() {
        VirtioMmioTransport t = transport();
        assertEquals(0x10, t.read(CONFIG, 1));
        assertEquals(0x1211, t.read(CONFIG + 1, 2));
        assertEquals(0x1312_1110L, t.read(CONFIG, 4));
        assertEquals(0x1716_1514_1312_1110L, t.read(CONFIG, 8));
        assertEquals(0x1F1E, t.read(CONFIG + 14, 2), "last two bytes");
        assertEquals(0, t.read(CONFIG + 15, 2), "straddles the end");
        assertEquals(0, t.read(CONFIG + 16, 1), "past the end");
        assertEquals(0, t.read(CONFIG + 12, 8), "8 bytes straddling the end");
        assertEquals(0, t.read(CONFIG + 0xFC, 4));
        assertEquals(0, t.read(CONFIG, 3), "odd size");
        assertEquals(0, t.read(CONFIG, 0));
        assertEquals(0, t.read(CONFIG, 16));

        t.write(CONFIG + 2, 2, 0xFFFF_BEEFL);
        assertEquals(List.of("2/2=beef"), device.configWrites);
        t.write(CONFIG + 8, 8, 0x1122_3344_5566_7788L);
        assertEquals(List.of("2/2=beef", "8/4=55667788", "12/4=11223344"), device.configWrites, "8 bytes as two halves");
        t.write(CONFIG + 15, 2, 0);
        t.write(CONFIG + 16, 4, 0);
        t.write(CONFIG + 12, 8, 0);
        t.write(CONFIG, 3, 0);
        assertEquals(3, device.configWrites.size(), "out-of-bounds and odd-size writes dropped");
    }

    @Test
    void registerAccessRules() {
        VirtioMmioTransport t = transport();
        assertEquals(0x74726976L, t.read(MAGIC_VALUE, 4));
        assertEquals(0, t.read(MAGIC_VALUE, 2), "registers are 32 bits");
        assertEquals(0, t.read(MAGIC_VALUE, 1));
        assertEquals(0, t.read(MAGIC_VALUE, 8));
        assertEquals(0, t.read(VERSION + 1, 4), "misaligned");
        assertEquals(0, t.read(-4, 4));
        assertEquals(0, t.read(Long.MIN_VALUE, 4));
        assertEquals(0, t.read(0x1_0000_0000L, 4));
        assertEquals(0, t.read(0x200, 4));
        assertEquals(0, t.read(0x0FE, 4));
        assertEquals(0xFFFF_FFFFL, t.read(SHM_LEN_LOW, 4), "no shared memory regions");
        assertEquals(0xFFFF_FFFFL, t.read(SHM_LEN_HIGH, 4));
        assertEquals(0, t.read(QUEUE_NOTIFY, 4), "write-only");
        assertEquals(0, t.read(QUEUE_NUM, 4), "write-only");
        assertEquals(0, t.read(QUEUE_DESC_LOW, 4), "write-only");
        t.write(STATUS, 1, ACK);
        assertEquals(0, driver.status(), "a byte write to Status is ignored");
        t.write(STATUS, 4, 0xFFFF_FF00L | ACK);
        assertEquals(ACK, driver.status(), "only the low byte of Status counts");
        t.write(MAGIC_VALUE, 4, 0);
        assertEquals(0x74726976L, t.read(MAGIC_VALUE, 4));
    }

    @Test
    void constructionChecksTheDevice() {
        assertThrows(IllegalArgumentException.class, () -> new VirtioMmioTransport(new RecordingDevice(0, 0, 0, 8),
                driver.memory, BASE, line, Runnable::run), "device id 0 means no device");
        assertThrows(IllegalArgumentException.class, () -> new VirtioMmioTransport(new RecordingDevice(2, 0, 0, 100),
                driver.memory, BASE, line, Runnable::run), "Linux needs power-of-two queue sizes");
        assertThrows(IllegalArgumentException.class, () -> new VirtioMmioTransport(new RecordingDevice(2, 0, 0, 65536),
                driver.memory, BASE, line, Runnable::run));
        assertThrows(IllegalArgumentException.class, () -> new VirtioMmioTransport(new RecordingDevice(2, 0, 257, 8),
                driver.memory, BASE, line, Runnable::run), "config space must fit the window");
        assertThrows(IllegalArgumentException.class, () -> new VirtioMmioTransport(new RecordingDevice(2, 0, 0, 8),
                driver.memory, BASE + 2, line, Runnable::run));
    }

    @Test
    void busHelpers() {
        VirtioMmioTransport t = transport();
        Bus bus = new Bus("mmio");
        t.register(bus, "virtio-blk");
        assertEquals(0x74726976L, bus.read(BASE, 4));
        assertEquals(2, bus.read(BASE + DEVICE_ID, 4));
        assertEquals(0xFFFF_FFFFL, bus.read(BASE + VirtioMmioTransport.WINDOW_SIZE, 4), "the window ends at 0x200");
        assertTrue(t.toString().toLowerCase(Locale.ROOT).contains("d0000000"));
    }

    @Test
    void closeResetsAndIgnoresTheGuestAfterwards() {
        VirtioMmioTransport t = transport();
        driver.init(2, ALL, 1);
        t.close();
        assertEquals(2, device.count("reset"));
        assertFalse(t.isActive());
        w(STATUS, ACK);
        assertEquals(0, driver.status());
        t.close();
        assertEquals(2, device.count("reset"), "idempotent");
    }

    @Test
    void kicksCoalesceUntilTheWorkerRuns() {
        ArrayDeque<Runnable> tasks = new ArrayDeque<>();
        boolean[] direct = {true};
        VirtioMmioTransport t = transport(r -> {
            if (direct[0]) {
                r.run(); // the probe's reset waits for the worker
            } else {
                tasks.add(r);
            }
        });
        assertTrue(driver.probe(2, ALL));
        direct[0] = false;
        device.events.clear();
        driver.setupQueue(0, 0);
        driver.addStatus(DRIVER_OK);
        assertTrue(device.events.isEmpty(), "nothing runs on the vCPU thread");
        runAll(tasks);
        assertEquals(List.of("activate", "notify 0"), device.events);
        for (int i = 0; i < 5; i++) {
            w(QUEUE_NOTIFY, 0);
            t.onQueueNotify(0);
        }
        assertEquals(1, tasks.size(), "ten kicks, one pending task");
        runAll(tasks);
        assertEquals(3, device.events.size());
        t.onQueueNotify(0);
        runAll(tasks);
        assertEquals(4, device.events.size());
        // A kick arriving while the device works on the queue schedules another look.
        device.onNotify = i -> {
            if (device.count("notify 0") == 4) {
                t.onQueueNotify(0);
            }
        };
        t.onQueueNotify(0);
        runAll(tasks);
        assertEquals(5, device.count("notify 0"));
        // No close() here: reset would wait for a worker nobody runs.
        driver.transport = null;
    }

    private static void runAll(ArrayDeque<Runnable> tasks) {
        Runnable r;
        while ((r = tasks.poll()) != null) {
            r.run();
        }
    }

    @Test
    void workRunsOnTheWorkerAndResetWaitsForIt() throws Exception {
        ExecutorService worker = VirtioMmioTransport.newWorker("virtio-test-worker");
        CountDownLatch release = new CountDownLatch(1);
        try {
            VirtioMmioTransport t = transport(worker);
            CountDownLatch initialNotify = new CountDownLatch(1);
            device.onNotify = i -> initialNotify.countDown();
            driver.init(2, ALL, 1);
            assertTrue(initialNotify.await(10, TimeUnit.SECONDS), "activation and the first look run on the worker");
            CountDownLatch inNotify = new CountDownLatch(1);
            device.onNotify = i -> {
                inNotify.countDown();
                try {
                    release.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            };
            assertTrue(device.threads.stream().allMatch("virtio-test-worker"::equals), device.threads.toString());

            t.onQueueNotify(0);
            assertTrue(inNotify.await(10, TimeUnit.SECONDS));
            Thread vcpu = Thread.ofPlatform().name("vcpu0").start(() -> driver.w(STATUS, 0));
            while (vcpu.getState() != Thread.State.TIMED_WAITING && vcpu.isAlive()) { // bounded wait
                Thread.onSpinWait();
            }
            assertTrue(vcpu.isAlive(), "the reset waits for the worker");
            assertEquals(1, device.count("reset"), "only the probe's");
            assertFalse(t.isActive(), "but the activation is already cut off");
            release.countDown();
            vcpu.join(10_000);
            assertFalse(vcpu.isAlive());
            assertEquals(2, device.count("reset"));
            List<String> events = device.events;
            assertEquals("reset", events.get(events.size() - 1), "reset ran after the notification finished");
            assertEquals("virtio-test-worker", device.threads.get(device.threads.size() - 1));
            assertEquals(0, t.status());
        } finally {
            release.countDown();
            driver.transport.close();
            worker.shutdown();
            assertTrue(worker.awaitTermination(10, TimeUnit.SECONDS));
        }
    }

    @Test
    void closeFromTheWorkerItselfDoesNotDeadlock() throws Exception {
        ExecutorService worker = VirtioMmioTransport.newWorker("virtio-test-worker");
        try {
            VirtioMmioTransport t = transport(worker);
            CountDownLatch initialNotify = new CountDownLatch(1);
            device.onNotify = i -> initialNotify.countDown();
            driver.init(2, ALL, 1);
            assertTrue(initialNotify.await(10, TimeUnit.SECONDS));
            CountDownLatch done = new CountDownLatch(1);
            device.context.execute(() -> {
                t.close();
                done.countDown();
            });
            assertTrue(done.await(10, TimeUnit.SECONDS));
            assertEquals(2, device.count("reset"));
        } finally {
            worker.shutdown();
        }
    }

    @Test
    void resetWithAShutDownWorkerStillResetsTheDevice() {
        ExecutorService worker = VirtioMmioTransport.newWorker("virtio-test-worker");
        VirtioMmioTransport t = transport(worker);
        worker.shutdownNow();
        w(STATUS, ACK);
        w(STATUS, 0);
        assertEquals(1, device.count("reset"));
        t.onQueueNotify(0);
    }

    /** A device built on AbstractVirtioDevice, end to end: the driver sends "ping", gets "PING" back. */
    static final class UpperCaseDevice extends AbstractVirtioDevice {
        UpperCaseDevice() {
            super(4, 0, new int[] {8}, 8);
            config.putU64(0, 0x0807_0605_0403_0201L);
        }

        @Override
        protected void processQueue(int index, Virtqueue queue) throws VirtqueueException {
            drain(queue, chain -> {
                byte[] in = chain.reader().readAll();
                ChainWriter out = chain.writer();
                out.write(new String(in).toUpperCase(Locale.ROOT).getBytes());
                return out.position();
            });
        }
    }

    @Test
    void abstractDeviceEndToEnd() {
        UpperCaseDevice dev = new UpperCaseDevice();
        VirtioMmioTransport t = new VirtioMmioTransport(dev, driver.memory, BASE, line, Runnable::run);
        driver.transport = t;
        driver.init(4, ALL, 1);
        assertEquals(0x0807_0605_0403_0201L, t.read(CONFIG, 8));
        VirtqueueLayout l = driver.layoutFor(0, 8);
        MemorySegment ram = driver.ram;
        long data = MmioDriver.DATA;
        MemorySegment.copy("ping".getBytes(), 0, ram, ValueLayout.JAVA_BYTE, data - MmioDriver.RAM_BASE, 4);
        desc(ram, l, 0, data, 4, 1, 1);
        desc(ram, l, 1, data + 0x100, 16, 2, 0);
        ram.set(U16, l.availRing() - MmioDriver.RAM_BASE + 4, (short) 0);
        ram.set(U16, l.availRing() - MmioDriver.RAM_BASE + 2, (short) 1);
        w(QUEUE_NOTIFY, 0);
        long used = l.usedRing() - MmioDriver.RAM_BASE;
        assertEquals(1, ram.get(U16, used + 2));
        assertEquals(0, ram.get(U32, used + 4));
        assertEquals(4, ram.get(U32, used + 8));
        byte[] reply = new byte[4];
        MemorySegment.copy(ram, ValueLayout.JAVA_BYTE, data + 0x100 - MmioDriver.RAM_BASE, reply, 0, 4);
        assertArrayEquals("PING".getBytes(), reply);
        assertEquals(VirtioMmioTransport.INTERRUPT_USED_BUFFER, r(INTERRUPT_STATUS), "used_event 0 asks for it");
        assertEquals(1, line.edges.get());

        // A corrupt chain fails the device.
        desc(ram, l, 2, data, 4, 1, 2);
        ram.set(U16, l.availRing() - MmioDriver.RAM_BASE + 6, (short) 2);
        ram.set(U16, l.availRing() - MmioDriver.RAM_BASE + 2, (short) 2);
        w(QUEUE_NOTIFY, 0);
        assertEquals(NEEDS_RESET, driver.status() & NEEDS_RESET);
        assertTrue(t.lastError().contains("loop"), t.lastError());
        w(STATUS, 0);
        assertEquals(0, driver.status());
    }

    @Test
    void drainYieldsAfterAQueueFull() {
        List<String> calls = new java.util.concurrent.CopyOnWriteArrayList<>();
        AbstractVirtioDevice dev = new AbstractVirtioDevice(4, 0, new int[] {4}, 0) {
            @Override
            protected void processQueue(int index, Virtqueue queue) throws VirtqueueException {
                calls.add("drain");
                drain(queue, chain -> {
                    calls.add("chain " + chain.head());
                    return 0;
                });
            }
        };
        ArrayDeque<Runnable> tasks = new ArrayDeque<>();
        boolean[] direct = {true};
        VirtioMmioTransport t = new VirtioMmioTransport(dev, driver.memory, BASE, line, r -> {
            if (direct[0]) {
                r.run();
            } else {
                tasks.add(r);
            }
        });
        driver.transport = t;
        driver.init(4, ALL, 1);
        assertEquals(List.of("drain"), calls, "the initial look found nothing");
        VirtqueueLayout l = driver.layoutFor(0, 4);
        for (int i = 0; i < 4; i++) {
            desc(driver.ram, l, i, MmioDriver.DATA, 8, 0, 0);
            driver.ram.set(U16, l.availRing() - MmioDriver.RAM_BASE + 4 + 2L * i, (short) i);
        }
        driver.ram.set(U16, l.availRing() - MmioDriver.RAM_BASE + 2, (short) 4);
        direct[0] = false;
        calls.clear();
        w(QUEUE_NOTIFY, 0);
        Runnable drainTask = tasks.poll();
        // The drain of the serial executor runs everything queued meanwhile, including the follow-up.
        drainTask.run();
        assertEquals(List.of("drain", "chain 0", "chain 1", "chain 2", "chain 3", "drain"), calls,
                "a full queue's worth, then a fresh task for the rest");
        driver.transport = null;
        direct[0] = true;
        t.close();
    }

    /** An edge-triggered line whose edges a test can wait for. */
    static final class AwaitableLine implements InterruptLine {
        final java.util.concurrent.Semaphore edges = new java.util.concurrent.Semaphore(0);

        @Override
        public void trigger() {
            edges.release();
        }

        @Override
        public void setLevel(boolean high) {
            throw new AssertionError("virtio-mmio is edge-triggered");
        }

        void await(String what) throws InterruptedException {
            assertTrue(edges.tryAcquire(10, TimeUnit.SECONDS), what);
        }
    }

    /** Runs {@code access} on a thread of its own, as a vCPU would, and fails unless it returns within 10 s. */
    static void asVcpu(String what, Runnable access) throws InterruptedException {
        Thread vcpu = Thread.ofPlatform().name("vcpu0").daemon(true).start(access);
        vcpu.join(java.time.Duration.ofSeconds(10));
        assertFalse(vcpu.isAlive(), what + ": the vCPU thread is still waiting");
    }

    @Test
    void anErrorInADeviceCallbackFailsTheDeviceAndTheWorkerGoesOn() throws Exception {
        ExecutorService worker = VirtioMmioTransport.newWorker("virtio-test-worker");
        AwaitableLine irq = new AwaitableLine();
        try {
            VirtioMmioTransport t = new VirtioMmioTransport(device, driver.memory, BASE, irq, worker);
            driver.transport = t;
            CountDownLatch initialNotify = new CountDownLatch(1);
            device.onNotify = i -> initialNotify.countDown();
            driver.init(2, ALL, 1);
            assertTrue(initialNotify.await(10, TimeUnit.SECONDS));
            device.onNotify = i -> {
                throw new StackOverflowError("deep recursion on hostile input");
            };
            w(QUEUE_NOTIFY, 0);
            irq.await("the configuration-change interrupt");
            assertEquals(NEEDS_RESET, driver.status() & NEEDS_RESET);
            assertEquals(VirtioMmioTransport.INTERRUPT_CONFIG_CHANGE, r(INTERRUPT_STATUS));
            assertTrue(t.lastError().contains("StackOverflowError"), t.lastError());
            assertFalse(t.isActive());

            asVcpu("reset", () -> w(STATUS, 0));
            assertEquals(0, driver.status());
            CountDownLatch again = new CountDownLatch(1);
            device.onNotify = i -> again.countDown();
            driver.init(2, ALL, 1);
            assertTrue(again.await(10, TimeUnit.SECONDS), "the worker serves the next activation");
            assertTrue(t.isActive());
        } finally {
            closeAsVcpu();
            worker.shutdownNow();
        }
    }

    /** Closes the transport within a bound (a wedged worker must fail the test, not hang it). */
    void closeAsVcpu() throws InterruptedException {
        VirtioMmioTransport t = driver.transport;
        driver.transport = null;
        asVcpu("close", t::close);
    }

    @Test
    void aResetTheWorkerDoesNotFinishInTimeLeavesTheDeviceNeedingReset() throws Exception {
        ExecutorService worker = VirtioMmioTransport.newWorker("virtio-test-worker");
        CountDownLatch release = new CountDownLatch(1);
        try {
            VirtioMmioTransport t = new VirtioMmioTransport(device, driver.memory, BASE, line, worker,
                    java.time.Duration.ofMillis(200));
            driver.transport = t;
            CountDownLatch initialNotify = new CountDownLatch(1);
            device.onNotify = i -> initialNotify.countDown();
            driver.init(2, ALL, 1);
            assertTrue(initialNotify.await(10, TimeUnit.SECONDS));
            CountDownLatch stuck = new CountDownLatch(1);
            device.onNotify = i -> {
                stuck.countDown();
                try {
                    release.await(); // a device callback blocked on the host (a hung disk)
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            };
            t.onQueueNotify(0);
            assertTrue(stuck.await(10, TimeUnit.SECONDS));

            asVcpu("a reset while the worker hangs", () -> w(STATUS, 0));
            assertEquals(NEEDS_RESET, driver.status(), "registers cleared, the device still needs its reset");
            assertTrue(t.lastError().contains("did not finish"), t.lastError());
            asVcpu("another reset", () -> w(STATUS, 0));
            w(STATUS, ACK);
            assertEquals(NEEDS_RESET, driver.status(), "it cannot be set up again meanwhile");
            assertEquals(1, device.count("reset"), "only the probe's reset ran so far");

            CountDownLatch resetDone = new CountDownLatch(1);
            device.onReset = resetDone::countDown;
            release.countDown();
            assertTrue(resetDone.await(10, TimeUnit.SECONDS), "the worker runs the reset once it is free");
            // The reset's future completes right after onReset returns, on the worker.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            while (driver.status() != 0 && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertEquals(0, driver.status());
            CountDownLatch again = new CountDownLatch(1);
            device.onNotify = i -> again.countDown();
            driver.init(2, ALL, 1);
            assertTrue(again.await(10, TimeUnit.SECONDS), "the device works again");
        } finally {
            release.countDown();
            closeAsVcpu();
            worker.shutdownNow();
        }
    }

    static void desc(MemorySegment ram, VirtqueueLayout l, int i, long addr, int len, int flags, int next) {
        long at = l.descTable() - MmioDriver.RAM_BASE + 16L * i;
        ram.set(U64, at, addr);
        ram.set(U32, at + 8, len);
        ram.set(U16, at + 12, (short) flags);
        ram.set(U16, at + 14, (short) next);
    }
}
