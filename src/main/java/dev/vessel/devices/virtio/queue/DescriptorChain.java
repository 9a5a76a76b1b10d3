package dev.vessel.devices.virtio.queue;

import java.util.AbstractList;
import java.util.Arrays;
import java.util.List;

/**
 * One validated request from the driver: the buffers of a descriptor chain (direct descriptors,
 * then those of an indirect table if the chain ends in one), device-readable ones first, then
 * device-writable ones. Every buffer lies in one region of guest RAM, no buffer is empty (empty
 * descriptors are dropped) and the total length is at most the queue's {@code maxChainBytes}, so
 * every length fits an {@code int}.
 *
 * <p>The descriptors were read once, when the chain was popped: what the buffers hold is guest
 * memory the driver can still change, so a device copies what it parses (a request header) before
 * checking it, and checks it once.
 *
 * <p>Read the readable part with {@link #reader()}, fill the writable part with {@link #writer()},
 * then give the chain back with {@link Virtqueue#addUsed(DescriptorChain, int)}.
 */
public final class DescriptorChain {
    /**
     * One buffer of the chain.
     *
     * @param address its guest-physical address
     * @param length its length in bytes, at least 1
     * @param writable whether the device writes it (otherwise it reads it)
     */
    public record Buffer(long address, int length, boolean writable) {}

    private final Virtqueue queue;
    private final int head;
    private final long[] addresses;
    private final int[] lengths;
    private final int count;
    private final int readableCount;
    private final int readableLength;
    private final int writableLength;
    private boolean used;

    private DescriptorChain(Virtqueue queue, int head, long[] addresses, int[] lengths, int count, int readableCount,
            int readableLength, int writableLength) {
        this.queue = queue;
        this.head = head;
        this.addresses = addresses;
        this.lengths = lengths;
        this.count = count;
        this.readableCount = readableCount;
        this.readableLength = readableLength;
        this.writableLength = writableLength;
    }

    public Virtqueue queue() {
        return queue;
    }

    /** The index of the chain's first descriptor: what the used ring reports back. */
    public int head() {
        return head;
    }

    /** The number of (non-empty) buffers. */
    public int bufferCount() {
        return count;
    }

    /** The number of device-readable buffers; they are buffers 0..readableBufferCount()-1. */
    public int readableBufferCount() {
        return readableCount;
    }

    public Buffer buffer(int i) {
        if (i < 0 || i >= count) {
            throw new IndexOutOfBoundsException(i);
        }
        return new Buffer(addresses[i], lengths[i], i >= readableCount);
    }

    public List<Buffer> buffers() {
        return new AbstractList<>() {
            @Override
            public Buffer get(int index) {
                return buffer(index);
            }

            @Override
            public int size() {
                return count;
            }
        };
    }

    /** Total bytes the device may read. */
    public int readableLength() {
        return readableLength;
    }

    /** Total bytes the device may write. */
    public int writableLength() {
        return writableLength;
    }

    /** A cursor over the readable part, from its start. */
    public ChainReader reader() {
        return new ChainReader(this);
    }

    /** A cursor over the writable part, from its start. */
    public ChainWriter writer() {
        return new ChainWriter(this);
    }

    /** Whether the chain was given back with addUsed. */
    public boolean isUsed() {
        return used;
    }

    void markUsed() {
        used = true;
    }

    long address(int i) {
        return addresses[i];
    }

    int length(int i) {
        return lengths[i];
    }

    @Override
    public String toString() {
        return "DescriptorChain[queue " + queue.index() + ", head " + head + ", " + readableCount + " readable ("
                + readableLength + " bytes), " + (count - readableCount) + " writable (" + writableLength + " bytes)]";
    }

    /** Collects and validates buffers while the queue walks a chain. */
    static final class Builder {
        private final Virtqueue queue;
        private final int head;
        private final long maxBytes;
        private long[] addresses = new long[4];
        private int[] lengths = new int[4];
        private int count;
        private int readableCount;
        private long readableLength;
        private long writableLength;

        Builder(Virtqueue queue, int head, long maxBytes) {
            this.queue = queue;
            this.head = head;
            this.maxBytes = maxBytes;
        }

        /** Adds a buffer of {@code length} (1..2^32-1) bytes; returns the problem, or null if it is fine. */
        String add(long address, long length, boolean writable) {
            if (!writable && writableLength > 0) {
                return "device-readable buffer at 0x" + Long.toHexString(address)
                        + " after a device-writable one";
            }
            if (!queue.memory().contains(address, length)) {
                return "buffer 0x" + Long.toHexString(address) + "+" + length + " is not guest RAM";
            }
            long total = readableLength + writableLength + length;
            if (total > maxBytes) {
                return "buffers add up to more than " + maxBytes + " bytes";
            }
            if (count == addresses.length) {
                addresses = Arrays.copyOf(addresses, count * 2);
                lengths = Arrays.copyOf(lengths, count * 2);
            }
            addresses[count] = address;
            lengths[count] = (int) length;
            count++;
            if (writable) {
                writableLength += length;
            } else {
                readableCount++;
                readableLength += length;
            }
            return null;
        }

        DescriptorChain build() {
            return new DescriptorChain(queue, head, addresses, lengths, count, readableCount, (int) readableLength,
                    (int) writableLength);
        }
    }
}
