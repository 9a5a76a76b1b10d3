package dev.vessel.devices.virtio.queue;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.memory.GuestMemory;
import dev.vessel.memory.MemoryRegion;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class VirtqueueTest {
    static final int NEXT = Virtqueue.DESC_F_NEXT;
    static final int WRITE = Virtqueue.DESC_F_WRITE;
    static final int INDIRECT = Virtqueue.DESC_F_INDIRECT;

    RingFixture ring = new RingFixture(8);

    @AfterEach
    void close() {
        assertTrue(ring.guardsIntact(), "nothing outside guest RAM was written");
        ring.close();
    }

    private String message(VirtqueueException e) {
        return e.getMessage();
    }

    @Test
    void emptyQueuePopsNothing() throws Exception {
        Virtqueue q = ring.queue(false, false);
        assertNull(q.pop());
        assertFalse(q.hasAvailable());
        assertEquals(0, ring.usedIdx());
    }

    @Test
    void singleBufferRoundTrip() throws Exception {
        Virtqueue q = ring.queue(false, false);
        ring.fill(ring.data, "hello virtio".getBytes());
        ring.desc(3, ring.data, 12, 0, 0);
        ring.publish(3);
        assertTrue(q.hasAvailable());
        DescriptorChain c = q.pop();
        assertNotNull(c);
        assertEquals(3, c.head());
        assertEquals(1, c.bufferCount());
        assertEquals(new DescriptorChain.Buffer(ring.data, 12, false), c.buffer(0));
        assertEquals(12, c.readableLength());
        assertEquals(0, c.writableLength());
        assertEquals("hello virtio", new String(c.reader().readAll()));
        assertNull(q.pop());
        q.addUsed(c, 0);
        assertEquals(1, ring.usedIdx());
        assertEquals(3, ring.usedId(0));
        assertEquals(0, ring.usedLen(0));
        assertEquals(0, q.outstanding());
    }

    @Test
    void readableThenWritableAcrossBufferBoundaries() throws Exception {
        Virtqueue q = ring.queue(false, false);
        long a = ring.data;
        long b = ring.data + 0x100;
        long w1 = ring.data + 0x200;
        long w2 = ring.data + 0x300;
        ring.fill(a, new byte[] {1, 2, 3});
        ring.fill(b, new byte[] {4, 5, 6, 7, 8});
        ring.desc(0, a, 3, NEXT, 5);
        ring.desc(5, b, 5, NEXT, 2);
        ring.desc(2, w1, 3, WRITE | NEXT, 7);
        ring.desc(7, w2, 10, WRITE, 0);
        ring.publish(0);
        DescriptorChain c = q.pop();
        assertEquals(4, c.bufferCount());
        assertEquals(2, c.readableBufferCount());
        assertEquals(8, c.readableLength());
        assertEquals(13, c.writableLength());

        ChainReader r = c.reader();
        assertEquals(0x0201, r.readShort());
        assertEquals(0x06050403, r.readInt(), "an int across the boundary, little-endian");
        assertEquals(2, r.remaining());
        assertThrows(VirtqueueException.class, r::readInt, "too few bytes left");
        assertEquals(2, r.remaining(), "a failed read consumes nothing");
        assertArrayEquals(new byte[] {7, 8}, r.readAll());

        ChainWriter w = c.writer();
        w.writeInt(0x44332211);
        assertThrows(VirtqueueException.class, () -> w.write(new byte[10]), "9 bytes left");
        assertEquals(4, w.position(), "a failed write writes nothing");
        w.write(new byte[] {9, 9, 9, 9, 9, 9, 9, 9});
        w.writeByte((byte) 0x77);
        assertEquals(0, w.remaining());
        assertArrayEquals(new byte[] {0x11, 0x22, 0x33}, ring.bytes(w1, 3));
        assertArrayEquals(new byte[] {0x44, 9, 9, 9, 9, 9, 9, 9, 9, 0x77}, ring.bytes(w2, 10));
        assertArrayEquals(new byte[] {1, 2, 3}, ring.bytes(a, 3), "readable buffers untouched");
        q.addUsed(c, w.position());
        assertEquals(13, ring.usedLen(0));
    }

    @Test
    void segmentsAndSkipAndByteBuffers() throws Exception {
        Virtqueue q = ring.queue(false, false);
        ring.fill(ring.data, new byte[] {1, 2, 3, 4});
        ring.fill(ring.data + 0x100, new byte[] {5, 6, 7, 8});
        ring.desc(0, ring.data, 4, NEXT, 1);
        ring.desc(1, ring.data + 0x100, 4, NEXT, 2);
        ring.desc(2, ring.data + 0x200, 6, WRITE, 0);
        ring.publish(0);
        DescriptorChain c = q.pop();
        ChainReader r = c.reader();
        r.skip(1);
        MemorySegment s = r.nextSegment(100);
        assertEquals(3, s.byteSize(), "stops at the buffer's end");
        java.nio.ByteBuffer bb = java.nio.ByteBuffer.allocate(3);
        assertEquals(3, r.read(bb));
        assertArrayEquals(new byte[] {5, 6, 7}, bb.array());
        assertEquals(1, r.read(new byte[5], 0, 5), "partial read returns what is left");
        assertEquals(0, r.nextSegment(10).byteSize());
        assertThrows(VirtqueueException.class, () -> r.skip(1));

        ChainWriter w = c.writer();
        java.nio.ByteBuffer src = java.nio.ByteBuffer.wrap(new byte[] {1, 1, 1, 1, 1, 1, 1, 1});
        assertEquals(6, w.write(src), "partial write of a ByteBuffer");
        assertEquals(2, src.remaining());
    }

    @Test
    void streams() throws Exception {
        Virtqueue q = ring.queue(false, false);
        ring.fill(ring.data, new byte[] {1, 2, 3});
        ring.fill(ring.data + 0x100, new byte[] {4, 5});
        ring.desc(0, ring.data, 3, NEXT, 1);
        ring.desc(1, ring.data + 0x100, 2, NEXT, 2);
        ring.desc(2, ring.data + 0x200, 2, WRITE | NEXT, 3);
        ring.desc(3, ring.data + 0x300, 2, WRITE, 0);
        ring.publish(0);
        DescriptorChain c = q.pop();
        ChainReader r = c.reader();
        assertEquals(1, r.readByte());
        java.io.InputStream in = r.inputStream();
        assertEquals(4, in.available());
        assertArrayEquals(new byte[] {2, 3, 4, 5}, in.readAllBytes());
        assertEquals(-1, in.read());
        java.io.OutputStream out = c.writer().outputStream();
        out.write(new byte[] {9, 8, 7});
        assertThrows(java.io.IOException.class, () -> out.write(new byte[] {6, 6}));
        out.write(6);
        assertThrows(java.io.IOException.class, () -> out.write(5));
        assertArrayEquals(new byte[] {9, 8}, ring.bytes(ring.data + 0x200, 2));
        assertArrayEquals(new byte[] {7, 6}, ring.bytes(ring.data + 0x300, 2));
    }

    @Test
    void addUsedRejectsDeviceMistakes() throws Exception {
        Virtqueue q = ring.queue(false, false);
        ring.desc(0, ring.data, 16, WRITE, 0);
        ring.publish(0);
        DescriptorChain c = q.pop();
        assertThrows(IllegalArgumentException.class, () -> q.addUsed(c, 17));
        assertThrows(IllegalArgumentException.class, () -> q.addUsed(c, -1));
        try (RingFixture other = new RingFixture(8)) {
            Virtqueue q2 = other.queue(false, false);
            assertThrows(IllegalArgumentException.class, () -> q2.addUsed(c, 0));
        }
        q.addUsed(c, 16);
        assertThrows(IllegalStateException.class, () -> q.addUsed(c, 0));
        assertThrows(IllegalStateException.class, () -> q.addUsed(0, 0), "nothing outstanding");
        assertEquals(1, ring.usedIdx());
    }

    @Test
    void indexesWrapAt65536() throws Exception {
        try (RingFixture r = new RingFixture(4)) {
            Virtqueue q = r.queue(true, false);
            for (int i = 0; i < 4; i++) {
                r.desc(i, r.data + 64L * i, 8, WRITE, 0);
            }
            for (int k = 0; k < 70_000; k++) {
                int head = (k * 3) % 4;
                r.publish(head);
                DescriptorChain c = q.pop();
                assertEquals(head, c.head());
                q.addUsed(c, k % 9);
                assertEquals((k + 1) & 0xFFFF, r.usedIdx());
                assertEquals(head, r.usedId(k % 4));
                assertEquals(k % 9, r.usedLen(k % 4));
                assertNull(q.pop());
                if (k % 3 == 0) {
                    q.shouldNotify();
                }
            }
            assertEquals(70_000 & 0xFFFF, q.lastAvailIndex());
            assertEquals(70_000 & 0xFFFF, q.nextUsedIndex());
        }
    }

    @Test
    void batchesAcrossTheWrap() throws Exception {
        try (RingFixture r = new RingFixture(8)) {
            Virtqueue q = r.queue(false, false);
            for (int i = 0; i < 8; i++) {
                r.desc(i, r.data, 8, 0, 0);
            }
            int k = 0;
            while (k < 65_536 + 20) {
                for (int i = 0; i < 8; i++) {
                    r.publish(i);
                }
                for (int i = 0; i < 8; i++) {
                    q.addUsed(q.pop(), 0);
                    k++;
                }
                assertNull(q.pop());
            }
            assertEquals(k & 0xFFFF, r.usedIdx());
        }
    }

    @Test
    void moreThanSizeNewEntriesBreaksTheQueue() throws Exception {
        Virtqueue q = ring.queue(false, false);
        ring.desc(0, ring.data, 8, 0, 0);
        ring.setAvailIdx(9);
        VirtqueueException e = assertThrows(VirtqueueException.class, q::pop);
        assertTrue(message(e).contains("more than the queue size"), message(e));
        assertFalse(e.hasHead());
        ring.setAvailIdx(1);
        assertThrows(VirtqueueException.class, q::pop, "a broken queue stays broken");
        assertThrows(VirtqueueException.class, q::hasAvailable);
        assertTrue(q.enableNotificationsAndCheck(), "reports work so that the next pop throws");
    }

    @Test
    void availIndexGoingBackwardsIsAnError() throws Exception {
        Virtqueue q = ring.queue(false, false);
        ring.desc(0, ring.data, 8, 0, 0);
        ring.publish(0);
        q.addUsed(q.pop(), 0);
        ring.setAvailIdx(0);
        assertThrows(VirtqueueException.class, q::pop);
    }

    @Test
    void exactlySizeEntriesIsFine() throws Exception {
        Virtqueue q = ring.queue(false, false);
        for (int i = 0; i < 8; i++) {
            ring.desc(i, ring.data, 8, 0, 0);
            ring.publish(i);
        }
        for (int i = 0; i < 8; i++) {
            assertEquals(i, q.pop().head());
        }
        assertNull(q.pop());
    }

    @Test
    void headOutOfRangeIsConsumedAndReported() throws Exception {
        Virtqueue q = ring.queue(false, false);
        ring.desc(1, ring.data, 8, 0, 0);
        ring.publish(8);
        ring.publish(1);
        VirtqueueException e = assertThrows(VirtqueueException.class, q::pop);
        assertFalse(e.hasHead(), "an out-of-range head cannot be returned");
        assertEquals(1, q.pop().head(), "the queue goes on");
        assertEquals(1, q.outstanding());
    }

    @Test
    void nextOutOfRange() throws Exception {
        Virtqueue q = ring.queue(false, false);
        ring.desc(2, ring.data, 8, NEXT, 8);
        ring.publish(2);
        VirtqueueException e = assertThrows(VirtqueueException.class, q::pop);
        assertEquals(2, e.head());
        q.addUsed(e.head(), 0);
        assertEquals(1, ring.usedIdx());
        assertEquals(2, ring.usedId(0));
    }

    @Test
    void loopsAreCaught() throws Exception {
        Virtqueue q = ring.queue(false, false);
        ring.desc(0, ring.data, 8, NEXT, 1);
        ring.desc(1, ring.data, 8, NEXT, 0);
        ring.desc(4, ring.data, 8, NEXT, 4);
        ring.publish(0);
        ring.publish(4);
        VirtqueueException e = assertThrows(VirtqueueException.class, q::pop);
        assertTrue(message(e).contains("loop"), message(e));
        assertThrows(VirtqueueException.class, q::pop, "a self loop");
    }

    @Test
    void chainOfEveryDescriptorIsFine() throws Exception {
        Virtqueue q = ring.queue(false, false);
        for (int i = 0; i < 8; i++) {
            ring.desc(i, ring.data + i, 1, i < 7 ? NEXT : 0, i + 1);
        }
        ring.publish(0);
        assertEquals(8, q.pop().bufferCount());
    }

    @Test
    void buffersOutsideRam() throws Exception {
        Virtqueue q = ring.queue(false, false);
        long end = RingFixture.RAM_BASE + ring.ramSize;
        long[][] bad = {
            {RingFixture.RAM_BASE - 1, 2}, {end - 4, 5}, {end, 1}, {0, 16}, {-1L, 16}, {Long.MAX_VALUE, 0xFFFF_FFFFL},
            {ring.data, 0xFFFF_FFFFL}, {-16, 32},
        };
        for (long[] b : bad) {
            ring.desc(0, b[0], b[1], 0, 0);
            ring.publish(0);
            VirtqueueException e = assertThrows(VirtqueueException.class, q::pop,
                    () -> "0x" + Long.toHexString(b[0]) + "+" + b[1]);
            assertTrue(message(e).contains("not guest RAM"), message(e));
            q.addUsed(e.head(), 0);
        }
        ring.desc(0, end - 4, 4, 0, 0);
        ring.publish(0);
        assertEquals(4, q.pop().readableLength(), "the last bytes of RAM are fine");
    }

    @Test
    void buffersMayNotStraddleRegions() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment low = arena.allocate(0x10000, 4096);
            MemorySegment high = arena.allocate(0x10000, 4096);
            GuestMemory mem = GuestMemory.of(List.of(new MemoryRegion(0, low), new MemoryRegion(0x10000, high)));
            VirtqueueLayout layout = new VirtqueueLayout(4, 0x1000, 0x2000, 0x3000);
            Virtqueue q = new Virtqueue(0, mem, layout, 4, false, false, Virtqueue.DEFAULT_MAX_CHAIN_BYTES);
            java.util.function.BiConsumer<Long, Long> desc0 = (addr, len) -> {
                low.set(RingFixture.U64, 0x1000, addr);
                low.set(RingFixture.U32, 0x1008, len.intValue());
            };
            desc0.accept(0xFFF8L, 16L);
            low.set(RingFixture.U16, 0x2002, (short) 1);
            assertThrows(VirtqueueException.class, q::pop, "contiguous in guest-physical terms, but two host mappings");
            desc0.accept(0x10000L, 16L);
            low.set(RingFixture.U16, 0x2002, (short) 2);
            assertEquals(16, q.pop().readableLength());
        }
    }

    @Test
    void readableAfterWritableIsRejected() throws Exception {
        Virtqueue q = ring.queue(false, false);
        ring.desc(0, ring.data, 8, WRITE | NEXT, 1);
        ring.desc(1, ring.data + 8, 8, NEXT, 2);
        ring.desc(2, ring.data + 16, 8, WRITE, 0);
        ring.publish(0);
        VirtqueueException e = assertThrows(VirtqueueException.class, q::pop);
        assertTrue(message(e).contains("after a device-writable"), message(e));
    }

    @Test
    void emptyDescriptorsAreDropped() throws Exception {
        Virtqueue q = ring.queue(false, false);
        ring.desc(0, 0xDEAD_0000_0000L, 0, WRITE | NEXT, 1);
        ring.desc(1, ring.data, 8, NEXT, 2);
        ring.desc(2, ring.data + 8, 8, WRITE, 0);
        ring.publish(0);
        DescriptorChain c = q.pop();
        assertEquals(2, c.bufferCount());
        assertEquals(8, c.readableLength());
    }

    @Test
    void totalLengthIsCapped() throws Exception {
        Virtqueue q = ring.queue(false, false, 100);
        ring.desc(0, ring.data, 40, NEXT, 1);
        ring.desc(1, ring.data, 40, NEXT, 2);
        ring.desc(2, ring.data, 40, WRITE, 0);
        ring.publish(0);
        VirtqueueException e = assertThrows(VirtqueueException.class, q::pop);
        assertTrue(message(e).contains("more than 100 bytes"), message(e));
        assertThrows(IllegalArgumentException.class, () -> ring.queue(false, false, 1L << 31));
        assertThrows(IllegalArgumentException.class, () -> ring.queue(false, false, 0));
    }

    @Test
    void hugeLengthsSummingPastFourGibAreRejected() throws Exception {
        GuestMemory mem;
        try {
            mem = GuestMemory.allocate(8L << 30); // MAP_NORESERVE: costs nothing until touched
        } catch (Exception | Error e) {
            org.junit.jupiter.api.Assumptions.abort("cannot reserve 8 GiB of address space: " + e);
            return;
        }
        try (mem) {
            VirtqueueLayout layout = new VirtqueueLayout(4, 0x1000, 0x2000, 0x3000);
            Virtqueue q = new Virtqueue(0, mem, layout, 4, false, false, Integer.MAX_VALUE);
            long high = GuestMemory.FOUR_GIB;
            for (int i = 0; i < 3; i++) {
                mem.writeLong(0x1000 + 16L * i, high);
                mem.writeInt(0x1008 + 16L * i, 0x7000_0000); // 1.75 GiB each: the second passes 2^31, all three 2^32
                mem.writeShort(0x100C + 16L * i, (short) (i < 2 ? NEXT : 0));
                mem.writeShort(0x100E + 16L * i, (short) (i + 1));
            }
            mem.writeShort(0x2002, (short) 1);
            VirtqueueException e = assertThrows(VirtqueueException.class, q::pop);
            assertTrue(message(e).contains("more than " + Integer.MAX_VALUE), message(e));
        }
    }

    @Test
    void indirectTable() throws Exception {
        Virtqueue q = ring.queue(false, true);
        long table = ring.data + 0x1000;
        ring.descAt(table, 0, ring.data, 4, NEXT, 2);
        ring.descAt(table, 2, ring.data + 0x100, 8, WRITE | NEXT, 1);
        ring.descAt(table, 1, ring.data + 0x200, 8, WRITE, 0);
        ring.desc(5, table, 48, INDIRECT | WRITE, 0); // WRITE on the indirect descriptor is ignored
        ring.publish(5);
        DescriptorChain c = q.pop();
        assertEquals(5, c.head());
        assertEquals(List.of(new DescriptorChain.Buffer(ring.data, 4, false),
                new DescriptorChain.Buffer(ring.data + 0x100, 8, true),
                new DescriptorChain.Buffer(ring.data + 0x200, 8, true)), c.buffers());
        q.addUsed(c, 16);
        assertEquals(5, ring.usedId(0));
    }

    @Test
    void directDescriptorsFollowedByAnIndirectTable() throws Exception {
        Virtqueue q = ring.queue(false, true);
        long table = ring.data + 0x1000;
        ring.descAt(table, 0, ring.data + 0x100, 8, WRITE, 0);
        ring.desc(0, ring.data, 4, NEXT, 3);
        ring.desc(3, table, 16, INDIRECT, 0);
        ring.publish(0);
        DescriptorChain c = q.pop();
        assertEquals(2, c.bufferCount());
        assertEquals(4, c.readableLength());
        assertEquals(8, c.writableLength());

        ring.descAt(table, 0, ring.data + 0x100, 8, 0, 0);
        ring.desc(0, ring.data, 4, WRITE | NEXT, 3);
        ring.publish(0);
        VirtqueueException e = assertThrows(VirtqueueException.class, q::pop);
        assertTrue(message(e).contains("after a device-writable"), message(e));
    }

    @Test
    void malformedIndirectTables() throws Exception {
        Virtqueue q = ring.queue(false, true);
        long table = ring.data + 0x1000;
        long nested = ring.data + 0x2000;
        ring.descAt(nested, 0, ring.data, 8, 0, 0);

        ring.descAt(table, 0, ring.data, 8, NEXT, 1);
        ring.descAt(table, 1, nested, 16, INDIRECT, 0);
        expectError(q, table, 32, INDIRECT, "inside an indirect table");

        ring.descAt(table, 0, ring.data, 8, 0, 0);
        expectError(q, table, 24, INDIRECT, "multiple of 16");
        expectError(q, table, 0, INDIRECT, "multiple of 16");
        expectError(q, table, 8, INDIRECT, "multiple of 16");
        expectError(q, table, 16, INDIRECT | NEXT, "both INDIRECT and NEXT");
        expectError(q, RingFixture.RAM_BASE + ring.ramSize - 16, 32, INDIRECT, "not guest RAM");
        expectError(q, table, 16L * (Virtqueue.MAX_INDIRECT_DESCRIPTORS + 1), INDIRECT, "more than 65536");

        ring.descAt(table, 0, ring.data, 8, NEXT, 1);
        ring.descAt(table, 1, ring.data, 8, NEXT, 0);
        expectError(q, table, 32, INDIRECT, "loop");

        ring.descAt(table, 1, ring.data, 8, NEXT, 2);
        expectError(q, table, 32, INDIRECT, "beyond its table of 2");

        Virtqueue plain = ring.queue(false, false);
        ring.descAt(table, 0, ring.data, 8, 0, 0);
        ring.setAvailIdx(0);
        expectError(plain, table, 16, INDIRECT, "not negotiated");
    }

    private void expectError(Virtqueue q, long table, long len, int flags, String text) {
        ring.desc(6, table, len, flags, 0);
        ring.publish(6);
        VirtqueueException e = assertThrows(VirtqueueException.class, q::pop);
        assertTrue(message(e).contains(text), message(e) + " should mention " + text);
        assertEquals(6, e.head());
        q.addUsed(e.head(), 0);
    }

    @Test
    void indirectTableAsLongAsAllowed() throws Exception {
        try (RingFixture big = new RingFixture(8, 4 << 20)) {
            Virtqueue q = big.queue(false, true);
            long table = big.data;
            int n = Virtqueue.MAX_INDIRECT_DESCRIPTORS;
            for (int i = 0; i < n; i++) {
                big.descAt(table, i, big.data, 1, i < n - 1 ? NEXT : 0, i + 1);
            }
            big.desc(0, table, 16L * n, INDIRECT, 0);
            big.publish(0);
            assertEquals(n, q.pop().bufferCount());
        }
    }

    @Test
    void layoutValidation() {
        GuestMemory mem = ring.memory;
        long base = RingFixture.RAM_BASE;
        assertThrows(VirtqueueException.class, () -> new VirtqueueLayout(6, base, base + 0x1000, base + 0x2000)
                .validate(mem, 8), "not a power of two");
        assertThrows(VirtqueueException.class, () -> new VirtqueueLayout(0, base, base + 0x1000, base + 0x2000)
                .validate(mem, 8));
        assertThrows(VirtqueueException.class, () -> new VirtqueueLayout(16, base, base + 0x1000, base + 0x2000)
                .validate(mem, 8), "above the maximum");
        assertThrows(VirtqueueException.class, () -> new VirtqueueLayout(65536, base, base + 0x1000, base + 0x2000)
                .validate(mem, 65536), "above 32768");
        assertThrows(VirtqueueException.class, () -> new VirtqueueLayout(8, base + 8, base + 0x1000, base + 0x2000)
                .validate(mem, 8), "descriptor table alignment");
        assertThrows(VirtqueueException.class, () -> new VirtqueueLayout(8, base, base + 0x1001, base + 0x2000)
                .validate(mem, 8), "available ring alignment");
        assertThrows(VirtqueueException.class, () -> new VirtqueueLayout(8, base, base + 0x1000, base + 0x2002)
                .validate(mem, 8), "used ring alignment");
        assertThrows(VirtqueueException.class, () -> new VirtqueueLayout(8, 0, base + 0x1000, base + 0x2000)
                .validate(mem, 8), "not RAM");
        long end = base + ring.ramSize;
        assertThrows(VirtqueueException.class, () -> new VirtqueueLayout(8, base, base + 0x1000, end - 64)
                .validate(mem, 8), "used ring runs past the end");
        assertThrows(VirtqueueException.class, () -> new Virtqueue(0, mem,
                new VirtqueueLayout(8, base, base + 0x1000, end - 64), 8, false, false, 1024));
    }

    @Test
    void interruptsWithoutEventIdxFollowTheFlag() throws Exception {
        Virtqueue q = ring.queue(false, false);
        ring.desc(0, ring.data, 8, 0, 0);
        assertFalse(q.shouldNotify(), "nothing used yet");
        ring.publish(0);
        q.addUsed(q.pop(), 0);
        assertTrue(q.shouldNotify());
        assertFalse(q.shouldNotify(), "nothing new since");
        ring.setAvailFlags(Virtqueue.AVAIL_F_NO_INTERRUPT);
        ring.publish(0);
        q.addUsed(q.pop(), 0);
        assertFalse(q.shouldNotify(), "the driver asked for no interrupts");
    }

    @Test
    void eventIdxNotifiesExactlyWhenUsedEventIsPassed() throws Exception {
        Virtqueue q = ring.queue(true, false);
        for (int i = 0; i < 8; i++) {
            ring.desc(i, ring.data, 8, 0, 0);
        }
        ring.setAvailFlags(Virtqueue.AVAIL_F_NO_INTERRUPT); // must be ignored with event idx
        ring.setUsedEvent(0);
        ring.publish(0);
        q.addUsed(q.pop(), 0);
        assertTrue(q.shouldNotify(), "used_event 0: notify after the first buffer");
        ring.setUsedEvent(3);
        for (int i = 0; i < 2; i++) {
            ring.publish(i);
            q.addUsed(q.pop(), 0);
            assertFalse(q.shouldNotify(), "used idx " + q.nextUsedIndex() + " has not passed 3");
        }
        ring.publish(0);
        ring.publish(1);
        q.addUsed(q.pop(), 0);
        q.addUsed(q.pop(), 0);
        assertTrue(q.shouldNotify(), "entry 3 was written in this batch");
    }

    @Test
    void needsEventMatchesTheSpecAroundTheWrap() {
        for (int old : new int[] {0, 1, 65530, 65535}) {
            for (int n = 0; n <= 8; n++) {
                int now = (old + n) & 0xFFFF;
                for (int ev = 65528; ev < 65536 + 10; ev++) {
                    int event = ev & 0xFFFF;
                    boolean expected = false;
                    for (int j = 0; j < n; j++) {
                        expected |= ((old + j) & 0xFFFF) == event;
                    }
                    assertEquals(expected, Virtqueue.needsEvent(event, now, old),
                            "old " + old + " new " + now + " event " + event);
                }
            }
        }
    }

    @Test
    void notificationSuppressionWithoutEventIdx() throws Exception {
        Virtqueue q = ring.queue(false, false);
        q.setNotificationsEnabled(false);
        assertEquals(Virtqueue.USED_F_NO_NOTIFY, ring.usedFlags());
        assertFalse(q.enableNotificationsAndCheck());
        assertEquals(0, ring.usedFlags());
        q.setNotificationsEnabled(false);
        ring.desc(0, ring.data, 8, 0, 0);
        ring.publish(0);
        assertTrue(q.enableNotificationsAndCheck(), "a buffer arrived while notifications were off");
    }

    @Test
    void availEventWithEventIdx() throws Exception {
        Virtqueue q = ring.queue(true, false);
        for (int i = 0; i < 8; i++) {
            ring.desc(i, ring.data, 8, 0, 0);
        }
        ring.publish(0);
        ring.publish(1);
        q.setNotificationsEnabled(false);
        q.addUsed(q.pop(), 0);
        q.addUsed(q.pop(), 0);
        assertNull(q.pop());
        assertEquals(0, ring.availEvent(), "not updated while disabled");
        assertEquals(0, ring.usedFlags(), "flags stay 0 with event idx");
        ring.publish(2);
        assertTrue(q.enableNotificationsAndCheck());
        assertEquals(2, ring.availEvent());
        q.addUsed(q.pop(), 0);
        assertNull(q.pop());
        assertEquals(3, ring.availEvent(), "an empty pop asks for a kick at the next entry");
    }

    @Test
    void deactivatedQueueStopsTouchingMemory() throws Exception {
        Virtqueue q = ring.queue(false, false);
        ring.desc(0, ring.data, 8, WRITE, 0);
        ring.publish(0);
        ring.publish(0);
        DescriptorChain c = q.pop();
        q.deactivate();
        assertFalse(q.isLive());
        assertNull(q.pop());
        assertFalse(q.hasAvailable());
        assertThrows(VirtqueueException.class, () -> c.writer().writeInt(1));
        assertThrows(VirtqueueException.class, () -> c.reader().nextSegment(1));
        q.addUsed(c, 0);
        assertEquals(0, ring.usedIdx(), "nothing published after deactivation");
        assertFalse(q.shouldNotify());
        q.setNotificationsEnabled(false);
        assertEquals(0, ring.usedFlags());
    }
}
