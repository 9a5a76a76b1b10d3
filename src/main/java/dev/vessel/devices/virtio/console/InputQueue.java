package dev.vessel.devices.virtio.console;

import dev.vessel.devices.virtio.queue.ChainWriter;
import dev.vessel.devices.virtio.queue.VirtqueueException;

import java.util.Objects;

/**
 * Host input for one port that the guest has not taken yet: a bounded byte ring between the
 * thread that reads the host side (stdin, a socket) and the device's worker, which moves bytes
 * into the receive buffers the driver posts. {@link #put} blocks while the ring is full, so the
 * host side stops reading instead of losing input; nothing is ever dropped until {@link #close}.
 * Thread-safe.
 */
final class InputQueue {
    private final byte[] ring;
    private final Runnable onData;
    private int head;
    private int count;
    private int blockedWriters;
    private boolean closed;

    /**
     * @param capacity the most bytes held for the guest
     * @param onData called (on the putting thread, without locks held) after bytes were added: the
     *     device schedules their delivery
     */
    InputQueue(int capacity, Runnable onData) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity " + capacity);
        }
        this.ring = new byte[capacity];
        this.onData = Objects.requireNonNull(onData);
    }

    int capacity() {
        return ring.length;
    }

    /**
     * Appends {@code data[off..off+len)}, waiting while the ring is full. Returns once everything
     * was accepted, or early once the queue is closed (the rest is dropped then).
     */
    void put(byte[] data, int off, int len) throws InterruptedException {
        Objects.checkFromIndexSize(off, len, data.length);
        while (len > 0) {
            int n;
            synchronized (this) {
                while (count == ring.length && !closed) {
                    blockedWriters++;
                    try {
                        wait();
                    } finally {
                        blockedWriters--;
                    }
                }
                if (closed) {
                    return;
                }
                n = Math.min(len, ring.length - count);
                int tail = (head + count) % ring.length;
                int first = Math.min(n, ring.length - tail);
                System.arraycopy(data, off, ring, tail, first);
                System.arraycopy(data, off + first, ring, 0, n - first);
                count += n;
            }
            off += n;
            len -= n;
            onData.run();
        }
    }

    /** Bytes waiting for the guest. */
    synchronized int available() {
        return count;
    }

    /** Whether a writer is waiting for room: the queue is full and the host side has stopped reading. */
    synchronized boolean hasBlockedWriters() {
        return blockedWriters > 0;
    }

    /**
     * Moves as many waiting bytes as fit into {@code writer} (the writable part of a receive
     * chain), oldest first, and returns how many. Bytes leave the queue only once they are in
     * guest memory: if the write fails (the queue was reset), they stay for the next buffer.
     */
    synchronized int drainTo(ChainWriter writer) throws VirtqueueException {
        int n = Math.min(count, writer.remaining());
        if (n == 0) {
            return 0;
        }
        int first = Math.min(n, ring.length - head);
        writer.write(ring, head, first);
        if (n > first) {
            writer.write(ring, 0, n - first);
        }
        head = (head + n) % ring.length;
        count -= n;
        if (blockedWriters > 0) {
            notifyAll();
        }
        return n;
    }

    /** Wakes blocked writers for good: the VM is stopping. What is still queued stays readable. */
    synchronized void close() {
        closed = true;
        notifyAll();
    }
}
