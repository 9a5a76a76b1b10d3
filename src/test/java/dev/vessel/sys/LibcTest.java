package dev.vessel.sys;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LibcTest {
    static final int EBADF = 9;
    static final int ENOTTY = 25;
    /** KVM_RUN's request number: what the VMM sends through ioctlRaw. */
    static final long KVM_RUN = 0xAE80;

    @Test
    void ioctlRawReturnsMinusErrnoOfTheCallItMade() throws ErrnoException {
        int fd = Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC, 0);
        try {
            assertEquals(-ENOTTY, Libc.ioctlRaw(fd, KVM_RUN, 0));
        } finally {
            Libc.close(fd);
        }
        // The next failure's errno, not a stale one.
        assertEquals(-EBADF, Libc.ioctlRaw(fd, KVM_RUN, 0));
    }

    @Test
    void allocatedBytesAreTheBlocksAFileHoldsNotItsSize(@org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
        java.nio.file.Path sparse = dir.resolve("sparse");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(sparse.toFile(), "rw")) {
            f.setLength(1L << 30);
            f.seek(1L << 29);
            f.write(new byte[1 << 16]);
        }
        long allocated = Libc.allocatedBytes(sparse.toString());
        assertTrue(allocated >= 1 << 16 && allocated < 1 << 20, "64 KiB written in a 1 GiB hole: " + allocated);
        ErrnoException missing = org.junit.jupiter.api.Assertions.assertThrows(ErrnoException.class,
                () -> Libc.allocatedBytes(dir.resolve("nothing").toString()));
        assertEquals(Libc.ENOENT, missing.errno());
        assertEquals(0, dev.vessel.host.DiskUsage.of(dir.resolve("nothing")), "no file takes nothing");
    }
}
