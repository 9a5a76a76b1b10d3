package dev.vessel.sys;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
}
