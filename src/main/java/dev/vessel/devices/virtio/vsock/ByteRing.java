package dev.vessel.devices.virtio.vsock;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.GatheringByteChannel;

/**
 * A bounded FIFO of bytes in one array: the guest data a connection's host socket has not taken
 * yet. However the guest slices its data (a packet per byte costs the same as one big packet) the
 * ring holds at most {@code limit} bytes in one array of at most {@code limit} bytes, and every byte
 * is copied once in and once out. The array grows by doubling as needed and is dropped when the
 * ring empties, so an idle connection keeps nothing. Not thread-safe (the device's worker owns it).
 */
final class ByteRing {
    private static final int MIN_CAPACITY = 4096;

    private final int limit;
    private byte[] buf;
    private int head;
    private int size;

    /** @param limit the most bytes the ring ever holds (and the largest array it allocates) */
    ByteRing(int limit) {
        if (limit < 1) {
            throw new IllegalArgumentException("limit must be positive: " + limit);
        }
        this.limit = limit;
    }

    int size() {
        return size;
    }

    boolean isEmpty() {
        return size == 0;
    }

    /** Bytes that still fit. */
    int free() {
        return limit - size;
    }

    /** Bytes of the array currently held (0 when empty). */
    int capacity() {
        return buf == null ? 0 : buf.length;
    }

    /**
     * Appends everything {@code src} has remaining.
     *
     * @throws IllegalStateException if it does not fit (the caller checks {@link #free()} first)
     */
    void append(ByteBuffer src) {
        int n = src.remaining();
        if (n > free()) {
            throw new IllegalStateException("ring overflow: " + n + " bytes, " + free() + " free");
        }
        if (n == 0) {
            return;
        }
        ensureCapacity(size + n);
        int tail = (head + size) % buf.length;
        int first = Math.min(n, buf.length - tail);
        src.get(buf, tail, first);
        src.get(buf, 0, n - first);
        size += n;
    }

    /**
     * Writes as much as {@code ch} takes now (one gathering write for a wrapped ring) and drops it
     * from the ring; returns how many bytes that was.
     */
    int drainTo(GatheringByteChannel ch) throws IOException {
        int total = 0;
        while (size > 0) {
            int first = Math.min(size, buf.length - head);
            long n;
            if (first == size) {
                n = ch.write(ByteBuffer.wrap(buf, head, first));
            } else {
                n = ch.write(new ByteBuffer[] {ByteBuffer.wrap(buf, head, first), ByteBuffer.wrap(buf, 0, size - first)});
            }
            if (n <= 0) {
                break;
            }
            head = (int) ((head + n) % buf.length);
            size -= (int) n;
            total += (int) n;
        }
        if (size == 0) {
            clear();
        }
        return total;
    }

    /** Forgets everything and drops the array. */
    void clear() {
        buf = null;
        head = 0;
        size = 0;
    }

    /** Makes room for {@code needed} bytes: doubles (at least {@link #MIN_CAPACITY}), never beyond the limit. */
    private void ensureCapacity(int needed) {
        int cap = capacity();
        if (needed <= cap) {
            return;
        }
        long grown = Math.max(MIN_CAPACITY, cap);
        while (grown < needed) {
            grown *= 2;
        }
        byte[] bigger = new byte[(int) Math.min(grown, limit)];
        if (size > 0) {
            int first = Math.min(size, buf.length - head);
            System.arraycopy(buf, head, bigger, 0, first);
            System.arraycopy(buf, 0, bigger, first, size - first);
        }
        buf = bigger;
        head = 0;
    }
}
