package dev.vessel.api;

import io.netty.channel.Channel;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.ArrayDeque;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A client's bytes as a blocking stream: the event loop hands over each chunk as it arrives, an
 * endpoint's thread reads them. Above {@code highWater} queued bytes the connection is not read
 * until the reader is down to a quarter of it, so a client that sends faster than the reader takes
 * is slowed down, not buffered without end. Used for the input of a connection taken over
 * ({@link HijackedChannel}) and for a request body too large to hold ({@code docker load}'s).
 */
final class InboundBytes extends InputStream {
    private final Channel channel;
    private final long highWater;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition readable = lock.newCondition();
    private final ArrayDeque<byte[]> queue = new ArrayDeque<>();
    private byte[] current;
    private int position;
    private long queued;
    private boolean ended;
    private boolean closed;
    private IOException failure;

    InboundBytes(Channel channel, long highWater) {
        this.channel = channel;
        this.highWater = highWater;
    }

    /** The next chunk (on the event loop); nothing once the stream ended or its reader closed it. */
    void offer(byte[] bytes) {
        lock.lock();
        try {
            if (ended || closed || bytes.length == 0) {
                return;
            }
            queue.add(bytes);
            queued += bytes.length;
            if (queued > highWater) {
                channel.config().setAutoRead(false);
            }
            readable.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** The client sends no more: the reader gets what is queued, then the end. */
    void end() {
        lock.lock();
        try {
            ended = true;
            readable.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** The client went away before its data's end: the reader gets what is queued, then {@code e}. */
    void fail(IOException e) {
        lock.lock();
        try {
            if (!ended) {
                failure = e;
                ended = true;
            }
            readable.signalAll();
        } finally {
            lock.unlock();
        }
    }

    @Override
    public int read() throws IOException {
        byte[] one = new byte[1];
        int n = read(one, 0, 1);
        return n < 0 ? -1 : one[0] & 0xFF;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
            return 0;
        }
        lock.lock();
        try {
            while (current == null) {
                if (closed) {
                    throw new IOException("stream closed");
                }
                current = queue.poll();
                position = 0;
                if (current != null) {
                    break;
                }
                if (failure != null) {
                    throw failure;
                }
                if (ended) {
                    return -1;
                }
                readable.await();
            }
            int n = Math.min(len, current.length - position);
            System.arraycopy(current, position, b, off, n);
            position += n;
            queued -= n;
            if (position == current.length) {
                current = null;
            }
            if (queued <= highWater / 4 && !ended && !channel.config().isAutoRead()) {
                channel.config().setAutoRead(true);
            }
            return n;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while reading the client's data");
        } finally {
            lock.unlock();
        }
    }

    /** The reader is done: what is queued, and what still comes, is dropped. */
    @Override
    public void close() {
        lock.lock();
        try {
            closed = true;
            queue.clear();
            current = null;
            queued = 0;
            readable.signalAll();
        } finally {
            lock.unlock();
        }
    }
}
