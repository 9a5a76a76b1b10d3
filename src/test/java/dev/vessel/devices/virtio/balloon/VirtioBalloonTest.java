package dev.vessel.devices.virtio.balloon;

import static dev.vessel.devices.virtio.balloon.VirtioBalloon.DEFLATEQ;
import static dev.vessel.devices.virtio.balloon.VirtioBalloon.INFLATEQ;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.devices.virtio.VirtioDevice;
import dev.vessel.devices.virtio.VirtioFeatures;
import dev.vessel.devices.virtio.VirtioStatus;
import dev.vessel.devices.virtio.balloon.DriverBench.Buf;
import dev.vessel.devices.virtio.balloon.DriverBench.Used;
import dev.vessel.devices.virtio.mmio.VirtioMmioRegisters;
import dev.vessel.devices.virtio.mmio.VirtioMmioTransport;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class VirtioBalloonTest {
    static final long RAM = 16 << 20;
    static final int STATSQ = 2;
    static final int REPORTINGQ = 3;
    static final long ALL = VirtioBalloon.DEFAULT_FEATURES;

    /** Ranges the device released, as [gpa, length]. */
    final List<long[]> released = new ArrayList<>();
    final VirtioBalloon balloon = new VirtioBalloon(RAM, VirtioBalloon.DEFAULT_FEATURES,
            (memory, gpa, length) -> released.add(new long[] {gpa, length}));
    DriverBench bench;

    DriverBench start(long features) throws Exception {
        bench = new DriverBench(balloon, RAM);
        assertTrue(bench.init(features, 4, 128), "activated");
        return bench;
    }

    @AfterEach
    void close() {
        if (bench != null) {
            bench.close();
        }
    }

    /** Writes PFNs (le32) to fresh guest memory; returns the readable buffer. */
    Buf pfns(long... pfns) {
        ByteBuffer b = ByteBuffer.allocate(4 * pfns.length).order(ByteOrder.LITTLE_ENDIAN);
        for (long p : pfns) {
            b.putInt((int) p);
        }
        long gpa = bench.alloc(b.capacity());
        bench.write(gpa, b.array());
        return Buf.in(gpa, b.capacity());
    }

    static byte[] statsBuffer(long... tagValue) {
        ByteBuffer b = ByteBuffer.allocate(5 * tagValue.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < tagValue.length; i += 2) {
            b.putShort((short) tagValue[i]);
            b.putLong(tagValue[i + 1]);
        }
        return b.array();
    }

    Buf stats(byte[] raw) {
        long gpa = bench.alloc(raw.length);
        bench.write(gpa, raw);
        return Buf.in(gpa, raw.length);
    }

    String releasedText() {
        StringBuilder s = new StringBuilder();
        for (long[] r : released) {
            s.append(String.format("[0x%x+0x%x]", r[0], r[1]));
        }
        return s.toString();
    }

    @Test
    void identity() {
        assertEquals(VirtioDevice.TYPE_BALLOON, balloon.deviceType());
        assertEquals(VirtioFeatures.bit(VirtioBalloon.F_STATS_VQ) | VirtioFeatures.bit(VirtioBalloon.F_DEFLATE_ON_OOM)
                | VirtioFeatures.bit(VirtioBalloon.F_REPORTING), balloon.deviceFeatures());
        assertEquals(4, balloon.queueCount());
        assertEquals(8, balloon.configSize());
        VirtioBalloon plain = new VirtioBalloon(RAM, 0, PageReleaser.MADVISE);
        assertEquals(2, plain.queueCount());
        assertThrows(IllegalArgumentException.class,
                () -> new VirtioBalloon(RAM, VirtioFeatures.bit(VirtioBalloon.F_MUST_TELL_HOST), PageReleaser.MADVISE));
    }

    @Test
    void inflateReleasesValidPagesInRuns() throws Exception {
        DriverBench b = start(ALL);
        int head = b.submit(INFLATEQ, pfns(302, 300, 301, 500, 2048));
        assertEquals(List.of(new Used(head, 0)), b.used(INFLATEQ));
        assertEquals("[0x12c000+0x3000][0x1f4000+0x1000][0x800000+0x1000]", releasedText());
        assertEquals(5, balloon.inflatedPages());
        assertEquals(0, balloon.invalidPfns());
        assertEquals(5 * 4096, balloon.releasedBytes());
        assertTrue(b.interrupts.get() > 0);
    }

    @Test
    void invalidPfnsAreNotReleasedButCounted() throws Exception {
        DriverBench b = start(ALL);
        long lastPage = (RAM >> 12) - 1;
        b.submit(INFLATEQ, pfns(lastPage + 1, 0xFFFF_FFFFL, 0x8000_0000L, 0x10_0000 /* 4 GiB */, lastPage, 7));
        assertEquals(1, b.used(INFLATEQ).size());
        assertEquals(String.format("[0x7000+0x1000][0x%x+0x1000]", lastPage << 12), releasedText());
        assertEquals(4, balloon.invalidPfns());
        assertEquals(2, balloon.inflatedPages());
        assertEquals(0, b.status() & VirtioStatus.DEVICE_NEEDS_RESET);
    }

    @Test
    void duplicatePfnsCountOnce() throws Exception {
        DriverBench b = start(ALL);
        b.submit(INFLATEQ, pfns(400, 400, 401));
        assertEquals("[0x190000+0x2000]", releasedText(), "one run, the duplicate dropped");
        released.clear();
        b.submit(INFLATEQ, pfns(401, 402));
        assertEquals(2, b.used(INFLATEQ).size());
        assertEquals(3, balloon.inflatedPages());
        assertEquals(2, balloon.duplicatePfns());
        // Already in the balloon, but released again (a guest may have touched it since).
        assertEquals("[0x191000+0x2000]", releasedText());
    }

    @Test
    void deflateTakesPagesOutWithoutReleasing() throws Exception {
        DriverBench b = start(ALL);
        b.submit(INFLATEQ, pfns(10, 11, 12));
        released.clear();
        int head = b.submit(DEFLATEQ, pfns(11, 999, 0xFFFF_0000L, 11));
        assertEquals(List.of(new Used(head, 0)), b.used(DEFLATEQ));
        assertEquals("", releasedText());
        assertEquals(2, balloon.inflatedPages());
        assertEquals(1, balloon.deflatedPages());
        assertEquals(1, balloon.invalidPfns());
        // Inflating it again counts it again.
        b.submit(INFLATEQ, pfns(11));
        assertEquals(3, balloon.inflatedPages());
    }

    @Test
    void partialAndOversizedRequestsAreCutDown() throws Exception {
        DriverBench b = start(ALL);
        long gpa = b.alloc(6);
        b.write(gpa, new byte[] {20, 0, 0, 0, 1, 2});
        b.submit(INFLATEQ, Buf.in(gpa, 6));
        assertEquals(1, balloon.malformedRequests());
        assertEquals(1, balloon.inflatedPages());

        int n = VirtioBalloon.MAX_PFNS_PER_REQUEST + 100;
        long[] many = new long[n];
        for (int i = 0; i < n; i++) {
            many[i] = 1024 + (i % 2048);
        }
        b.submit(INFLATEQ, pfns(many));
        assertEquals(2, balloon.malformedRequests());
        assertEquals(1 + 2048, balloon.inflatedPages());
        assertEquals(VirtioBalloon.MAX_PFNS_PER_REQUEST - 2048, balloon.duplicatePfns());
        // An empty or write-only chain is just returned.
        long w = b.alloc(16);
        int head = b.submit(INFLATEQ, Buf.out(w, 16));
        assertEquals(new Used(head, 0), b.used(INFLATEQ).getLast());
    }

    @Test
    void releaseFailuresAreCountedNotFatal() throws Exception {
        VirtioBalloon failing = new VirtioBalloon(RAM, 0, (m, gpa, len) -> {
            throw new dev.vessel.sys.ErrnoException("madvise", 22);
        });
        bench = new DriverBench(failing, RAM);
        assertTrue(bench.init(0, 2, 128));
        Buf pages = pfns(1, 2, 3);
        int head = bench.submit(INFLATEQ, pages);
        assertEquals(List.of(new Used(head, 0)), bench.used(INFLATEQ));
        assertEquals(1, failing.releaseFailures());
        assertEquals(3, failing.inflatedPages());
        assertTrue(bench.transport.isActive());
    }

    @Test
    void targetIsTheHostsAndActualTheDrivers() throws Exception {
        DriverBench b = start(ALL);
        assertEquals(0, b.readConfig(VirtioBalloon.CONFIG_NUM_PAGES, 4));
        int generation = b.reg(VirtioMmioRegisters.CONFIG_GENERATION);
        balloon.setTargetPages(2048);
        assertEquals(2048, b.readConfig(VirtioBalloon.CONFIG_NUM_PAGES, 4));
        assertNotEquals(generation, b.reg(VirtioMmioRegisters.CONFIG_GENERATION));
        assertTrue((b.interruptStatus() & VirtioMmioTransport.INTERRUPT_CONFIG_CHANGE) != 0, "config-change interrupt");
        // The driver cannot change the target; it writes actual.
        b.writeConfig(VirtioBalloon.CONFIG_NUM_PAGES, 4, 5);
        assertEquals(2048, balloon.targetPages());
        b.writeConfig(VirtioBalloon.CONFIG_ACTUAL, 4, 1234);
        assertEquals(1234, balloon.actualPages());
        assertEquals(1234, b.readConfig(VirtioBalloon.CONFIG_ACTUAL, 4));
        b.writeConfig(VirtioBalloon.CONFIG_ACTUAL + 2, 2, 1);
        assertEquals(0x1_04D2, balloon.actualPages());
        assertThrows(IllegalArgumentException.class, () -> balloon.setTargetPages(RAM >> 12));
        assertThrows(IllegalArgumentException.class, () -> balloon.setTargetPages(-1));
        balloon.setTargetPages((RAM >> 12) - 1);
    }

    @Test
    void awaitActualWakesWhenTheDriverWrites() throws Exception {
        DriverBench b = start(ALL);
        assertFalse(balloon.awaitActual(100, Duration.ofMillis(20)));
        CompletableFuture<Boolean> waiting = CompletableFuture.supplyAsync(() -> {
            try {
                return balloon.awaitActual(100, Duration.ofMinutes(1));
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        b.writeConfig(VirtioBalloon.CONFIG_ACTUAL, 4, 50);
        b.writeConfig(VirtioBalloon.CONFIG_ACTUAL, 4, 100);
        assertTrue(waiting.get(1, TimeUnit.MINUTES));
    }

    @Test
    void statsAreParsedAndTheBufferIsKeptUntilTheHostAsks() throws Exception {
        DriverBench b = start(ALL);
        assertTrue(balloon.statsAvailable());
        assertEquals(BalloonStats.NONE, balloon.stats());
        b.submit(STATSQ, stats(statsBuffer(BalloonStats.FREE_MEMORY, 100L << 20, BalloonStats.TOTAL_MEMORY, 200L << 20,
                BalloonStats.AVAILABLE_MEMORY, 150L << 20, 77, 5)));
        assertEquals(List.of(), b.used(STATSQ), "the device holds the buffer");
        BalloonStats s = balloon.stats();
        assertEquals(100L << 20, s.get(BalloonStats.FREE_MEMORY));
        assertEquals(200L << 20, s.get(BalloonStats.TOTAL_MEMORY));
        assertEquals(150L << 20, s.get(BalloonStats.AVAILABLE_MEMORY));
        assertEquals(5, s.get(77));
        assertEquals(-1, s.get(BalloonStats.SWAP_IN));
        assertTrue(s.receivedAtMillis() > 0);

        // The host asks: the buffer goes back; the "driver" answers with fresh numbers.
        CompletableFuture<BalloonStats> refreshed = CompletableFuture.supplyAsync(() -> {
            try {
                return balloon.refreshStats(Duration.ofMinutes(1));
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        });
        List<Used> back = awaitUsed(b, STATSQ);
        assertEquals(1, back.size());
        assertEquals(0, back.get(0).length());
        b.submit(STATSQ, stats(statsBuffer(BalloonStats.FREE_MEMORY, 90L << 20)));
        BalloonStats fresh = refreshed.get(1, TimeUnit.MINUTES);
        assertEquals(90L << 20, fresh.get(BalloonStats.FREE_MEMORY));
        assertEquals(-1, fresh.get(BalloonStats.TOTAL_MEMORY), "a snapshot replaces the previous one");
    }

    static List<Used> awaitUsed(DriverBench b, int queue) throws InterruptedException {
        return b.awaitUsed(queue);
    }

    @Test
    void malformedStatsKeepThePreviousSnapshot() throws Exception {
        DriverBench b = start(ALL);
        b.submit(STATSQ, stats(statsBuffer(BalloonStats.FREE_MEMORY, 1234)));
        BalloonStats good = balloon.stats();
        // A second buffer replaces the first as the held one: the first goes back.
        b.submit(STATSQ, stats(new byte[15]));
        assertEquals(1, b.used(STATSQ).size());
        assertEquals(1, balloon.malformedStats());
        assertEquals(good, balloon.stats());
        b.submit(STATSQ, stats(new byte[BalloonStats.ENTRY_SIZE * (BalloonStats.MAX_ENTRIES + 1)]));
        assertEquals(2, balloon.malformedStats());
        long w = b.alloc(10);
        b.submit(STATSQ, Buf.out(w, 10));
        assertEquals(3, balloon.malformedStats());
        assertEquals(good, balloon.stats());
        assertTrue(b.transport.isActive());
        // Even after malformed ones, the host can ask: the latest buffer goes back.
        assertEquals(good, balloon.refreshStats(Duration.ZERO));
        assertEquals(3, b.used(STATSQ).size(), "the 2nd, 3rd (replaced) and 4th (asked for) buffers");
    }

    @Test
    void reportedFreeRangesAreReleasedPageAligned() throws Exception {
        DriverBench b = start(ALL);
        int head = b.submit(REPORTINGQ, Buf.out(0x20_0000, 2 << 20), Buf.out(0x40_0800, 0x3000), Buf.out(0x50_0100, 0x100));
        assertEquals(List.of(new Used(head, 0)), b.used(REPORTINGQ));
        assertEquals("[0x200000+0x200000][0x401000+0x2000]", releasedText());
        assertEquals((2 << 20) + 0x2000, balloon.reportedBytes());
        assertEquals(0, balloon.inflatedPages(), "reported pages are not in the balloon");
    }

    @Test
    void withoutStatsTheReportingQueueIsQueue2() throws Exception {
        bench = new DriverBench(balloon, RAM);
        assertTrue(bench.init(VirtioFeatures.bit(VirtioBalloon.F_REPORTING), 3, 128));
        assertFalse(balloon.statsAvailable());
        bench.submit(2, Buf.out(0x20_0000, 4096));
        assertEquals("[0x200000+0x1000]", releasedText());
        assertEquals(BalloonStats.NONE, balloon.refreshStats(Duration.ofSeconds(10)), "no stats queue: no wait");
    }

    @Test
    void aResetEmptiesTheBalloon() throws Exception {
        DriverBench b = start(ALL);
        b.submit(INFLATEQ, pfns(1, 2, 3));
        b.writeConfig(VirtioBalloon.CONFIG_ACTUAL, 4, 3);
        b.submit(STATSQ, stats(statsBuffer(BalloonStats.FREE_MEMORY, 1)));
        balloon.setTargetPages(3);
        b.setReg(VirtioMmioRegisters.STATUS, 0);
        assertEquals(0, balloon.inflatedPages());
        assertEquals(0, balloon.actualPages());
        assertEquals(3, balloon.targetPages(), "the host's target stays");
        assertFalse(balloon.statsAvailable());
    }

    @Test
    void withoutInflateAndDeflateQueuesTheDeviceAsksForAReset() throws Exception {
        bench = new DriverBench(balloon, RAM);
        bench.init(0, 1, 128);
        assertTrue((bench.status() & VirtioStatus.DEVICE_NEEDS_RESET) != 0);
    }
}
