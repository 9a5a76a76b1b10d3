package dev.vessel.devices.virtio.queue;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * Reads the device-readable part of a chain front to back, across buffer boundaries. Multi-byte
 * values are little-endian, as virtio structures are. Never reads past the readable part: the
 * all-or-nothing reads ({@code readFully}, {@code readInt}...) throw {@link VirtqueueException}
 * when too few bytes remain, before reading anything.
 *
 * <p>Guest memory can change under the reader: copy what you parse, then check the copy.
 */
public final class ChainReader extends ChainCursor {
    ChainReader(DescriptorChain chain) {
        super(chain, 0, chain.readableBufferCount() - 1, chain.readableLength());
    }

    @Override
    String partName() {
        return "readable";
    }

    /** Reads up to {@code len} bytes into {@code dst[off..]}; returns how many (0 at the end). */
    public int read(byte[] dst, int off, int len) throws VirtqueueException {
        Objects.checkFromIndexSize(off, len, dst.length);
        checkLive();
        int total = 0;
        while (total < len && remaining() > 0) {
            MemorySegment piece = nextSegment(len - total);
            MemorySegment.copy(piece, ValueLayout.JAVA_BYTE, 0, dst, off + total, (int) piece.byteSize());
            total += (int) piece.byteSize();
        }
        return total;
    }

    /** Reads up to {@code dst.remaining()} bytes into {@code dst}; returns how many. */
    public int read(ByteBuffer dst) throws VirtqueueException {
        checkLive();
        int total = 0;
        while (dst.hasRemaining() && remaining() > 0) {
            MemorySegment piece = nextSegment(dst.remaining());
            dst.put(piece.asByteBuffer());
            total += (int) piece.byteSize();
        }
        return total;
    }

    /** Reads exactly {@code len} bytes, or throws without reading any. */
    public void readFully(byte[] dst, int off, int len) throws VirtqueueException {
        Objects.checkFromIndexSize(off, len, dst.length);
        require(len);
        read(dst, off, len);
    }

    public void readFully(byte[] dst) throws VirtqueueException {
        readFully(dst, 0, dst.length);
    }

    /** The next {@code n} bytes, or throws without reading any. */
    public byte[] readBytes(int n) throws VirtqueueException {
        require(n);
        byte[] b = new byte[n];
        read(b, 0, n);
        return b;
    }

    /** Everything that remains. */
    public byte[] readAll() throws VirtqueueException {
        return readBytes(remaining());
    }

    public byte readByte() throws VirtqueueException {
        return (byte) readLittleEndian(1);
    }

    public short readShort() throws VirtqueueException {
        return (short) readLittleEndian(2);
    }

    public int readInt() throws VirtqueueException {
        return (int) readLittleEndian(4);
    }

    public long readLong() throws VirtqueueException {
        return readLittleEndian(8);
    }

    private long readLittleEndian(int size) throws VirtqueueException {
        require(size);
        byte[] b = new byte[size];
        read(b, 0, size);
        long v = 0;
        for (int i = size - 1; i >= 0; i--) {
            v = (v << 8) | (b[i] & 0xFF);
        }
        return v;
    }

    /**
     * The rest of the readable part as an InputStream, sharing this reader's position: for code
     * that consumes streams. A {@link VirtqueueException} surfaces as an IOException wrapping it.
     */
    public InputStream inputStream() {
        return new InputStream() {
            @Override
            public int read() throws IOException {
                if (remaining() == 0) {
                    return -1;
                }
                try {
                    return readByte() & 0xFF;
                } catch (VirtqueueException e) {
                    throw new IOException(e.getMessage(), e);
                }
            }

            @Override
            public int read(byte[] b, int off, int len) throws IOException {
                Objects.checkFromIndexSize(off, len, b.length);
                if (len == 0) {
                    return 0;
                }
                if (remaining() == 0) {
                    return -1;
                }
                try {
                    return ChainReader.this.read(b, off, len);
                } catch (VirtqueueException e) {
                    throw new IOException(e.getMessage(), e);
                }
            }

            @Override
            public int available() {
                return remaining();
            }
        };
    }
}
