package dev.vessel.devices.legacy.serial;

import java.io.IOException;
import java.io.OutputStream;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.locks.LockSupport;

/**
 * Guest output on its way to the host stream, which may be slow or block for ever (a full pipe
 * nobody reads, a stopped terminal). The UART hands finished bursts over on vCPU threads; a
 * thread of this object's own writes them to the stream. A vCPU never waits for the host: the
 * bytes sit in a bounded ring ({@code capacity} bytes) until the writer has written them, and
 * what does not fit when a burst is handed over is <b>dropped</b> — the newest output, so that
 * what the host does get is the beginning of it, in order — and counted, with the output a
 * failing stream lost, in {@link #lostBytes()}.
 *
 * <p>The ring has one producer at a time (the UART calls {@link #offer} under its own lock) and one
 * consumer (the writer), and they share no lock: the producer publishes with a volatile write of
 * {@code tail}, the writer frees space with one of {@code head}, and the writer is woken only when
 * it has gone to sleep. So a hand-over costs a copy and, now and then, an unpark.
 */
final class HostOutput {
    private final OutputStream out;
    private final byte[] ring;
    private final String threadName;

    /** Bytes the writer has finished with (written or lost); written by the writer only. */
    private volatile long head;
    /** Bytes accepted into the ring; written by the producer only. */
    private volatile long tail;
    /** Bytes that found no room; written by the producer only. */
    private volatile long dropped;
    /** Bytes the stream refused (IOException); written by the writer only. */
    private volatile long failed;
    /** The writer is about to park or parked: a producer that adds bytes must unpark it. */
    private volatile boolean sleeping;
    private volatile boolean closed;
    private volatile Thread writer;

    /** Guards nothing but the waits of {@link #awaitWritten}; the writer notifies it when someone waits. */
    private final Object drained = new Object();
    private volatile int drainWaiters;

    HostOutput(OutputStream out, int capacity, String threadName) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity " + capacity);
        }
        this.out = Objects.requireNonNull(out, "out");
        this.ring = new byte[capacity];
        this.threadName = Objects.requireNonNull(threadName, "threadName");
    }

    int capacity() {
        return ring.length;
    }

    /**
     * Takes {@code data[off..off+len)} for the host, as much as fits; never blocks. One caller at a
     * time (the UART's lock). Returns how many bytes were taken; the rest is dropped and counted.
     */
    int offer(byte[] data, int off, int len) {
        if (closed) {
            dropped += len;
            return 0;
        }
        long t = tail;
        int used = (int) (t - head);
        int n = Math.min(len, ring.length - used);
        if (n > 0) {
            int at = (int) (t % ring.length);
            int first = Math.min(n, ring.length - at);
            System.arraycopy(data, off, ring, at, first);
            System.arraycopy(data, off + first, ring, 0, n - first);
            tail = t + n;
            wakeWriter();
        }
        if (n < len) {
            dropped += len - n;
        }
        return n;
    }

    private void wakeWriter() {
        Thread w = writer;
        if (w == null) {
            w = Thread.ofPlatform().name(threadName).daemon(true).unstarted(this::run);
            writer = w;
            w.start();
        } else if (sleeping) {
            LockSupport.unpark(w);
        }
    }

    /** Output dropped for want of room, or refused by the stream. */
    long lostBytes() {
        return dropped + failed;
    }

    /** Bytes not yet written to the stream. */
    long pending() {
        return tail - head;
    }

    /**
     * Waits until everything offered so far has been written to the stream (or lost to its
     * failure), for at most {@code timeout}; returns whether it was. For host threads: never call
     * it on a vCPU.
     */
    boolean awaitWritten(Duration timeout) throws InterruptedException {
        long target = tail;
        if (head - target >= 0) {
            return true;
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (drained) {
            drainWaiters++;
            try {
                while (head - target < 0) {
                    long left = deadline - System.nanoTime();
                    if (left <= 0) {
                        return false;
                    }
                    drained.wait(Math.max(1, left / 1_000_000));
                }
                return true;
            } finally {
                drainWaiters--;
            }
        }
    }

    /**
     * Takes no more output (later offers are dropped), waits at most {@code timeout} for what is
     * in the ring to be written, and lets the writer end. A writer stuck in a stream that never
     * returns is left behind (a daemon thread): nothing can take a blocked write back.
     */
    void close(Duration timeout) throws InterruptedException {
        closed = true;
        Thread w = writer;
        if (w != null) {
            LockSupport.unpark(w);
            awaitWritten(timeout);
        }
    }

    private void run() {
        while (true) {
            long h = head;
            long t = tail;
            if (h == t) {
                if (closed) {
                    return;
                }
                sleeping = true;
                if (tail == h && !closed) {
                    LockSupport.park(this);
                }
                sleeping = false;
                continue;
            }
            int at = (int) (h % ring.length);
            int n = (int) Math.min(t - h, ring.length - at);
            try {
                out.write(ring, at, n);
                out.flush();
            } catch (IOException | RuntimeException e) {
                // The host side of the line is gone; like an unplugged cable, output is lost.
                failed += n;
            }
            head = h + n;
            if (drainWaiters > 0) {
                synchronized (drained) {
                    drained.notifyAll();
                }
            }
        }
    }
}
