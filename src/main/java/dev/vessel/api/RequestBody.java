package dev.vessel.api;

import java.io.IOException;
import java.io.InputStream;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A request body that is not read whole first (a tar for {@code docker cp}, an image for {@code
 * docker load}): the event loop offers each chunk as it arrives, the endpoint reads them on its
 * worker thread. Above {@link #HIGH_WATER} queued bytes the connection stops reading; it reads
 * again once the endpoint took them below {@link #LOW_WATER}, so a fast client cannot fill memory.
 */
final class RequestBody extends InputStream {
    static final int HIGH_WATER = 1 << 20;
    static final int LOW_WATER = 256 << 10;

    /** Told when the connection should stop or go on reading. */
    interface Flow {
        void reading(boolean on);
    }

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition arrived = lock.newCondition();
    private final Deque<byte[]> chunks = new ArrayDeque<>();
    private final Flow flow;
    private byte[] current;
    private int pos;
    private long queued;
    private boolean ended;
    private boolean paused;
    private IOException failure;

    RequestBody(Flow flow) {
        this.flow = flow;
    }

    /** A chunk from the client (on the event loop). */
    void offer(byte[] b) {
        if (b.length == 0) {
            return;
        }
        boolean pause = false;
        lock.lock();
        try {
            if (ended || failure != null) {
                return;
            }
            chunks.addLast(b);
            queued += b.length;
            if (queued > HIGH_WATER && !paused) {
                paused = pause = true;
            }
            arrived.signalAll();
        } finally {
            lock.unlock();
        }
        if (pause) {
            flow.reading(false);
        }
    }

    /** The body's last byte arrived. */
    void end() {
        lock.lock();
        try {
            ended = true;
            arrived.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** The client went away before the body's end: the reader gets this. */
    void fail(IOException e) {
        lock.lock();
        try {
            if (!ended) {
                failure = e;
            }
            arrived.signalAll();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
            return 0;
        }
        boolean resume = false;
        int n;
        lock.lock();
        try {
            while (current == null || pos == current.length) {
                current = chunks.pollFirst();
                pos = 0;
                if (current != null) {
                    break;
                }
                if (failure != null) {
                    throw failure;
                }
                if (ended) {
                    return -1;
                }
                arrived.awaitUninterruptibly();
            }
            n = Math.min(len, current.length - pos);
            System.arraycopy(current, pos, b, off, n);
            pos += n;
            queued -= n;
            if (paused && queued < LOW_WATER) {
                paused = false;
                resume = true;
            }
        } finally {
            lock.unlock();
        }
        if (resume) {
            flow.reading(true);
        }
        return n;
    }
}
