package dev.vessel.devices.virtio.queue;

import dev.vessel.memory.GuestMemoryException;

import java.lang.foreign.MemorySegment;

/**
 * A position in one part (readable or writable) of a chain, which may span several buffers. Every
 * piece of guest memory it hands out is sliced from GuestMemory at that moment.
 */
public abstract sealed class ChainCursor permits ChainReader, ChainWriter {
    final DescriptorChain chain;
    private final int last;
    private final int limit;
    private int buffer;
    private int offsetInBuffer;
    private int position;

    ChainCursor(DescriptorChain chain, int first, int last, int limit) {
        this.chain = chain;
        this.buffer = first;
        this.last = last;
        this.limit = limit;
    }

    /** Bytes left in this part of the chain. */
    public final int remaining() {
        return limit - position;
    }

    /** Bytes consumed so far from the start of this part. */
    public final int position() {
        return position;
    }

    /** The part's total length. */
    public final int limit() {
        return limit;
    }

    /**
     * Host memory for the next contiguous piece, up to {@code max} bytes, and moves past it; an
     * empty segment when nothing remains. For zero-copy I/O, e.g. {@code channel.read(seg.asByteBuffer())}.
     */
    public final MemorySegment nextSegment(int max) throws VirtqueueException {
        if (max < 0) {
            throw new IllegalArgumentException("negative length " + max);
        }
        checkLive();
        if (max == 0 || position == limit) {
            return MemorySegment.NULL;
        }
        int n = Math.min(max, chain.length(buffer) - offsetInBuffer);
        MemorySegment piece;
        try {
            piece = chain.queue().memory().slice(chain.address(buffer) + offsetInBuffer, n);
        } catch (GuestMemoryException e) {
            // The chain was validated against the same memory; this cannot happen, but must not escape.
            throw new VirtqueueException(e.getMessage(), chain.head());
        }
        advance(n);
        return piece;
    }

    /** Moves {@code n} bytes ahead without touching them. */
    public final void skip(int n) throws VirtqueueException {
        require(n);
        int left = n;
        while (left > 0) {
            int step = Math.min(left, chain.length(buffer) - offsetInBuffer);
            advance(step);
            left -= step;
        }
    }

    final void require(int n) throws VirtqueueException {
        if (n < 0) {
            throw new IllegalArgumentException("negative length " + n);
        }
        checkLive();
        if (n > remaining()) {
            throw new VirtqueueException("queue " + chain.queue().index() + ", chain " + chain.head() + ": needs "
                    + n + " more " + partName() + " bytes, only " + remaining() + " left", chain.head());
        }
    }

    final void checkLive() throws VirtqueueException {
        if (!chain.queue().isLive()) {
            throw new VirtqueueException("queue " + chain.queue().index() + " was reset", chain.head());
        }
    }

    abstract String partName();

    private void advance(int n) {
        offsetInBuffer += n;
        position += n;
        if (offsetInBuffer == chain.length(buffer) && buffer < last) {
            buffer++;
            offsetInBuffer = 0;
        }
    }
}
