package dev.vessel.devices.virtio.blk;

import dev.vessel.devices.block.BlockBackend;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** A disk in native memory that counts what the device asks of it and can be told to fail. */
final class FakeBackend implements BlockBackend {
    final Arena arena = Arena.ofShared();
    final MemorySegment disk;
    final boolean readOnly;
    final boolean discard;
    int reads;
    int writes;
    int flushes;
    int discards;
    long bytesRead;
    long bytesWritten;
    /** Flushes seen when each write happened (to check ordering). */
    int failures;
    boolean closed;

    FakeBackend(long size, boolean readOnly, boolean discard) {
        this.disk = arena.allocate(size, 4096);
        this.readOnly = readOnly;
        this.discard = discard;
    }

    FakeBackend(long size) {
        this(size, false, true);
    }

    void fill(long offset, byte[] bytes) {
        MemorySegment.copy(bytes, 0, disk, ValueLayout.JAVA_BYTE, offset, bytes.length);
    }

    byte[] bytes(long offset, int length) {
        return disk.asSlice(offset, length).toArray(ValueLayout.JAVA_BYTE);
    }

    private void check(long offset, long length) throws IOException {
        if (failures > 0) {
            failures--;
            throw new IOException("injected failure");
        }
        if (offset < 0 || length < 0 || offset + length > disk.byteSize()) {
            throw new AssertionError("the device asked for " + offset + "+" + length + " beyond the disk");
        }
    }

    @Override
    public long size() {
        return disk.byteSize();
    }

    @Override
    public boolean readOnly() {
        return readOnly;
    }

    @Override
    public void read(long offset, MemorySegment dst) throws IOException {
        check(offset, dst.byteSize());
        reads++;
        bytesRead += dst.byteSize();
        MemorySegment.copy(disk, offset, dst, 0, dst.byteSize());
    }

    @Override
    public void write(long offset, MemorySegment src) throws IOException {
        if (readOnly) {
            throw new AssertionError("write to a read-only backend reached it");
        }
        check(offset, src.byteSize());
        writes++;
        bytesWritten += src.byteSize();
        MemorySegment.copy(src, 0, disk, offset, src.byteSize());
    }

    @Override
    public void flush() throws IOException {
        check(0, 0);
        flushes++;
    }

    @Override
    public boolean supportsDiscard() {
        return discard && !readOnly;
    }

    @Override
    public void discard(long offset, long length) throws IOException {
        if (!supportsDiscard()) {
            throw new AssertionError("discard on a backend that does not support it");
        }
        check(offset, length);
        discards++;
        disk.asSlice(offset, length).fill((byte) 0);
    }

    @Override
    public void close() {
        closed = true;
        arena.close();
    }

    @Override
    public String toString() {
        return "fake";
    }
}
