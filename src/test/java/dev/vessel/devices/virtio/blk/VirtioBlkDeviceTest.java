package dev.vessel.devices.virtio.blk;

import static dev.vessel.devices.virtio.blk.BlkDriver.Seg;
import static dev.vessel.devices.virtio.blk.VirtioBlk.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.devices.block.FileBackend;
import dev.vessel.devices.block.nbd.NbdClient;
import dev.vessel.devices.block.nbd.NbdServer;
import dev.vessel.devices.virtio.VirtioDevice;
import dev.vessel.devices.virtio.VirtioFeatures;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VirtioBlkDeviceTest {
    static final long MIB = 1 << 20;

    @TempDir
    Path dir;

    Path image(long size, byte[] content) throws IOException {
        Path p = dir.resolve("disk-" + System.nanoTime() + ".img");
        try (var ch = java.nio.channels.FileChannel.open(p, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            if (content != null) {
                ch.write(java.nio.ByteBuffer.wrap(content));
            }
            ch.truncate(size);
            if (ch.size() < size) {
                ch.write(java.nio.ByteBuffer.allocate(1), size - 1);
            }
        }
        return p;
    }

    static byte[] fileBytes(Path p, long offset, int len) throws IOException {
        return Arrays.copyOfRange(Files.readAllBytes(p), (int) offset, (int) offset + len);
    }

    static VirtioBlkDevice device(FakeBackend b) {
        return new VirtioBlkDevice(b, false, "fake-disk");
    }

    // --- identity, features, configuration space ---------------------------------------------

    @Test
    void offersFlushSizesDiscardAndWriteZeroesForAWritableDisk() {
        FakeBackend b = new FakeBackend(8 * MIB + 300); // a size that is not a whole number of sectors
        VirtioBlkDevice d = device(b);
        assertEquals(VirtioDevice.TYPE_BLOCK, d.deviceType());
        assertEquals(1, d.queueCount());
        assertEquals(VirtioBlkDevice.QUEUE_SIZE, d.queueMaxSize(0));
        long f = d.deviceFeatures();
        for (int bit : new int[] {F_FLUSH, F_BLK_SIZE, F_SEG_MAX, F_SIZE_MAX, F_DISCARD, F_WRITE_ZEROES}) {
            assertTrue(VirtioFeatures.has(f, bit), "feature " + bit);
        }
        for (int bit : new int[] {F_RO, F_MQ, F_CONFIG_WCE, F_GEOMETRY, F_TOPOLOGY, F_SECURE_ERASE, F_LIFETIME}) {
            assertFalse(VirtioFeatures.has(f, bit), "feature " + bit);
        }
        assertEquals(0, f & VirtioFeatures.TRANSPORT_BITS);
        long sectors = 8 * MIB / 512;
        assertEquals(sectors, d.capacitySectors());
        assertEquals((int) sectors, d.readConfig(CFG_CAPACITY, 4));
        assertEquals(0, d.readConfig(CFG_CAPACITY + 4, 4));
        assertEquals(VirtioBlkDevice.SIZE_MAX, d.readConfig(CFG_SIZE_MAX, 4));
        assertEquals(VirtioBlkDevice.SEG_MAX, d.readConfig(CFG_SEG_MAX, 4));
        assertEquals(512, d.readConfig(CFG_BLK_SIZE, 4));
        assertEquals(VirtioBlkDevice.MAX_DISCARD_SECTORS, d.readConfig(CFG_MAX_DISCARD_SECTORS, 4));
        assertEquals(VirtioBlkDevice.MAX_DISCARD_SEG, d.readConfig(CFG_MAX_DISCARD_SEG, 4));
        assertEquals(VirtioBlkDevice.DISCARD_SECTOR_ALIGNMENT, d.readConfig(CFG_DISCARD_SECTOR_ALIGNMENT, 4));
        assertEquals(VirtioBlkDevice.MAX_WRITE_ZEROES_SECTORS, d.readConfig(CFG_MAX_WRITE_ZEROES_SECTORS, 4));
        assertEquals(VirtioBlkDevice.MAX_WRITE_ZEROES_SEG, d.readConfig(CFG_MAX_WRITE_ZEROES_SEG, 4));
        assertEquals(0, d.readConfig(CFG_WRITE_ZEROES_MAY_UNMAP, 1), "a fake backend's discard is not known to zero");
        assertEquals(0, d.readConfig(CFG_WRITEBACK, 1));
        assertEquals(0, d.readConfig(CFG_NUM_QUEUES, 2));
        assertEquals(CONFIG_SIZE, d.configSize());
    }

    @Test
    void aReadOnlyDiskOffersRoAndNeitherDiscardNorWriteZeroes() throws Exception {
        VirtioBlkDevice d = new VirtioBlkDevice(new FakeBackend(MIB), true, "ro");
        assertTrue(d.readOnly());
        assertTrue(VirtioFeatures.has(d.deviceFeatures(), F_RO));
        assertFalse(VirtioFeatures.has(d.deviceFeatures(), F_DISCARD));
        assertFalse(VirtioFeatures.has(d.deviceFeatures(), F_WRITE_ZEROES));
        assertTrue(VirtioFeatures.has(d.deviceFeatures(), F_FLUSH));
        assertEquals(0, d.readConfig(CFG_MAX_DISCARD_SECTORS, 4));

        // A backend opened read-only makes the device read-only even if the caller did not say so.
        Path img = image(MIB, null);
        try (VirtioBlkDevice f = new VirtioBlkDevice(FileBackend.open(img, true), false, "x")) {
            assertTrue(f.readOnly());
            assertTrue(VirtioFeatures.has(f.deviceFeatures(), F_RO));
        }
    }

    @Test
    void aFileDiskMayUnmapOnWriteZeroes() throws Exception {
        try (VirtioBlkDevice d = VirtioBlkDevice.open(image(MIB, null).toString(), false)) {
            assertEquals(1, d.readConfig(CFG_WRITE_ZEROES_MAY_UNMAP, 1));
            assertTrue(VirtioFeatures.has(d.deviceFeatures(), F_DISCARD), "ext4/tmpfs punch holes");
        }
    }

    // --- reads and writes ------------------------------------------------------------------------

    @Test
    void writeThenReadAcrossOddDescriptorsReachesTheFile() throws Exception {
        Path img = image(MIB, null);
        byte[] data = BlkDriver.pattern(1536, 1);
        try (VirtioBlkDevice d = VirtioBlkDevice.open(img.toString(), false); BlkDriver drv = new BlkDriver(d)) {
            // The header split over two descriptors, data over three of odd sizes.
            Seg h = drv.header(T_OUT, 7);
            byte[] hb = drv.read(h);
            Seg h1 = drv.out(Arrays.copyOfRange(hb, 0, 10));
            Seg h2 = drv.out(Arrays.copyOfRange(hb, 10, 16));
            Seg st = drv.status();
            assertEquals(S_OK, drv.run(h1, h2, drv.out(Arrays.copyOfRange(data, 0, 700)),
                    drv.out(Arrays.copyOfRange(data, 700, 1024)), drv.out(Arrays.copyOfRange(data, 1024, 1536)), st));
            assertEquals(1, drv.lastUsedLen, "the status byte is all the device wrote");
            assertArrayEquals(data, fileBytes(img, 7 * 512, 1536));

            // Read back: data in two writable buffers, the last one also holding the status byte.
            Seg a = drv.in(100);
            Seg b = drv.in(1436 + 1);
            assertEquals(S_OK, drv.run(drv.header(T_IN, 7), a, b));
            assertEquals(1537, drv.lastUsedLen);
            byte[] back = new byte[1536];
            System.arraycopy(drv.read(a), 0, back, 0, 100);
            System.arraycopy(drv.read(b), 0, back, 100, 1436);
            assertArrayEquals(data, back);
            assertTrue(drv.ring.guardsIntact());
        }
    }

    @Test
    void indirectChainsWork() throws Exception {
        FakeBackend b = new FakeBackend(MIB);
        byte[] data = BlkDriver.pattern(4096, 2);
        try (BlkDriver drv = new BlkDriver(device(b))) {
            assertEquals(S_OK, drv.runIndirect(drv.header(T_OUT, 100), drv.out(Arrays.copyOfRange(data, 0, 2048)),
                    drv.out(Arrays.copyOfRange(data, 2048, 4096)), drv.status()));
            assertArrayEquals(data, b.bytes(100 * 512, 4096));
            Seg in = drv.in(4096);
            assertEquals(S_OK, drv.runIndirect(drv.header(T_IN, 100), in, drv.status()));
            assertArrayEquals(data, drv.read(in));
            assertEquals(4097, drv.lastUsedLen);
        }
    }

    @Test
    void buffersAdjacentInGuestMemoryBecomeOneBackendCall() throws Exception {
        FakeBackend b = new FakeBackend(MIB);
        b.fill(0, BlkDriver.pattern(8192, 3));
        try (BlkDriver drv = new BlkDriver(device(b))) {
            Seg h = drv.header(T_IN, 0);
            long base = drv.alloc(8 * 1024);
            List<Seg> segs = new ArrayList<>(List.of(h));
            for (int i = 0; i < 8; i++) {
                segs.add(new Seg(base + 1024L * i, 1024, true));
            }
            Seg st = drv.status();
            segs.add(st);
            assertEquals(S_OK, drv.run(segs.toArray(Seg[]::new)));
            assertEquals(1, b.reads, "eight adjacent pages, one read");
            assertArrayEquals(BlkDriver.pattern(8192, 3), drv.bytes(base, 8192));

            // Scattered (every other 1 KiB): one call per buffer, data still in the right places.
            b.reads = 0;
            long scattered = drv.alloc(16 * 1024);
            segs = new ArrayList<>(List.of(drv.header(T_IN, 0)));
            for (int i = 0; i < 8; i++) {
                segs.add(new Seg(scattered + 2048L * i, 1024, true));
            }
            segs.add(drv.status());
            assertEquals(S_OK, drv.run(segs.toArray(Seg[]::new)));
            assertEquals(8, b.reads);
            for (int i = 0; i < 8; i++) {
                assertArrayEquals(Arrays.copyOfRange(BlkDriver.pattern(8192, 3), 1024 * i, 1024 * (i + 1)),
                        drv.bytes(scattered + 2048L * i, 1024));
            }
        }
    }

    @Test
    void aReadOfZeroBytesIsFine() throws Exception {
        FakeBackend b = new FakeBackend(MIB);
        try (BlkDriver drv = new BlkDriver(device(b))) {
            assertEquals(S_OK, drv.run(drv.header(T_IN, 2048), drv.status()), "zero sectors at the very end");
            assertEquals(0, b.reads);
        }
    }

    // --- flush and durability ---------------------------------------------------------------------

    @Test
    void flushReachesTheBackendAndWritesAloneDoNot() throws Exception {
        FakeBackend b = new FakeBackend(MIB);
        try (BlkDriver drv = new BlkDriver(device(b))) {
            assertEquals(S_OK, drv.run(drv.header(T_OUT, 0), drv.out(new byte[512]), drv.status()));
            assertEquals(0, b.flushes, "with F_FLUSH negotiated, a write is not flushed by itself");
            assertEquals(S_OK, drv.run(drv.header(T_FLUSH, 0), drv.status()));
            assertEquals(1, b.flushes);
            b.failures = 1;
            assertEquals(S_IOERR, drv.run(drv.header(T_FLUSH, 0), drv.status()), "a failed fdatasync is an I/O error");
        }
    }

    @Test
    void flushOnARealFileSucceeds() throws Exception {
        Path img = image(MIB, null);
        try (VirtioBlkDevice d = VirtioBlkDevice.open(img.toString(), false); BlkDriver drv = new BlkDriver(d)) {
            assertEquals(S_OK, drv.run(drv.header(T_OUT, 1), drv.out(BlkDriver.pattern(512, 9)), drv.status()));
            assertEquals(S_OK, drv.run(drv.header(T_FLUSH, 0), drv.status()));
            assertArrayEquals(BlkDriver.pattern(512, 9), fileBytes(img, 512, 512));
        }
    }

    @Test
    void withoutFlushNegotiatedEveryWriteIsFlushedBeforeItCompletes() throws Exception {
        FakeBackend b = new FakeBackend(MIB);
        try (BlkDriver drv = new BlkDriver(device(b), 4 << 20, ~VirtioFeatures.bit(F_FLUSH))) {
            assertFalse(drv.ctx.hasFeature(F_FLUSH));
            assertEquals(S_OK, drv.run(drv.header(T_OUT, 0), drv.out(new byte[512]), drv.status()));
            assertEquals(1, b.flushes);
            assertEquals(S_OK, drv.run(drv.header(T_IN, 0), drv.in(512), drv.status()));
            assertEquals(1, b.flushes, "reads are not flushed");
            assertEquals(S_OK, drv.run(drv.header(T_WRITE_ZEROES, 0), drv.out(BlkDriver.segment(0, 8, 0)), drv.status()));
            assertEquals(2, b.flushes);
        }
    }

    // --- read-only --------------------------------------------------------------------------------

    @Test
    void aReadOnlyDiskRefusesWritesWithIoErrAndWritesNothing() throws Exception {
        byte[] content = BlkDriver.pattern(64 * 1024, 4);
        Path img = image(MIB, content);
        try (VirtioBlkDevice d = VirtioBlkDevice.open(img.toString(), true); BlkDriver drv = new BlkDriver(d)) {
            assertTrue(drv.ctx.hasFeature(F_RO));
            assertEquals(S_IOERR, drv.run(drv.header(T_OUT, 0), drv.out(new byte[4096]), drv.status()));
            assertEquals(S_UNSUPP, drv.run(drv.header(T_WRITE_ZEROES, 0), drv.out(BlkDriver.segment(0, 8, 0)), drv.status()));
            assertEquals(S_UNSUPP, drv.run(drv.header(T_DISCARD, 0), drv.out(BlkDriver.segment(0, 8, 0)), drv.status()));
            assertEquals(S_OK, drv.run(drv.header(T_FLUSH, 0), drv.status()));
            Seg in = drv.in(4096);
            assertEquals(S_OK, drv.run(drv.header(T_IN, 0), in, drv.status()));
            assertArrayEquals(Arrays.copyOf(content, 4096), drv.read(in));
        }
        assertArrayEquals(content, fileBytes(img, 0, content.length));
        FakeBackend b = new FakeBackend(MIB);
        try (BlkDriver drv = new BlkDriver(new VirtioBlkDevice(b, true, "ro"))) {
            assertEquals(S_IOERR, drv.run(drv.header(T_OUT, 0), drv.out(new byte[512]), drv.status()));
            assertEquals(0, b.writes);
        }
    }

    // --- bad requests -----------------------------------------------------------------------------

    @Test
    void sectorsBeyondTheCapacityAreIoErr() throws Exception {
        FakeBackend b = new FakeBackend(MIB); // 2048 sectors
        try (BlkDriver drv = new BlkDriver(device(b))) {
            long[][] bad = {{2048, 512}, {2047, 1024}, {-1L, 512}, {1L << 55, 512}, {Long.MIN_VALUE, 512},
                    {(Long.MAX_VALUE / 512) + 1, 512}, {2049, 0}};
            for (long[] c : bad) {
                assertEquals(S_IOERR, drv.run(drv.header(T_IN, c[0]), drv.in((int) c[1]), drv.status()),
                        "read " + c[1] + " at " + Long.toUnsignedString(c[0]));
                assertEquals(S_IOERR, drv.run(drv.header(T_OUT, c[0]), drv.out(new byte[(int) c[1]]), drv.status()),
                        "write " + c[1] + " at " + Long.toUnsignedString(c[0]));
            }
            assertEquals(0, b.reads + b.writes);
            assertEquals(S_OK, drv.run(drv.header(T_IN, 2047), drv.in(512), drv.status()));
            assertEquals(S_OK, drv.run(drv.header(T_OUT, 2047), drv.out(new byte[512]), drv.status()));
        }
    }

    @Test
    void lengthsThatAreNotWholeSectorsAreIoErr() throws Exception {
        FakeBackend b = new FakeBackend(MIB);
        try (BlkDriver drv = new BlkDriver(device(b))) {
            assertEquals(S_IOERR, drv.run(drv.header(T_IN, 0), drv.in(513), drv.status()));
            assertEquals(S_IOERR, drv.run(drv.header(T_IN, 0), drv.in(511), drv.status()));
            assertEquals(S_IOERR, drv.run(drv.header(T_OUT, 0), drv.out(new byte[100]), drv.status()));
            assertEquals(S_IOERR, drv.run(drv.header(T_OUT, 0), drv.out(new byte[1000]), drv.status()));
            assertEquals(0, b.reads + b.writes);
            assertEquals(4, drv.device.failedRequests());
        }
    }

    @Test
    void dataOnTheWrongSideIsIoErr() throws Exception {
        FakeBackend b = new FakeBackend(MIB);
        try (BlkDriver drv = new BlkDriver(device(b))) {
            assertEquals(S_IOERR, drv.run(drv.header(T_IN, 0), drv.out(new byte[512]), drv.status()),
                    "read whose data buffer is device-readable");
            assertEquals(S_IOERR, drv.run(drv.header(T_OUT, 0), drv.in(512), drv.status()),
                    "write whose data buffer is device-writable");
            assertEquals(0, b.reads + b.writes);
        }
    }

    @Test
    void aShortHeaderIsIoErr() throws Exception {
        try (BlkDriver drv = new BlkDriver(device(new FakeBackend(MIB)))) {
            assertEquals(S_IOERR, drv.run(drv.out(new byte[8]), drv.status()));
            assertEquals(S_IOERR, drv.run(drv.status()), "nothing but a status byte");
        }
    }

    @Test
    void withoutAWritableStatusByteTheChainIsReturnedUnansweredAndNothingIsWritten() throws Exception {
        FakeBackend b = new FakeBackend(MIB);
        try (BlkDriver drv = new BlkDriver(device(b))) {
            // All readable: a "status" the device may not write.
            Seg fakeStatus = drv.out(new byte[] {(byte) 0x77});
            int head = drv.publish(List.of(drv.header(T_IN, 0), drv.out(new byte[512]), fakeStatus));
            drv.kick();
            assertEquals(1, drv.ring.usedIdx());
            assertEquals(head, drv.ring.usedId(0));
            assertEquals(0, drv.ring.usedLen(0));
            drv.sawUsed(1);
            assertEquals(0x77, drv.read(fakeStatus)[0] & 0xFF, "the readable byte is untouched");
            assertEquals(1, drv.device.droppedRequests());
            // A write without a status: the data is not written either.
            drv.publish(List.of(drv.header(T_OUT, 0), drv.out(BlkDriver.pattern(512, 5))));
            drv.kick();
            drv.sawUsed(1);
            assertEquals(0, b.writes);
            assertNull(drv.ctx.failure);
            assertTrue(drv.ring.guardsIntact());
            // The device goes on.
            assertEquals(S_OK, drv.run(drv.header(T_FLUSH, 0), drv.status()));
        }
    }

    @Test
    void unknownAndUnsupportedTypesAreUnsupp() throws Exception {
        FakeBackend b = new FakeBackend(MIB);
        try (BlkDriver drv = new BlkDriver(device(b))) {
            for (int type : new int[] {2, 3, 5, T_GET_LIFETIME, T_SECURE_ERASE, 15, 16, 24, 26, 0x80000000, -1}) {
                assertEquals(S_UNSUPP, drv.run(drv.header(type, 0), drv.in(512), drv.status()), "type " + type);
            }
            assertEquals(0, b.reads + b.writes + b.flushes + b.discards);
        }
    }

    @Test
    void aBackendErrorIsIoErrAndTheDeviceGoesOn() throws Exception {
        FakeBackend b = new FakeBackend(MIB);
        try (BlkDriver drv = new BlkDriver(device(b))) {
            b.failures = 1;
            assertEquals(S_IOERR, drv.run(drv.header(T_IN, 0), drv.in(512), drv.status()));
            b.failures = 1;
            assertEquals(S_IOERR, drv.run(drv.header(T_OUT, 0), drv.out(new byte[512]), drv.status()));
            assertEquals(S_OK, drv.run(drv.header(T_IN, 0), drv.in(512), drv.status()));
            assertNull(drv.ctx.failure);
        }
    }

    // --- GET_ID -----------------------------------------------------------------------------------

    @Test
    void getIdReturnsTheIdNulPadded() throws Exception {
        try (BlkDriver drv = new BlkDriver(new VirtioBlkDevice(new FakeBackend(MIB), false, "disk-one"))) {
            Seg id = drv.in(20);
            assertEquals(S_OK, drv.run(drv.header(T_GET_ID, 0), id, drv.status()));
            byte[] expected = new byte[20];
            System.arraycopy("disk-one".getBytes(StandardCharsets.US_ASCII), 0, expected, 0, 8);
            assertArrayEquals(expected, drv.read(id));
            assertEquals(21, drv.lastUsedLen);
            // A smaller buffer gets what fits; a bigger one, 20 bytes and the rest untouched.
            Seg small = drv.in(4);
            assertEquals(S_OK, drv.run(drv.header(T_GET_ID, 0), small, drv.status()));
            assertArrayEquals("disk".getBytes(StandardCharsets.US_ASCII), drv.read(small));
            Seg big = drv.in(32);
            assertEquals(S_OK, drv.run(drv.header(T_GET_ID, 0), big, drv.status()));
            assertArrayEquals(expected, Arrays.copyOf(drv.read(big), 20));
            assertEquals((byte) 0xEE, drv.read(big)[20]);
            assertEquals(S_IOERR, drv.run(drv.header(T_GET_ID, 0), drv.status()), "no room for the ID");
        }
    }

    @Test
    void theDerivedIdIsStableAndTwentyBytes() throws Exception {
        Path img = image(MIB, null);
        String id = VirtioBlkDevice.deriveId(img.toString());
        assertEquals(20, id.length());
        assertEquals(id, VirtioBlkDevice.deriveId(img.toString()));
        assertEquals(id, VirtioBlkDevice.deriveId(img.getParent().resolve(".").resolve(img.getFileName()).toString()));
        assertNotEquals(id, VirtioBlkDevice.deriveId(img + "2"));
        try (VirtioBlkDevice d = VirtioBlkDevice.open(img.toString(), false); BlkDriver drv = new BlkDriver(d)) {
            assertEquals(id, d.id());
            Seg out = drv.in(20);
            assertEquals(S_OK, drv.run(drv.header(T_GET_ID, 0), out, drv.status()));
            assertEquals(id, new String(drv.read(out), StandardCharsets.US_ASCII));
        }
        String full = "abcdefghij0123456789";
        assertEquals(full, new VirtioBlkDevice(new FakeBackend(MIB), false, full).id());
        assertThrows(IllegalArgumentException.class, () -> new VirtioBlkDevice(new FakeBackend(MIB), false, full + "x"));
        assertThrows(IllegalArgumentException.class, () -> new VirtioBlkDevice(new FakeBackend(MIB), false, "é"));
        assertThrows(IllegalArgumentException.class, () -> new VirtioBlkDevice(new FakeBackend(MIB), false, "a\nb"));
    }

    // --- discard and write zeroes -----------------------------------------------------------------

    @Test
    void discardOnAFilePunchesAHoleThatReadsAsZeros() throws Exception {
        byte[] content = BlkDriver.pattern(64 * 1024, 6);
        Path img = image(MIB, content);
        try (VirtioBlkDevice d = VirtioBlkDevice.open(img.toString(), false); BlkDriver drv = new BlkDriver(d)) {
            assertTrue(drv.ctx.hasFeature(F_DISCARD));
            assertEquals(S_OK, drv.run(drv.header(T_DISCARD, 0), drv.out(concat(BlkDriver.segment(8, 16, 0),
                    BlkDriver.segment(64, 8, 0))), drv.status()));
            Seg in = drv.in(64 * 1024);
            assertEquals(S_OK, drv.run(drv.header(T_IN, 0), in, drv.status()));
            byte[] expected = content.clone();
            Arrays.fill(expected, 8 * 512, 24 * 512, (byte) 0);
            Arrays.fill(expected, 64 * 512, 72 * 512, (byte) 0);
            assertArrayEquals(expected, drv.read(in));
        }
        assertEquals(MIB, Files.size(img), "the file keeps its size");
        byte[] expected = content.clone();
        Arrays.fill(expected, 8 * 512, 24 * 512, (byte) 0);
        Arrays.fill(expected, 64 * 512, 72 * 512, (byte) 0);
        assertArrayEquals(expected, fileBytes(img, 0, content.length));
    }

    @Test
    void badDiscardAndWriteZeroesRequestsAreRefusedBeforeAnythingIsDone() throws Exception {
        FakeBackend b = new FakeBackend(MIB);
        try (BlkDriver drv = new BlkDriver(device(b))) {
            // Flags: unmap is not for discard; unknown bits never.
            assertEquals(S_UNSUPP, drv.run(drv.header(T_DISCARD, 0), drv.out(BlkDriver.segment(0, 8, SEGMENT_F_UNMAP)), drv.status()));
            assertEquals(S_UNSUPP, drv.run(drv.header(T_DISCARD, 0), drv.out(concat(BlkDriver.segment(0, 8, 0),
                    BlkDriver.segment(16, 8, 2))), drv.status()), "an unknown flag in the second segment");
            assertEquals(S_UNSUPP, drv.run(drv.header(T_WRITE_ZEROES, 0), drv.out(BlkDriver.segment(0, 8, 4)), drv.status()));
            // Segment lists: empty, not a multiple of 16, too many.
            assertEquals(S_IOERR, drv.run(drv.header(T_DISCARD, 0), drv.status()));
            assertEquals(S_IOERR, drv.run(drv.header(T_DISCARD, 0), drv.out(new byte[20]), drv.status()));
            byte[] many = new byte[16 * (VirtioBlkDevice.MAX_DISCARD_SEG + 1)];
            assertEquals(S_IOERR, drv.run(drv.header(T_DISCARD, 0), drv.out(many), drv.status()));
            assertEquals(S_IOERR, drv.run(drv.header(T_WRITE_ZEROES, 0), drv.out(concat(BlkDriver.segment(0, 1, 0),
                    BlkDriver.segment(1, 1, 0))), drv.status()), "write zeroes takes one segment");
            // Sizes and ranges: one good segment does not save a bad one.
            assertEquals(S_IOERR, drv.run(drv.header(T_DISCARD, 0), drv.out(concat(BlkDriver.segment(0, 8, 0),
                    BlkDriver.segment(2040, 9, 0))), drv.status()));
            assertEquals(S_IOERR, drv.run(drv.header(T_DISCARD, 0), drv.out(BlkDriver.segment(-8, 16, 0)), drv.status()));
            assertEquals(S_IOERR, drv.run(drv.header(T_WRITE_ZEROES, 0),
                    drv.out(BlkDriver.segment(0, VirtioBlkDevice.MAX_WRITE_ZEROES_SECTORS + 1, 0)), drv.status()));
            assertEquals(S_IOERR, drv.run(drv.header(T_DISCARD, 0), drv.out(BlkDriver.segment(0, -1, 0)), drv.status()),
                    "num_sectors 2^32-1");
            // Segments on the writable side.
            assertEquals(S_IOERR, drv.run(drv.header(T_DISCARD, 0), drv.in(16), drv.status()));
            assertEquals(0, b.discards + b.writes);
            // Good ones.
            assertEquals(S_OK, drv.run(drv.header(T_DISCARD, 0), drv.out(BlkDriver.segment(2040, 8, 0)), drv.status()));
            assertEquals(S_OK, drv.run(drv.header(T_DISCARD, 0), drv.out(BlkDriver.segment(0, 0, 0)), drv.status()));
            assertEquals(1, b.discards);
        }
        // Not negotiated: unsupported.
        try (BlkDriver drv = new BlkDriver(device(new FakeBackend(MIB)), 4 << 20,
                ~(VirtioFeatures.bit(F_DISCARD) | VirtioFeatures.bit(F_WRITE_ZEROES)))) {
            assertEquals(S_UNSUPP, drv.run(drv.header(T_DISCARD, 0), drv.out(BlkDriver.segment(0, 8, 0)), drv.status()));
            assertEquals(S_UNSUPP, drv.run(drv.header(T_WRITE_ZEROES, 0), drv.out(BlkDriver.segment(0, 8, 0)), drv.status()));
        }
    }

    @Test
    void writeZeroesZerosTheRangeWithOrWithoutUnmap() throws Exception {
        FakeBackend b = new FakeBackend(MIB, false, false);
        b.fill(0, BlkDriver.pattern((int) MIB, 7));
        try (BlkDriver drv = new BlkDriver(device(b))) {
            assertFalse(drv.ctx.hasFeature(F_DISCARD));
            assertTrue(drv.ctx.hasFeature(F_WRITE_ZEROES));
            // Bigger than the zero buffer the device writes from.
            assertEquals(S_OK, drv.run(drv.header(T_WRITE_ZEROES, 0),
                    drv.out(BlkDriver.segment(1, 1536, SEGMENT_F_UNMAP)), drv.status()));
            assertEquals(0, b.discards);
            byte[] expected = BlkDriver.pattern((int) MIB, 7);
            Arrays.fill(expected, 512, 512 + 1536 * 512, (byte) 0);
            assertArrayEquals(expected, b.bytes(0, (int) MIB));
        }
        byte[] content = BlkDriver.pattern(256 * 1024, 8);
        Path img = image(MIB, content);
        try (VirtioBlkDevice d = VirtioBlkDevice.open(img.toString(), false); BlkDriver drv = new BlkDriver(d)) {
            assertEquals(S_OK, drv.run(drv.header(T_WRITE_ZEROES, 0), drv.out(BlkDriver.segment(16, 64, SEGMENT_F_UNMAP)), drv.status()));
            assertEquals(S_OK, drv.run(drv.header(T_WRITE_ZEROES, 0), drv.out(BlkDriver.segment(200, 3, 0)), drv.status()));
        }
        byte[] expected = content.clone();
        Arrays.fill(expected, 16 * 512, 80 * 512, (byte) 0);
        Arrays.fill(expected, 200 * 512, 203 * 512, (byte) 0);
        assertArrayEquals(expected, fileBytes(img, 0, content.length));
    }

    // --- big requests, batches --------------------------------------------------------------------

    @Test
    void hugeChainsMoveAllTheirData() throws Exception {
        FakeBackend b = new FakeBackend(64 * MIB);
        try (BlkDriver drv = new BlkDriver(device(b), 40 * MIB, -1L)) {
            // 16384 indirect descriptors of 512 bytes, scattered (a gap after each): 8 MiB.
            int n = 16384;
            byte[] data = BlkDriver.pattern(n * 512, 10);
            List<Seg> segs = new ArrayList<>(List.of(drv.header(T_OUT, 1000)));
            for (int i = 0; i < n; i++) {
                segs.add(drv.out(Arrays.copyOfRange(data, i * 512, (i + 1) * 512)));
                drv.alloc(16);
            }
            segs.add(drv.status());
            assertEquals(S_OK, drv.runIndirect(segs.toArray(Seg[]::new)));
            assertEquals(n, b.writes);
            assertArrayEquals(data, b.bytes(1000 * 512, data.length));
            drv.resetAllocator();

            // The whole direct ring: header, 254 data buffers, status.
            segs = new ArrayList<>(List.of(drv.header(T_IN, 1000)));
            for (int i = 0; i < VirtioBlkDevice.SEG_MAX; i++) {
                segs.add(drv.in(512));
                drv.alloc(16);
            }
            segs.add(drv.status());
            assertEquals(S_OK, drv.run(segs.toArray(Seg[]::new)));
            for (int i = 0; i < VirtioBlkDevice.SEG_MAX; i++) {
                assertArrayEquals(Arrays.copyOfRange(data, i * 512, (i + 1) * 512), drv.read(segs.get(i + 1)));
            }
            drv.resetAllocator();

            // One 32 MiB buffer.
            Seg big = drv.in(32 << 20);
            assertEquals(S_OK, drv.run(drv.header(T_IN, 0), big, drv.status()));
            assertArrayEquals(b.bytes(0, 32 << 20), drv.read(big));
            assertTrue(drv.ring.guardsIntact());
        }
    }

    @Test
    void aBatchIsHandledInOneKickWithOneInterrupt() throws Exception {
        FakeBackend b = new FakeBackend(MIB);
        try (BlkDriver drv = new BlkDriver(device(b))) {
            int n = 80; // 3 descriptors each: 240 of 256
            Seg[] data = new Seg[n];
            for (int i = 0; i < n; i++) {
                data[i] = drv.out(BlkDriver.pattern(512, i));
                drv.publish(List.of(drv.header(T_OUT, i), data[i], drv.status()));
            }
            drv.ctx.interrupts = 0;
            drv.kick();
            assertEquals(n, drv.ring.usedIdx());
            assertEquals(1, drv.ctx.interrupts, "one interrupt for the batch");
            for (int i = 0; i < n; i++) {
                assertArrayEquals(BlkDriver.pattern(512, i), b.bytes(512L * i, 512));
            }
            assertEquals(n, drv.device.requests());
            assertEquals(0, drv.device.failedRequests());
        }
    }

    @Test
    void requestsAfterAResetAreNotServed() throws Exception {
        FakeBackend b = new FakeBackend(MIB);
        try (BlkDriver drv = new BlkDriver(device(b))) {
            drv.publish(List.of(drv.header(T_OUT, 0), drv.out(new byte[512]), drv.status()));
            drv.device.reset();
            drv.queue.deactivate();
            drv.device.queueNotify(0);
            assertEquals(0, drv.ring.usedIdx());
            assertEquals(0, b.writes);
        }
    }

    // --- backends ---------------------------------------------------------------------------------

    @Test
    void anNbdExportWorksAsADisk() throws Exception {
        Path img = image(4 * MIB, null);
        try (FileBackend file = FileBackend.open(img, false);
                NbdServer server = new NbdServer(file, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), "e").start()) {
            String location = "nbd://127.0.0.1:" + server.port() + "/e";
            try (VirtioBlkDevice d = VirtioBlkDevice.open(location, false); BlkDriver drv = new BlkDriver(d)) {
                assertTrue(d.backend() instanceof NbdClient);
                assertEquals(4 * MIB / 512, d.capacitySectors());
                byte[] data = BlkDriver.pattern(8192, 11);
                assertEquals(S_OK, drv.run(drv.header(T_OUT, 3), drv.out(data), drv.status()));
                assertEquals(S_OK, drv.run(drv.header(T_FLUSH, 0), drv.status()));
                Seg in = drv.in(8192);
                assertEquals(S_OK, drv.run(drv.header(T_IN, 3), in, drv.status()));
                assertArrayEquals(data, drv.read(in));
                assertArrayEquals(data, fileBytes(img, 3 * 512, 8192));
                assertEquals(20, d.id().length());
            }
        }
    }

    @Test
    void openingAMissingImageFails() {
        IOException e = assertThrows(IOException.class, () -> VirtioBlkDevice.open(dir.resolve("nope.img").toString(), false));
        assertTrue(e.getMessage().contains("nope.img"), e.getMessage());
    }

    @Test
    void closeClosesTheBackend() throws Exception {
        FakeBackend b = new FakeBackend(MIB);
        device(b).close();
        assertTrue(b.closed);
    }

    static byte[] concat(byte[]... parts) {
        int n = 0;
        for (byte[] p : parts) {
            n += p.length;
        }
        byte[] out = new byte[n];
        int at = 0;
        for (byte[] p : parts) {
            System.arraycopy(p, 0, out, at, p.length);
            at += p.length;
        }
        return out;
    }
}
