package dev.vessel.devices.virtio.console;

import dev.vessel.devices.virtio.queue.ChainReader;
import dev.vessel.devices.virtio.queue.VirtqueueException;

import java.io.IOException;
import java.util.Objects;

/**
 * Guest output for one port on its way to the host: a bounded byte ring that the device's worker
 * fills straight from transmit buffers ({@link #append}) and a thread of its own empties into the
 * host side ({@link Sink}), which may be slow or block (a terminal, a pipe nobody reads, a
 * socket). The worker never waits for the host: when the ring is full it stops taking transmit
 * buffers, the guest's driver waits for them, and {@link #whenSpace} tells the worker to go on.
 *
 * <p>Bytes reach the sink in the order they were appended, in as few writes as the ring allows.
 * A sink that fails (host stdout closed, socket gone) loses what it was given, like an unplugged
 * line; the pump goes on so that the guest never stalls on it.
 */
final class OutputPump implements AutoCloseable {
    /** The host side of the output. */
    @FunctionalInterface
    interface Sink {
        /** Writes and flushes {@code data[off..off+len)}; may block. Called on the pump's thread only. */
        void write(byte[] data, int off, int len) throws IOException;
    }

    private final String threadName;
    private final Sink sink;
    private final byte[] ring;
    private int head;
    private int count;
    private Runnable spaceCallback;
    private Thread thread;
    private boolean closed;
    private long written;
    private long lost;

    OutputPump(String threadName, Sink sink, int capacity) {
        if (capacity < 1) {
            throw new IllegalArgumentException("capacity " + capacity);
        }
        this.threadName = Objects.requireNonNull(threadName);
        this.sink = Objects.requireNonNull(sink);
        this.ring = new byte[capacity];
    }

    /** Room for more output right now. */
    synchronized int free() {
        return ring.length - count;
    }

    /**
     * Moves up to {@code max} bytes from {@code reader} (a transmit chain's readable part) into
     * the ring, as many as fit; returns how many.
     */
    int append(ChainReader reader, int max) throws VirtqueueException {
        int n;
        synchronized (this) {
            if (closed) {
                // Nobody writes to the host any more: consume and count as lost, so that the guest never stalls.
                n = Math.max(0, Math.min(max, reader.remaining()));
                reader.skip(n);
                lost += n;
                return n;
            }
            n = Math.min(Math.min(max, reader.remaining()), ring.length - count);
            if (n <= 0) {
                return 0;
            }
            int tail = (head + count) % ring.length;
            int first = Math.min(n, ring.length - tail);
            reader.read(ring, tail, first);
            if (n > first) {
                reader.read(ring, 0, n - first);
            }
            count += n;
            startLocked();
            notifyAll();
        }
        return n;
    }

    /** Appends {@code data} if it fits entirely (emergency writes); returns whether it did. */
    boolean offer(byte[] data, int off, int len) {
        Objects.checkFromIndexSize(off, len, data.length);
        synchronized (this) {
            if (closed || len > ring.length - count) {
                return false;
            }
            int tail = (head + count) % ring.length;
            int first = Math.min(len, ring.length - tail);
            System.arraycopy(data, off, ring, tail, first);
            System.arraycopy(data, off + first, ring, 0, len - first);
            count += len;
            startLocked();
            notifyAll();
        }
        return true;
    }

    /**
     * Runs {@code callback} once, on the pump's thread, as soon as the ring has room again; at
     * once (on the calling thread) if it has room now. A later registration replaces an earlier
     * one that has not run yet.
     */
    void whenSpace(Runnable callback) {
        synchronized (this) {
            if (count == ring.length && !closed) {
                spaceCallback = callback;
                return;
            }
        }
        callback.run();
    }

    /**
     * Waits up to {@code timeoutMillis} until everything appended so far has been handed to the
     * sink and returned; returns whether it was.
     */
    synchronized boolean awaitDrained(long timeoutMillis) throws InterruptedException {
        long deadline = System.nanoTime() + timeoutMillis * 1_000_000L;
        while (count > 0) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            wait(Math.max(1, left / 1_000_000L));
        }
        return true;
    }

    /** Bytes the sink took. */
    synchronized long written() {
        return written;
    }

    /** Bytes lost because the sink failed. */
    synchronized long lost() {
        return lost;
    }

    /** Stops taking output (from now on it is consumed and lost); the thread writes out what is queued, then ends. */
    @Override
    public synchronized void close() {
        closed = true;
        spaceCallback = null;
        notifyAll();
    }

    private void startLocked() {
        if (thread == null) {
            thread = Thread.ofPlatform().name(threadName).daemon(true).start(this::run);
        }
    }

    private void run() {
        while (true) {
            int start;
            int n;
            synchronized (this) {
                while (count == 0 && !closed) {
                    try {
                        wait();
                    } catch (InterruptedException e) {
                        return;
                    }
                }
                if (count == 0) {
                    return;
                }
                start = head;
                // These bytes stay counted (not free) until the sink is done with them.
                n = Math.min(count, ring.length - head);
            }
            boolean ok;
            try {
                sink.write(ring, start, n);
                ok = true;
            } catch (IOException | RuntimeException e) {
                ok = false;
            }
            Runnable callback;
            synchronized (this) {
                head = (head + n) % ring.length;
                count -= n;
                if (ok) {
                    written += n;
                } else {
                    lost += n;
                }
                callback = spaceCallback;
                spaceCallback = null;
                notifyAll();
            }
            if (callback != null) {
                try {
                    callback.run();
                } catch (RuntimeException e) {
                    // The device's own callback; it only schedules work on its worker.
                }
            }
        }
    }
}
