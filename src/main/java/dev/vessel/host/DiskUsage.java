package dev.vessel.host;

import dev.vessel.sys.ErrnoException;
import dev.vessel.sys.Libc;

import java.io.IOException;
import java.nio.file.Path;

/**
 * What files really take on disk, as {@code du} counts it: their allocated blocks. A container's
 * writable disk is a sparse file of several GiB whose size says nothing of what it holds.
 */
public final class DiskUsage {
    private DiskUsage() {}

    /** The bytes {@code file}'s blocks take; 0 when there is no such file (removed meanwhile). */
    public static long of(Path file) throws IOException {
        try {
            return Libc.allocatedBytes(file.toString());
        } catch (ErrnoException e) {
            if (e.errno() == Libc.ENOENT) {
                return 0;
            }
            throw e;
        }
    }
}
