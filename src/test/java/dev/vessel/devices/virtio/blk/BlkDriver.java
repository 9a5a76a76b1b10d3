package dev.vessel.devices.virtio.blk;

import static dev.vessel.devices.virtio.blk.VirtioBlk.*;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.vessel.devices.virtio.VirtioFeatures;
import dev.vessel.devices.virtio.queue.RingFixture;
import dev.vessel.devices.virtio.queue.Virtqueue;
import dev.vessel.devices.virtio.queue.VirtqueueException;

import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * Plays the virtio-blk driver against a device over a {@link RingFixture}: places buffers in guest
 * RAM, chains them (directly or through an indirect table), publishes, kicks, reads back.
 */
final class BlkDriver implements AutoCloseable {
    static final int NEXT = 1;
    static final int WRITE = 2;
    static final int INDIRECT = 4;

    /** One buffer of a request, in guest RAM. */
    record Seg(long gpa, int len, boolean writable) {}

    final RingFixture ring;
    final Virtqueue queue;
    final TestContext ctx;
    final VirtioBlkDevice device;
    private long next;
    private int nextDesc;
    private int usedSeen;
    int lastUsedLen;

    BlkDriver(VirtioBlkDevice device, long ramSize, long driverFeatures) throws VirtqueueException {
        this.device = device;
        this.ring = new RingFixture(VirtioBlkDevice.QUEUE_SIZE, ramSize);
        this.queue = ring.queue(true, true);
        long features = (device.deviceFeatures() & driverFeatures) | VirtioFeatures.bit(VirtioFeatures.VERSION_1)
                | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX) | VirtioFeatures.bit(VirtioFeatures.INDIRECT_DESC);
        this.ctx = new TestContext(ring.memory, features, queue);
        this.next = ring.data;
        device.activate(ctx);
    }

    BlkDriver(VirtioBlkDevice device) throws VirtqueueException {
        this(device, 4 << 20, -1L);
    }

    /** {@code len} bytes of guest RAM, 16-byte aligned, filled with 0xEE. */
    long alloc(int len) {
        long at = (next + 15) & ~15L;
        next = at + len;
        if (next > RingFixture.RAM_BASE + ring.ramSize) {
            throw new IllegalStateException("test RAM exhausted");
        }
        ring.at(at, len).fill((byte) 0xEE);
        return at;
    }

    /** Frees all buffers (between independent requests). */
    void resetAllocator() {
        next = ring.data;
    }

    Seg header(int type, long sector) {
        long at = alloc(HEADER_SIZE);
        ring.fill(at, ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putInt(type).putInt(0).putLong(sector).array());
        return new Seg(at, HEADER_SIZE, false);
    }

    Seg out(byte[] bytes) {
        long at = alloc(bytes.length);
        ring.fill(at, bytes);
        return new Seg(at, bytes.length, false);
    }

    Seg in(int len) {
        return new Seg(alloc(len), len, true);
    }

    Seg status() {
        return in(1);
    }

    static byte[] segment(long sector, int numSectors, int flags) {
        return ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(sector).putInt(numSectors).putInt(flags).array();
    }

    byte[] read(Seg s) {
        return ring.bytes(s.gpa(), s.len());
    }

    /** Writes {@code segs} as a direct chain (consecutive descriptors), publishes it; returns its head. */
    int publish(List<Seg> segs) {
        int head = nextDesc;
        for (int i = 0; i < segs.size(); i++) {
            Seg s = segs.get(i);
            int d = (head + i) % ring.size;
            boolean more = i + 1 < segs.size();
            ring.desc(d, s.gpa(), s.len(), (s.writable() ? WRITE : 0) | (more ? NEXT : 0), (d + 1) % ring.size);
        }
        nextDesc = (head + segs.size()) % ring.size;
        ring.publish(head);
        return head;
    }

    /** Writes {@code segs} into an indirect table, one descriptor points at it; publishes; returns the head. */
    int publishIndirect(List<Seg> segs) {
        long table = alloc(16 * segs.size());
        for (int i = 0; i < segs.size(); i++) {
            Seg s = segs.get(i);
            boolean more = i + 1 < segs.size();
            ring.descAt(table, i, s.gpa(), s.len(), (s.writable() ? WRITE : 0) | (more ? NEXT : 0), i + 1);
        }
        int head = nextDesc;
        ring.desc(head, table, 16L * segs.size(), INDIRECT, 0);
        nextDesc = (head + 1) % ring.size;
        ring.publish(head);
        return head;
    }

    /** The driver's kick: the device's worker processes the queue (and whatever it deferred). */
    void kick() {
        device.queueNotify(0);
        ctx.runTasks();
    }

    /** Submits one direct request, processes it, returns its status byte (the last segment's byte). */
    int run(Seg... segs) {
        return complete(publish(List.of(segs)), segs);
    }

    int runIndirect(Seg... segs) {
        return complete(publishIndirect(List.of(segs)), segs);
    }

    private int complete(int head, Seg[] segs) {
        kick();
        assertEquals(usedSeen + 1, ring.usedIdx(), "one chain returned");
        int slot = usedSeen % ring.size;
        assertEquals(head, ring.usedId(slot), "the chain returned is the one published");
        lastUsedLen = ring.usedLen(slot);
        usedSeen++;
        Seg last = segs[segs.length - 1];
        return ring.bytes(last.gpa() + last.len() - 1, 1)[0] & 0xFF;
    }

    int usedSeen() {
        return usedSeen;
    }

    void sawUsed(int n) {
        usedSeen += n;
    }

    static byte[] pattern(int len, int seed) {
        byte[] b = new byte[len];
        for (int i = 0; i < len; i++) {
            b[i] = (byte) (i * 31 + seed * 7 + (i >>> 9));
        }
        return b;
    }

    static List<Seg> list(Seg... s) {
        return new ArrayList<>(List.of(s));
    }

    byte[] bytes(long gpa, int len) {
        return ring.at(gpa, len).toArray(ValueLayout.JAVA_BYTE);
    }

    @Override
    public void close() {
        ring.close();
    }
}
