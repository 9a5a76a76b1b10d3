package dev.vessel.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.VarHandle;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

/**
 * The libc calls Vessel needs, as FFM downcalls. Every call that can fail captures errno
 * and throws {@link ErrnoException}; callers never see -1.
 */
public final class Libc {
    private Libc() {}

    public static final int O_RDONLY = 0;
    public static final int O_WRONLY = 1;
    public static final int O_RDWR = 2;
    public static final int O_CREAT = 0100;
    public static final int O_NONBLOCK = 04000;
    public static final int O_CLOEXEC = 02000000;

    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int MAP_SHARED = 1;
    public static final int MAP_PRIVATE = 2;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int MAP_NORESERVE = 0x4000;
    public static final int MADV_DONTNEED = 4;
    public static final int MADV_MERGEABLE = 12;

    public static final int EINTR = 4;
    public static final int EAGAIN = 11;
    public static final int ENOENT = 2;
    public static final int EBADF = 9;
    public static final int EACCES = 13;
    public static final int EPERM = 1;
    public static final int EBUSY = 16;
    public static final int ENODEV = 19;
    public static final int EINVAL = 22;
    public static final int EOPNOTSUPP = 95;

    public static final int AF_UNIX = 1;
    public static final int AF_INET = 2;
    public static final int SOCK_DGRAM = 2;
    public static final int SOCK_SEQPACKET = 5;
    public static final int SOCK_NONBLOCK = O_NONBLOCK;
    public static final int SOCK_CLOEXEC = O_CLOEXEC;

    public static final int EFD_CLOEXEC = O_CLOEXEC;
    public static final int EFD_NONBLOCK = O_NONBLOCK;

    private static final Linker LINKER = Linker.nativeLinker();
    private static final StructLayout CAPTURE_LAYOUT = Linker.Option.captureStateLayout();
    private static final VarHandle ERRNO =
            CAPTURE_LAYOUT.varHandle(MemoryLayout.PathElement.groupElement("errno"));
    static final Linker.Option CAPTURE = Linker.Option.captureCallState("errno");

    /** One errno buffer per thread: downcalls are frequent (every VM exit), allocation is not. */
    private static final ThreadLocal<MemorySegment> ERRNO_BUFFER =
            ThreadLocal.withInitial(() -> Arena.global().allocate(CAPTURE_LAYOUT));

    /**
     * Downcall handles live in one holder class each: linked on first use, not all at start-up.
     * Package-private, with the errno helpers below, for the other classes of this package that
     * keep their own downcalls ({@link UnixSocket}).
     */
    static MethodHandle fn(String name, FunctionDescriptor fd, Linker.Option... options) {
        MemorySegment symbol = LINKER.defaultLookup().find(name)
                .orElseThrow(() -> new UnsatisfiedLinkError("libc has no " + name));
        return LINKER.downcallHandle(symbol, fd, options);
    }

