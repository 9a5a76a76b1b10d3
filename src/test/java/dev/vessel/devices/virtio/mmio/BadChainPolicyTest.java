package dev.vessel.devices.virtio.mmio;

import static dev.vessel.devices.virtio.mmio.VirtioMmioRegisters.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.devices.InterruptLine;
import dev.vessel.devices.block.BlockBackend;
import dev.vessel.devices.virtio.VirtioDevice;
import dev.vessel.devices.virtio.VirtioStatus;
import dev.vessel.devices.virtio.balloon.VirtioBalloon;
import dev.vessel.devices.virtio.blk.VirtioBlkDevice;
import dev.vessel.devices.virtio.console.VirtioConsole;
import dev.vessel.devices.virtio.queue.VirtqueueLayout;
import dev.vessel.devices.virtio.rng.VirtioRng;
import dev.vessel.devices.virtio.vsock.VirtioVsock;

import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * One policy for bad input (see the package documentation of {@code dev.vessel.devices.virtio}):
 * a malformed chain in a queue the device serves fails every device type alike, with
 * DEVICE_NEEDS_RESET and a configuration-change interrupt, never a skip-and-retry.
 */
class BadChainPolicyTest {
    /** Outside the test's guest RAM (1 MiB at 1 MiB). */
    static final long NOT_RAM = 0x7000_0000_0000L;

    @TempDir
    static Path dir;

    final MmioDriver driver = new MmioDriver();
    VirtioDevice device;

    @FunctionalInterface
    interface Factory {
        VirtioDevice make() throws Exception;
    }

    static Stream<Arguments> devices() {
        return Stream.of(
                Arguments.of("virtio-blk requestq", (Factory) () -> new VirtioBlkDevice(new EmptyDisk(), false, "bad-chain"), 0),
                Arguments.of("virtio-console transmitq", (Factory) () -> new VirtioConsole(OutputStream.nullOutputStream()), 1),
                Arguments.of("virtio-rng requestq", (Factory) VirtioRng::new, 0),
                Arguments.of("virtio-balloon inflateq", (Factory) () -> new VirtioBalloon(64L << 20), 0),
                Arguments.of("virtio-vsock txq", (Factory) () -> VirtioVsock.open(dir.resolve("v.sock")), 1));
    }

    @AfterEach
    void close() throws Exception {
        driver.close();
        if (device instanceof AutoCloseable c) {
            c.close();
        }
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void aMalformedChainFailsTheDevice(String what, Factory factory, int queue) throws Exception {
        device = factory.make();
        AtomicInteger edges = new AtomicInteger();
        driver.transport = new VirtioMmioTransport(device, driver.memory, 0xD000_0000L, new InterruptLine() {
            @Override
            public void trigger() {
                edges.incrementAndGet();
            }

            @Override
            public void setLevel(boolean high) {
                throw new AssertionError("edge-triggered");
            }
        }, Runnable::run);
        driver.init(device.deviceType(), -1L, device.queueCount());
        assertTrue(driver.transport.isActive(), what + ": " + driver.transport.lastError());
        assertEquals(0, driver.status() & VirtioStatus.DEVICE_NEEDS_RESET);

        w(QUEUE_SEL, queue);
        VirtqueueLayout l = driver.layoutFor(queue, driver.r(QUEUE_NUM_MAX));
        MemorySegment ram = driver.ram;
        VirtioMmioTransportTest.desc(ram, l, 0, NOT_RAM, 64, 0, 0);
        ram.set(VirtioMmioTransportTest.U16, l.availRing() - MmioDriver.RAM_BASE + 4, (short) 0);
        ram.set(VirtioMmioTransportTest.U16, l.availRing() - MmioDriver.RAM_BASE + 2, (short) 1);
        int before = edges.get();
        w(QUEUE_NOTIFY, queue);

        assertEquals(VirtioStatus.DEVICE_NEEDS_RESET, driver.status() & VirtioStatus.DEVICE_NEEDS_RESET, what);
        assertEquals(VirtioMmioTransport.INTERRUPT_CONFIG_CHANGE,
                driver.r(INTERRUPT_STATUS) & VirtioMmioTransport.INTERRUPT_CONFIG_CHANGE, what);
        assertTrue(edges.get() > before, what + ": the driver is told");
        assertTrue(driver.transport.lastError().contains("not guest RAM"), driver.transport.lastError());
    }

    private void w(int offset, int value) {
        driver.w(offset, value);
    }

    /** A 1 MiB disk of zeros. */
    static final class EmptyDisk implements BlockBackend {
        @Override
        public long size() {
            return 1 << 20;
        }

        @Override
        public boolean readOnly() {
            return false;
        }

        @Override
        public void read(long offset, MemorySegment dst) {
            dst.fill((byte) 0);
        }

        @Override
        public void write(long offset, MemorySegment src) {}

        @Override
        public void flush() {}

        @Override
        public boolean supportsDiscard() {
            return false;
        }

        @Override
        public void discard(long offset, long length) {}

        @Override
        public void close() {}
    }
}
