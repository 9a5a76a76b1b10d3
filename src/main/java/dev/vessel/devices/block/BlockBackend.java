package dev.vessel.devices.block;

import java.io.IOException;
import java.lang.foreign.MemorySegment;

/**
 * Where a virtual disk's bytes live: a local image file, or a remote export. Offsets and lengths
 * are checked by the caller against {@link #size()}; buffers are native memory (guest RAM), so
 * data moves without passing through the Java heap. Used by one device worker thread at a time.
 */
public interface BlockBackend extends AutoCloseable {
    /** Size in bytes. */
    long size();

    boolean readOnly();

    /** Fills {@code dst} from {@code offset}. */
    void read(long offset, MemorySegment dst) throws IOException;

    /** Writes {@code src} at {@code offset}; refused on a read-only backend. */
    void write(long offset, MemorySegment src) throws IOException;

    /** Makes every completed write durable (the guest's flush, or FUA). */
    void flush() throws IOException;

    /** Whether {@link #discard} frees space (otherwise the device should not offer discard). */
    boolean supportsDiscard();

    /** Deallocates a range; it reads back as zeros afterwards. */
    void discard(long offset, long length) throws IOException;

    @Override
    void close() throws IOException;
}