    private static final class Open {
        static final MethodHandle H = fn("open",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), CAPTURE, Linker.Option.firstVariadicArg(2));
    }

    private static final class Close {
        static final MethodHandle H = fn("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT), CAPTURE);
    }

    private static final class Read {
        static final MethodHandle H = fn("read",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), CAPTURE);
    }

    private static final class Write {
        static final MethodHandle H = fn("write",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_LONG), CAPTURE);
    }

    private static final class Readv {
        static final MethodHandle H = fn("readv",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), CAPTURE);
    }

    private static final class Writev {
        static final MethodHandle H = fn("writev",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), CAPTURE);
    }

    private static final class Socket {
        static final MethodHandle H = fn("socket",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), CAPTURE);
    }

    private static final class Socketpair {
        static final MethodHandle H = fn("socketpair",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS), CAPTURE);
    }

    private static final class IoctlPtr {
        static final MethodHandle H = fn("ioctl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS), CAPTURE, Linker.Option.firstVariadicArg(2));
    }

    private static final class IoctlLong {
        static final MethodHandle H = fn("ioctl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), CAPTURE, Linker.Option.firstVariadicArg(2));
    }

    /**
     * {@link #ioctlRaw}'s ioctl without errno capture, and where errno is read after it; made
     * together, with the read run once, so that no class loading or call-site linking (which
     * make system calls of their own) comes between a failed ioctl and its errno read.
     */
    private static final class UncapturedIoctl {
        static final MethodHandle IOCTL = fn("ioctl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG), Linker.Option.firstVariadicArg(2));
        /** __errno_location()'s pointer as a number, read through one segment over all memory: no segment per call. */
        static final MethodHandle ERRNO_LOCATION = fn("__errno_location", FunctionDescriptor.of(JAVA_LONG));
        static final MemorySegment ALL_MEMORY = MemorySegment.NULL.reinterpret(Long.MAX_VALUE);

        static {
            try {
                threadErrno();
            } catch (Throwable t) {
                throw new ExceptionInInitializerError(t);
            }
        }
    }

    private static final class Mmap {
        static final MethodHandle H = fn("mmap",
                FunctionDescriptor.of(ADDRESS, ADDRESS, JAVA_LONG, JAVA_INT, JAVA_INT, JAVA_INT, JAVA_LONG), CAPTURE);
    }

    private static final class Munmap {
        static final MethodHandle H = fn("munmap",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG), CAPTURE);
    }

    private static final class Madvise {
        static final MethodHandle H = fn("madvise",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), CAPTURE);
    }

    private static final class Eventfd {
        static final MethodHandle H = fn("eventfd",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), CAPTURE);
    }

    private static final class Isatty {
        static final MethodHandle H = fn("isatty", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
    }

    private static final class Getpid {
        static final MethodHandle H = fn("getpid", FunctionDescriptor.of(JAVA_INT));
    }

    private static final class Geteuid {
        static final MethodHandle H = fn("geteuid", FunctionDescriptor.of(JAVA_INT));
    }

    private static final class Fcntl {
        static final MethodHandle H = fn("fcntl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), CAPTURE);
    }

    private static final class Dup2 {
        static final MethodHandle H = fn("dup2", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), CAPTURE);
    }

    private static final class Setpriority {
        static final MethodHandle H = fn("setpriority",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), CAPTURE);
    }

    private static final class Strerror {
        static final MethodHandle H = fn("strerror", FunctionDescriptor.of(ADDRESS, JAVA_INT));
    }

    private static final class Tcgetattr {
        static final MethodHandle H = fn("tcgetattr",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS), CAPTURE);
    }

    private static final class Tcsetattr {
        static final MethodHandle H = fn("tcsetattr",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS), CAPTURE);
    }

    private static final class Cfmakeraw {
        static final MethodHandle H = fn("cfmakeraw", FunctionDescriptor.ofVoid(ADDRESS));
    }

    private static final class Poll {
        static final MethodHandle H = fn("poll",
                FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_LONG, JAVA_INT), CAPTURE);
    }


    static MemorySegment errnoBuffer() {
        return ERRNO_BUFFER.get();
    }

    static int errno(MemorySegment buffer) {
        return (int) ERRNO.get(buffer, 0L);
    }

    static RuntimeException unexpected(Throwable t) {
        if (t instanceof RuntimeException r) {
            return r;
        }
        if (t instanceof Error e) {
            throw e;
        }
        return new IllegalStateException(t);
    }

    public static String strerror(int errno) {
        try {
            MemorySegment s = (MemorySegment) Strerror.H.invokeExact(errno);
            return s.reinterpret(256).getString(0);
        } catch (Throwable t) {
            return "errno " + errno;
        }
    }

    public static int open(String path, int flags, int mode) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cpath = arena.allocateFrom(path);
            MemorySegment err = errnoBuffer();
            int fd = (int) Open.H.invokeExact(err, cpath, flags, mode);
            if (fd < 0) {
                throw new ErrnoException("open " + path, errno(err));
            }
            return fd;
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static void close(int fd) throws ErrnoException {
        try {
            MemorySegment err = errnoBuffer();
            int r = (int) Close.H.invokeExact(err, fd);
            if (r < 0) {
                throw new ErrnoException("close", errno(err));
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** read(2); returns bytes read (0 at end of file). Retries on EINTR. */
    public static long read(int fd, MemorySegment buf, long len) throws ErrnoException {
        if (len > buf.byteSize()) {
            throw new IndexOutOfBoundsException("read of " + len + " bytes into " + buf.byteSize());
        }
        try {
            MemorySegment err = errnoBuffer();
            while (true) {
                long n = (long) Read.H.invokeExact(err, fd, buf, len);
                if (n >= 0) {
                    return n;
                }
                int e = errno(err);
                if (e != EINTR) {
                    throw new ErrnoException("read", e);
                }
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** write(2); returns bytes written. Retries on EINTR. */
    public static long write(int fd, MemorySegment buf, long len) throws ErrnoException {
        if (len > buf.byteSize()) {
            throw new IndexOutOfBoundsException("write of " + len + " bytes from " + buf.byteSize());
        }
        try {
            MemorySegment err = errnoBuffer();
            while (true) {
                long n = (long) Write.H.invokeExact(err, fd, buf, len);
                if (n >= 0) {
                    return n;
                }
                int e = errno(err);
                if (e != EINTR) {
                    throw new ErrnoException("write", e);
                }
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * read(2) on a non-blocking descriptor: the bytes read (0 at end of file), or -1 when nothing
     * is there now (EAGAIN), without an exception on that common path. Retries on EINTR.
     */
    public static long readNonBlocking(int fd, MemorySegment buf, long len) throws ErrnoException {
        if (len > buf.byteSize()) {
            throw new IndexOutOfBoundsException("read of " + len + " bytes into " + buf.byteSize());
        }
        try {
            MemorySegment err = errnoBuffer();
            while (true) {
                long n = (long) Read.H.invokeExact(err, fd, buf, len);
                if (n >= 0) {
                    return n;
                }
                int e = errno(err);
                if (e == EAGAIN) {
                    return -1;
                }
                if (e != EINTR) {
                    throw new ErrnoException("read", e);
                }
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** Size of struct iovec on x86-64: a pointer, then a length. */
    public static final long IOVEC_SIZE = 16;

    /**
     * writev(2) of the first {@code count} struct iovec in {@code iov} (see {@link #IOVEC_SIZE}),
     * on a non-blocking descriptor: the bytes written, or -1 when the descriptor takes nothing now
     * (EAGAIN). Retries on EINTR. The caller vouches that every iovec names memory it may read.
     */
    public static long writev(int fd, MemorySegment iov, int count) throws ErrnoException {
        return vectored("writev", Writev.H, fd, iov, count);
    }

    /**
     * readv(2) into the first {@code count} struct iovec in {@code iov}, on a non-blocking
     * descriptor: the bytes read (0 at end of file), or -1 when there is nothing now (EAGAIN).
     * Retries on EINTR. The caller vouches that every iovec names memory it may write.
     */
    public static long readv(int fd, MemorySegment iov, int count) throws ErrnoException {
        return vectored("readv", Readv.H, fd, iov, count);
    }

    /** readv or writev ({@code call}): EINTR retried, EAGAIN as -1. */
    private static long vectored(String name, MethodHandle call, int fd, MemorySegment iov, int count)
            throws ErrnoException {
        if (count < 0 || count * IOVEC_SIZE > iov.byteSize()) {
            throw new IndexOutOfBoundsException(count + " iovecs in " + iov.byteSize() + " bytes");
        }
        try {
            MemorySegment err = errnoBuffer();
            while (true) {
                long n = (long) call.invokeExact(err, fd, iov, count);
                if (n >= 0) {
                    return n;
                }
                int e = errno(err);
                if (e == EAGAIN) {
                    return -1;
                }
                if (e != EINTR) {
                    throw new ErrnoException(name, e);
                }
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** socket(2), close-on-exec. */
    public static int socket(int domain, int type) throws ErrnoException {
        try {
            MemorySegment err = errnoBuffer();
            int fd = (int) Socket.H.invokeExact(err, domain, type | SOCK_CLOEXEC, 0);
            if (fd < 0) {
                throw new ErrnoException("socket", errno(err));
            }
            return fd;
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** socketpair(2): two connected sockets, close-on-exec; {@code type} may carry SOCK_NONBLOCK. */
    public static int[] socketpair(int domain, int type) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment fds = arena.allocate(JAVA_INT, 2);
            MemorySegment err = errnoBuffer();
            if ((int) Socketpair.H.invokeExact(err, domain, type | SOCK_CLOEXEC, 0, fds) < 0) {
                throw new ErrnoException("socketpair", errno(err));
            }
            return new int[] {fds.getAtIndex(JAVA_INT, 0), fds.getAtIndex(JAVA_INT, 1)};
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** ioctl with a pointer argument; returns the call's non-negative result. */
    public static int ioctl(int fd, long request, MemorySegment arg, String what) throws ErrnoException {
        try {
            MemorySegment err = errnoBuffer();
            int r = (int) IoctlPtr.H.invokeExact(err, fd, request, arg);
            if (r < 0) {
                throw new ErrnoException("ioctl " + what, errno(err));
            }
            return r;
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** ioctl with an integer argument (or none); returns the call's non-negative result. */
    public static int ioctl(int fd, long request, long arg, String what) throws ErrnoException {
        try {
            MemorySegment err = errnoBuffer();
            int r = (int) IoctlLong.H.invokeExact(err, fd, request, arg);
            if (r < 0) {
                throw new ErrnoException("ioctl " + what, errno(err));
            }
            return r;
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /**
     * ioctl that reports errno instead of throwing: returns the result, or {@code -errno}. For
     * KVM_RUN, called on every VM exit, where EINTR and EAGAIN are normal outcomes; it allocates
     * nothing. The JDK's errno capture ({@code captureCallState}) slices its buffer on every call,
     * an allocation only C2's escape analysis removes, and the VMM runs C1 only. So this call
     * captures nothing and reads errno from the thread's own {@code errno} right after the call,
     * on failure only. The JVM could overwrite errno on the way back from native code (a
     * safepoint wait there retries futex calls, which leave EAGAIN or EINTR): callers treat a
     * failure during a stop or pause as the interruption it most likely was.
     */
    public static int ioctlRaw(int fd, long request, long arg) {
        try {
            int r = (int) UncapturedIoctl.IOCTL.invokeExact(fd, request, arg);
            return r < 0 ? -threadErrno() : r;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** The calling thread's errno as it is now: read at once where __errno_location() says it is. */
    private static int threadErrno() throws Throwable {
        long where = (long) UncapturedIoctl.ERRNO_LOCATION.invokeExact();
        return UncapturedIoctl.ALL_MEMORY.get(JAVA_INT, where);
    }

    public static MemorySegment mmap(long length, int prot, int flags, int fd, long offset) throws ErrnoException {
        try {
            MemorySegment err = errnoBuffer();
            MemorySegment p = (MemorySegment) Mmap.H.invokeExact(err, MemorySegment.NULL, length, prot, flags, fd, offset);
            if (p.address() == -1L) {
                throw new ErrnoException("mmap of " + length + " bytes", errno(err));
            }
            return p;
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static void munmap(long address, long length) throws ErrnoException {
        try {
            MemorySegment err = errnoBuffer();
            int r = (int) Munmap.H.invokeExact(err, MemorySegment.ofAddress(address), length);
            if (r < 0) {
                throw new ErrnoException("munmap", errno(err));
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static void madvise(MemorySegment region, int advice) throws ErrnoException {
        try {
            MemorySegment err = errnoBuffer();
            int r = (int) Madvise.H.invokeExact(err, region, region.byteSize(), advice);
            if (r < 0) {
                throw new ErrnoException("madvise", errno(err));
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int eventfd(int initval, int flags) throws ErrnoException {
        try {
            MemorySegment err = errnoBuffer();
            int fd = (int) Eventfd.H.invokeExact(err, initval, flags);
            if (fd < 0) {
                throw new ErrnoException("eventfd", errno(err));
            }
            return fd;
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    private static final class Statx {
        static final MethodHandle H = fn("statx",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT, ADDRESS), CAPTURE);
    }

    private static final int AT_FDCWD = -100;
    private static final int AT_SYMLINK_NOFOLLOW = 0x100;
    private static final int STATX_BLOCKS = 0x400;
    /** struct statx: 256 bytes on every architecture; stx_mask at 0, stx_size at 40, stx_blocks at 48. */
    private static final long STATX_SIZE = 256;

    /**
     * The bytes a file's blocks take on its filesystem (statx's {@code stx_blocks} times 512), not
     * following a last symbolic link: less than its size for a sparse file. A filesystem that does
     * not report blocks gives the file's size.
     */
    public static long allocatedBytes(String path) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cpath = arena.allocateFrom(path);
            MemorySegment buf = arena.allocate(STATX_SIZE, 8);
            MemorySegment err = errnoBuffer();
            int r;
            do {
                r = (int) Statx.H.invokeExact(err, AT_FDCWD, cpath, AT_SYMLINK_NOFOLLOW, STATX_BLOCKS, buf);
            } while (r < 0 && errno(err) == EINTR);
            if (r < 0) {
                throw new ErrnoException("statx " + path, errno(err));
            }
            if ((buf.get(JAVA_INT, 0) & STATX_BLOCKS) == 0) {
                return buf.get(JAVA_LONG, 40);
            }
            return buf.get(JAVA_LONG, 48) * 512;
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static boolean isatty(int fd) {
        try {
            return (int) Isatty.H.invokeExact(fd) == 1;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int getpid() {
        try {
            return (int) Getpid.H.invokeExact();
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static int geteuid() {
        try {
            return (int) Geteuid.H.invokeExact();
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** dup2(2): makes {@code newFd} refer to what {@code oldFd} refers to. Retries on EINTR. */
    public static void dup2(int oldFd, int newFd) throws ErrnoException {
        try {
            MemorySegment err = errnoBuffer();
            while ((int) Dup2.H.invokeExact(err, oldFd, newFd) < 0) {
                int e = errno(err);
                if (e != EINTR) {
                    throw new ErrnoException("dup2", e);
                }
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** A close-on-exec duplicate of {@code fd} (fcntl F_DUPFD_CLOEXEC). */
    public static int dupCloexec(int fd) throws ErrnoException {
        try {
            MemorySegment err = errnoBuffer();
            int r = (int) Fcntl.H.invokeExact(err, fd, 1030 /* F_DUPFD_CLOEXEC */, 3);
            if (r < 0) {
                throw new ErrnoException("fcntl(F_DUPFD_CLOEXEC)", errno(err));
            }
            return r;
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static final int PRIO_PROCESS = 0;

    /**
     * setpriority(2) with PRIO_PROCESS: the nice value of one thread ({@code tid}; 0 is the
     * calling thread) on Linux, where the nice value is per thread. New threads and child
     * processes start with their creator's.
     */
    public static void setThreadNice(int tid, int nice) throws ErrnoException {
        try {
            MemorySegment err = errnoBuffer();
            if ((int) Setpriority.H.invokeExact(err, PRIO_PROCESS, tid, nice) < 0) {
                throw new ErrnoException("setpriority", errno(err));
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static void tcgetattr(int fd, MemorySegment termios) throws ErrnoException {
        try {
            MemorySegment err = errnoBuffer();
            if ((int) Tcgetattr.H.invokeExact(err, fd, termios) < 0) {
                throw new ErrnoException("tcgetattr", errno(err));
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static void tcsetattr(int fd, int when, MemorySegment termios) throws ErrnoException {
        try {
            MemorySegment err = errnoBuffer();
            if ((int) Tcsetattr.H.invokeExact(err, fd, when, termios) < 0) {
                throw new ErrnoException("tcsetattr", errno(err));
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static void cfmakeraw(MemorySegment termios) {
        try {
            Cfmakeraw.H.invokeExact(termios);
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** poll(2) on the given pollfd array; returns the number of ready entries (0 on timeout). */
    public static int poll(MemorySegment fds, int count, int timeoutMillis) throws ErrnoException {
        try {
            MemorySegment err = errnoBuffer();
            while (true) {
                int r = (int) Poll.H.invokeExact(err, fds, (long) count, timeoutMillis);
                if (r >= 0) {
                    return r;
                }
                int e = errno(err);
                if (e != EINTR) {
                    throw new ErrnoException("poll", e);
                }
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    private static final class EpollCreate1 {
        static final MethodHandle H = fn("epoll_create1", FunctionDescriptor.of(JAVA_INT, JAVA_INT), CAPTURE);
    }

    private static final class EpollCtl {
        static final MethodHandle H = fn("epoll_ctl",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS), CAPTURE);
    }

    private static final class EpollWait {
        static final MethodHandle H = fn("epoll_wait",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT, JAVA_INT), CAPTURE);
    }

    public static int epollCreate() throws ErrnoException {
        try {
            MemorySegment err = errnoBuffer();
            int fd = (int) EpollCreate1.H.invokeExact(err, O_CLOEXEC);
            if (fd < 0) {
                throw new ErrnoException("epoll_create1", errno(err));
            }
            return fd;
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    public static void epollCtl(int epfd, int op, int fd, MemorySegment event) throws ErrnoException {
        try {
            MemorySegment err = errnoBuffer();
            if ((int) EpollCtl.H.invokeExact(err, epfd, op, fd, event) < 0) {
                throw new ErrnoException("epoll_ctl", errno(err));
            }
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** epoll_wait(2); returns the number of ready events, 0 on timeout or EINTR. */
    public static int epollWait(int epfd, MemorySegment events, int max, int timeoutMillis) throws ErrnoException {
        try {
            MemorySegment err = errnoBuffer();
            int n = (int) EpollWait.H.invokeExact(err, epfd, events, max, timeoutMillis);
            if (n < 0) {
                int e = errno(err);
                if (e == EINTR) {
                    return 0;
                }
                throw new ErrnoException("epoll_wait", e);
            }
            return n;
        } catch (ErrnoException e) {
            throw e;
        } catch (Throwable t) {
            throw unexpected(t);
        }
    }

    /** Layout of struct pollfd. */
    public static final StructLayout POLLFD = MemoryLayout.structLayout(
            JAVA_INT.withName("fd"), ValueLayout.JAVA_SHORT.withName("events"), ValueLayout.JAVA_SHORT.withName("revents"));
    public static final short POLLIN = 1;
    public static final short POLLHUP = 0x10;
    public static final short POLLERR = 0x8;
}
