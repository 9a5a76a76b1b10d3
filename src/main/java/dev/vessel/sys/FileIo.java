package dev.vessel.sys;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * Positioned file I/O straight between a file and native memory (guest RAM): pread, pwrite,
 * fdatasync, fallocate (hole punching), file size. No copy through the Java heap.
 */
public final class FileIo {
    private FileIo() {}

    public static final int FALLOC_FL_KEEP_SIZE = 1;
    public static final int FALLOC_FL_PUNCH_HOLE = 2;
    static final int SEEK_END = 2;
    static final int EOPNOTSUPP = 95;
    static final int EIO = 5;

    private static final class Pread {
        static final MethodHandle H = Libc.fn("pread",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG), Libc.CAPTURE);
    }

    private static final class Pwrite {
        static final MethodHandle H = Libc.fn("pwrite",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG, JAVA_LONG), Libc.CAPTURE);
    }

    private static final class Fdatasync {
        static final MethodHandle H = Libc.fn("fdatasync", FunctionDescriptor.of(JAVA_INT, JAVA_INT), Libc.CAPTURE);
    }

    private static final class Fallocate {
        static final MethodHandle H = Libc.fn("fallocate",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), Libc.CAPTURE);
    }

    private static final class Lseek {
        static final MethodHandle H = Libc.fn("lseek",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, JAVA_LONG, JAVA_INT), Libc.CAPTURE);
    }

    /** pread or pwrite: moves up to {@code length} bytes at file {@code offset}; the count, or -1 with errno in {@code err}. */
    @FunctionalInterface
    interface Transfer {
        long call(MemorySegment err, int fd, MemorySegment buffer, long length, long offset) throws Throwable;
    }

    private static final Transfer PREAD = (err, fd, buffer, length, offset) ->
            (long) Pread.H.invokeExact(err, fd, buffer, length, offset);
    private static final Transfer PWRITE = (err, fd, buffer, length, offset) ->
            (long) Pwrite.H.invokeExact(err, fd, buffer, length, offset);

    /** Reads exactly {@code dst.byteSize()} bytes at {@code offset}; past end of file reads zeros. */
    public static void preadFully(int fd, MemorySegment dst, long offset) throws ErrnoException {
        preadFully(PREAD, fd, dst, offset);
    }

    /**
     * The loop of {@link #preadFully} over any {@code pread}. Every round either moves at least one
     * byte or ends the loop: 0 is the end of the file (the rest reads as zeros), a count larger than
     * asked for is an error (EIO), like a failure other than EINTR.
     */
    static void preadFully(Transfer pread, int fd, MemorySegment dst, long offset) throws ErrnoException {
        long done = 0;
        long len = dst.byteSize();
        try {
            MemorySegment err = Libc.errnoBuffer();
            while (done < len) {
                long n = pread.call(err, fd, dst.asSlice(done), len - done, offset + done);
                if (n < 0) {
                    int e = Libc.errno(err);
                    if (e == Libc.EINTR) {
                        continue;
                    }
                    throw new ErrnoException("pread", e);
                }
                if (n == 0) {
                    dst.asSlice(done).fill((byte) 0);
                    return;
                }
                if (n > len - done) {
                    throw new ErrnoException("pread (returned more than asked for)", EIO);
                }
                done += n;
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    /**
     * Writes all of {@code src} at {@code offset}. A {@code pwrite} that writes nothing (the file
     * system takes no more, yet reports no error) fails with EIO instead of being retried for ever.
     */
    public static void pwriteFully(int fd, MemorySegment src, long offset) throws ErrnoException {
        pwriteFully(PWRITE, fd, src, offset);
    }

    /** The loop of {@link #pwriteFully} over any {@code pwrite}: every round moves at least one byte or ends it. */
    static void pwriteFully(Transfer pwrite, int fd, MemorySegment src, long offset) throws ErrnoException {
        long done = 0;
        long len = src.byteSize();
        try {
            MemorySegment err = Libc.errnoBuffer();
            while (done < len) {
                long n = pwrite.call(err, fd, src.asSlice(done), len - done, offset + done);
                if (n < 0) {
                    int e = Libc.errno(err);
                    if (e == Libc.EINTR) {
                        continue;
                    }
                    throw new ErrnoException("pwrite", e);
                }
                if (n == 0) {
                    throw new ErrnoException("pwrite (wrote nothing)", EIO);
                }
                if (n > len - done) {
                    throw new ErrnoException("pwrite (returned more than asked for)", EIO);
                }
                done += n;
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    public static void fdatasync(int fd) throws ErrnoException {
        try {
            MemorySegment err = Libc.errnoBuffer();
            if ((int) Fdatasync.H.invokeExact(err, fd) < 0) {
                throw new ErrnoException("fdatasync", Libc.errno(err));
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    /** Deallocates a range (reads back as zeros); false where the filesystem cannot punch holes. */
    public static boolean punchHole(int fd, long offset, long length) throws ErrnoException {
        try {
            MemorySegment err = Libc.errnoBuffer();
            if ((int) Fallocate.H.invokeExact(err, fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, offset, length) < 0) {
                int e = Libc.errno(err);
                if (e == EOPNOTSUPP) {
                    return false;
                }
                throw new ErrnoException("fallocate", e);
            }
            return true;
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    public static long size(int fd) throws ErrnoException {
        try {
            MemorySegment err = Libc.errnoBuffer();
            long n = (long) Lseek.H.invokeExact(err, fd, 0L, SEEK_END);
            if (n < 0) {
                throw new ErrnoException("lseek", Libc.errno(err));
            }
            return n;
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }
}
