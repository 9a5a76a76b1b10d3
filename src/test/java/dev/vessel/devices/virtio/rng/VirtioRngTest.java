package dev.vessel.devices.virtio.rng;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.devices.virtio.VirtioDevice;
import dev.vessel.devices.virtio.VirtioStatus;
import dev.vessel.devices.virtio.balloon.DriverBench;
import dev.vessel.devices.virtio.balloon.DriverBench.Buf;
import dev.vessel.devices.virtio.balloon.DriverBench.Used;

import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class VirtioRngTest {
    /** A clock the test moves, and a scheduler whose tasks the test runs. */
    final AtomicLong now = new AtomicLong(1_000_000_000L);
    final List<Runnable> scheduled = new ArrayList<>();
    final List<Long> delays = new ArrayList<>();
    DriverBench bench;

    VirtioRng device(long rate, long burst) {
        return new VirtioRng(new SecureRandom(), rate, burst, now::get, (delay, task) -> {
            delays.add(delay);
            scheduled.add(task);
        });
    }

    DriverBench start(VirtioRng rng) throws Exception {
        bench = new DriverBench(rng, 4 << 20);
        assertTrue(bench.init(0, 1, 256), "activated");
        return bench;
    }

    @AfterEach
    void close() {
        if (bench != null) {
            bench.close();
        }
    }

    static boolean allSame(byte[] b) {
        for (byte x : b) {
            if (x != b[0]) {
                return false;
            }
        }
        return true;
    }

    @Test
    void identity() {
        VirtioRng rng = new VirtioRng();
        assertEquals(VirtioDevice.TYPE_ENTROPY, rng.deviceType());
        assertEquals(0, rng.deviceFeatures());
        assertEquals(1, rng.queueCount());
        assertEquals(0, rng.configSize());
    }

    @Test
    void fillsExactlyTheWritablePartAcrossBuffers() throws Exception {
        VirtioRng rng = new VirtioRng();
        DriverBench b = start(rng);
        long a = b.alloc(4096, 4096);
        long c = b.alloc(4096, 4096);
        int head = b.submit(0, Buf.out(a + 8, 100), Buf.out(c + 16, 50));
        List<Used> used = b.used(0);
        assertEquals(List.of(new Used(head, 150)), used);
        byte[] first = b.read(a + 8, 100);
        byte[] second = b.read(c + 16, 50);
        assertFalse(allSame(first), "random bytes are not constant");
        assertFalse(allSame(second));
        // Nothing around the buffers was touched.
        assertTrue(allSame(b.read(a, 8)) && b.read(a, 1)[0] == 0);
        assertArrayEquals(new byte[100], b.read(a + 108, 100));
        assertArrayEquals(new byte[16], b.read(c, 16));
        assertArrayEquals(new byte[100], b.read(c + 66, 100));
        assertEquals(150, rng.bytesServed());
        assertEquals(1, rng.requestsServed());
        assertTrue(b.interrupts.get() > 0, "used-buffer interrupt");
    }

    @Test
    void successiveRequestsGetDifferentBytes() throws Exception {
        DriverBench b = start(new VirtioRng());
        long a = b.alloc(64);
        long c = b.alloc(64);
        b.submit(0, Buf.out(a, 64));
        b.submit(0, Buf.out(c, 64));
        assertEquals(2, b.used(0).size());
        assertNotEquals(java.util.HexFormat.of().formatHex(b.read(a, 64)), java.util.HexFormat.of().formatHex(b.read(c, 64)));
    }

    @Test
    void aRequestGetsAtMost64KiB() throws Exception {
        VirtioRng rng = new VirtioRng();
        DriverBench b = start(rng);
        int size = 100 * 1024;
        long a = b.alloc(size, 4096);
        int head = b.submit(0, Buf.out(a, size));
        assertEquals(List.of(new Used(head, VirtioRng.MAX_BYTES_PER_REQUEST)), b.used(0));
        assertFalse(allSame(b.read(a + VirtioRng.MAX_BYTES_PER_REQUEST - 64, 64)));
        assertArrayEquals(new byte[size - VirtioRng.MAX_BYTES_PER_REQUEST],
                b.read(a + VirtioRng.MAX_BYTES_PER_REQUEST, size - VirtioRng.MAX_BYTES_PER_REQUEST));
    }

    @Test
    void readOnlyChainsAreReturnedEmptyAndUntouched() throws Exception {
        VirtioRng rng = new VirtioRng();
        DriverBench b = start(rng);
        long a = b.alloc(64);
        b.write(a, new byte[64]);
        int head = b.submit(0, Buf.in(a, 64));
        assertEquals(List.of(new Used(head, 0)), b.used(0));
        assertArrayEquals(new byte[64], b.read(a, 64));
        assertEquals(1, rng.rejectedRequests());
        assertEquals(0, rng.bytesServed());
        // The device keeps working.
        long c = b.alloc(32);
        int next = b.submit(0, Buf.out(c, 32));
        assertEquals(List.of(new Used(next, 32)), b.used(0));
        assertEquals(0, b.status() & VirtioStatus.DEVICE_NEEDS_RESET);
    }

    @Test
    void readableBuffersBeforeTheWritablePartAreIgnored() throws Exception {
        DriverBench b = start(new VirtioRng());
        long a = b.alloc(16);
        long c = b.alloc(40);
        byte[] header = "sixteen bytes!!!".getBytes();
        b.write(a, header);
        int head = b.submit(0, Buf.in(a, 16), Buf.out(c, 40));
        assertEquals(List.of(new Used(head, 40)), b.used(0));
        assertArrayEquals(header, b.read(a, 16));
    }

    @Test
    void theBudgetLimitsBytesAndResumesWhenItRefills() throws Exception {
        VirtioRng rng = device(1000, 1000);
        DriverBench b = start(rng);
        long a = b.alloc(4096);
        long c = b.alloc(4096);
        int first = b.submit(0, Buf.out(a, 4096));
        // Partial fill: the whole budget, not the whole buffer.
        assertEquals(List.of(new Used(first, 1000)), b.used(0));
        int second = b.submit(0, Buf.out(c, 4096));
        assertEquals(List.of(), b.used(0), "no budget left: the chain waits in the ring");
        assertEquals(1, scheduled.size());
        assertEquals(1, rng.throttledTimes());
        assertTrue(delays.get(0) > 0 && delays.get(0) <= 64_000_000L + 1, "retry when 64 bytes are earned: " + delays);
        // More kicks meanwhile schedule nothing more.
        b.kick(0);
        assertEquals(1, scheduled.size());
        // Half a second later: 500 bytes.
        now.addAndGet(500_000_000L);
        scheduled.remove(0).run();
        assertEquals(List.of(new Used(second, 500)), b.used(0));
        assertEquals(1500, rng.bytesServed());
    }

    @Test
    void tinyRequestsCostAtLeast64BytesOfBudget() throws Exception {
        VirtioRng rng = device(1000, 640);
        DriverBench b = start(rng);
        for (int i = 0; i < 20; i++) {
            b.add(0, Buf.out(b.alloc(8), 1));
        }
        b.kick(0);
        assertEquals(10, b.used(0).size(), "640 bytes of budget: ten 1-byte requests");
        assertEquals(1, scheduled.size());
        now.addAndGet(10_000_000_000L); // refills to the burst, no further
        scheduled.remove(0).run();
        assertEquals(10, b.used(0).size());
        assertEquals(20, rng.requestsServed());
    }

    @Test
    void aResetDropsThePendingRetryAndTheDeviceWorksAgain() throws Exception {
        VirtioRng rng = device(1000, 64);
        DriverBench b = start(rng);
        b.submit(0, Buf.out(b.alloc(64), 64));
        b.submit(0, Buf.out(b.alloc(64), 64));
        assertEquals(1, b.used(0).size());
        assertEquals(1, scheduled.size());
        b.setReg(dev.vessel.devices.virtio.mmio.VirtioMmioRegisters.STATUS, 0);
        scheduled.remove(0).run(); // the old activation's retry: nothing happens
        assertEquals(0, b.used(0).size());
        now.addAndGet(1_000_000_000L);
        // A new driver (fresh rings) on the same device.
        b.close();
        bench = new DriverBench(rng, 4 << 20);
        assertTrue(bench.init(0, 1, 256));
        int head = bench.submit(0, Buf.out(bench.alloc(64), 64));
        assertEquals(List.of(new Used(head, 64)), bench.used(0));
    }

    @Test
    void withoutItsQueueTheDeviceAsksForAReset() throws Exception {
        bench = new DriverBench(new VirtioRng(), 4 << 20);
        bench.init(0, 0, 256);
        assertTrue((bench.status() & VirtioStatus.DEVICE_NEEDS_RESET) != 0);
    }
}
