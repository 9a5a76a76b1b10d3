package dev.vessel.devices.virtio.queue;

import java.io.IOException;
import java.io.OutputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * Writes the device-writable part of a chain front to back, across buffer boundaries.
 * Multi-byte values are little-endian. Never writes past the writable part, and never into a
 * readable buffer: the all-or-nothing writes throw {@link VirtqueueException} when too little
 * room remains, before writing anything. {@link #position()} is the count to report to
 * {@link Virtqueue#addUsed(DescriptorChain, int)} when the device wrote from the start.
 */
public final class ChainWriter extends ChainCursor {
    ChainWriter(DescriptorChain chain) {
        super(chain, chain.readableBufferCount(), chain.bufferCount() - 1, chain.writableLength());
    }

    @Override
    String partName() {
        return "writable";
    }

    /** Writes {@code src[off..off+len)}, or throws without writing anything if it does not fit. */
    public void write(byte[] src, int off, int len) throws VirtqueueException {
        Objects.checkFromIndexSize(off, len, src.length);
        require(len);
        int done = 0;
        while (done < len) {
            MemorySegment piece = nextSegment(len - done);
            MemorySegment.copy(src, off + done, piece, ValueLayout.JAVA_BYTE, 0, (int) piece.byteSize());
            done += (int) piece.byteSize();
        }
    }

    public void write(byte[] src) throws VirtqueueException {
        write(src, 0, src.length);
    }

    /** Writes as much of {@code src} as fits; returns how many bytes that was. */
    public int write(ByteBuffer src) throws VirtqueueException {
        checkLive();
        int total = 0;
        while (src.hasRemaining() && remaining() > 0) {
            MemorySegment piece = nextSegment(src.remaining());
            int n = (int) piece.byteSize();
            piece.asByteBuffer().put(src.slice(src.position(), n));
            src.position(src.position() + n);
            total += n;
        }
        return total;
    }

    /** Writes {@code n} bytes of {@code value}, or throws without writing if they do not fit. */
    public void fill(int n, byte value) throws VirtqueueException {
        require(n);
        int done = 0;
        while (done < n) {
            MemorySegment piece = nextSegment(n - done);
            piece.fill(value);
            done += (int) piece.byteSize();
        }
    }

    public void writeByte(byte v) throws VirtqueueException {
        writeLittleEndian(v, 1);
    }

    public void writeShort(short v) throws VirtqueueException {
        writeLittleEndian(v, 2);
    }

    public void writeInt(int v) throws VirtqueueException {
        writeLittleEndian(v, 4);
    }

    public void writeLong(long v) throws VirtqueueException {
        writeLittleEndian(v, 8);
    }

    private void writeLittleEndian(long v, int size) throws VirtqueueException {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) (v >>> (8 * i));
        }
        write(b, 0, size);
    }

    /**
     * The rest of the writable part as an OutputStream, sharing this writer's position. Writing
     * more than fits throws an IOException (wrapping the {@link VirtqueueException}) and writes
     * nothing of that call.
     */
    public OutputStream outputStream() {
        return new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                try {
                    writeByte((byte) b);
                } catch (VirtqueueException e) {
                    throw new IOException(e.getMessage(), e);
                }
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                try {
                    ChainWriter.this.write(b, off, len);
                } catch (VirtqueueException e) {
                    throw new IOException(e.getMessage(), e);
                }
            }
        };
    }
}
