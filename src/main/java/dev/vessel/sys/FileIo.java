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

    /** Reads exactly {@code dst.byteSize()} bytes at {@code offset}; past end of file reads zeros. */
    public static void preadFully(int fd, MemorySegment dst, long offset) throws ErrnoException {
        long done = 0;
        long len = dst.byteSize();
        try {
            MemorySegment err = Libc.errnoBuffer();
            while (done < len) {
                long n = (long) Pread.H.invokeExact(err, fd, dst.asSlice(done), len - done, offset + done);
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
                done += n;
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw Libc.unexpected(t);
        }
    }

    /** Writes all of {@code src} at {@code offset}. */
    public static void pwriteFully(int fd, MemorySegment src, long offset) throws ErrnoException {
        long done = 0;
        long len = src.byteSize();
        try {
            MemorySegment err = Libc.errnoBuffer();
            while (done < len) {
                long n = (long) Pwrite.H.invokeExact(err, fd, src.asSlice(done), len - done, offset + done);
                if (n < 0) {
                    int e = Libc.errno(err);
                    if (e == Libc.EINTR) {
                        continue;
                    }
                    throw new ErrnoException("pwrite", e);
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
