package dev.vessel.sys;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;
import static java.lang.foreign.ValueLayout.JAVA_SHORT;

/**
 * An AF_UNIX stream socket, for what java.nio's Unix-domain channels cannot do: receive and send
 * file descriptors (SCM_RIGHTS), ask who the peer is (SO_PEERCRED), and keep every descriptor
 * close-on-exec. Same conventions as {@link Libc}: one lazily linked downcall per holder class,
 * errno captured, failures thrown as {@link ErrnoException}.
 */
public final class UnixSocket implements AutoCloseable {
    static final int AF_UNIX = 1;
    static final int SOCK_STREAM = 1;
    static final int SOCK_NONBLOCK = Libc.O_NONBLOCK;
    static final int SOCK_CLOEXEC = Libc.O_CLOEXEC;
    static final int SOL_SOCKET = 1;
    static final int SO_PEERCRED = 17;
    static final int SCM_RIGHTS = 1;
    static final int MSG_CTRUNC = 0x8;
    static final int MSG_NOSIGNAL = 0x4000;
    static final int MSG_CMSG_CLOEXEC = 0x40000000;
    static final int ECONNABORTED = 103;

    /** sun_path holds 108 bytes, the terminating NUL included. */
    public static final int MAX_PATH_BYTES = 107;

    /* x86-64 layouts: struct msghdr (56 bytes), struct iovec (16), struct cmsghdr (16 + data). */
    static final long MSGHDR_SIZE = 56;
    static final long MSG_IOV = 16;
    static final long MSG_IOVLEN = 24;
    static final long MSG_CONTROL = 32;
    static final long MSG_CONTROLLEN = 40;
    static final long MSG_FLAGS = 48;
    static final long IOVEC_SIZE = 16;
    static final long CMSG_HEADER = 16;

    static long cmsgSpace(long dataBytes) {
        return CMSG_HEADER + ((dataBytes + 7) & ~7L);
    }

    /** Who is at the other end of a connection, as the kernel saw it when the connection was made. */
    public record PeerCredentials(int pid, int uid, int gid) {}

    /**
     * What one receive brought: {@code bytes} of data (0 at end of stream) and the descriptors that
     * came with them, which now belong to the caller (close-on-exec).
     */
    public record Received(int bytes, int[] fds) {}

    private static final class Socket {
        static final MethodHandle H = Libc.fn("socket",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT), Libc.CAPTURE);
    }

    private static final class Bind {
        static final MethodHandle H = Libc.fn("bind",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), Libc.CAPTURE);
    }

    private static final class Listen {
        static final MethodHandle H = Libc.fn("listen",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT), Libc.CAPTURE);
    }

    private static final class Accept4 {
        static final MethodHandle H = Libc.fn("accept4",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, ADDRESS, JAVA_INT), Libc.CAPTURE);
    }

    private static final class Connect {
        static final MethodHandle H = Libc.fn("connect",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, ADDRESS, JAVA_INT), Libc.CAPTURE);
    }

    private static final class Recvmsg {
        static final MethodHandle H = Libc.fn("recvmsg",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), Libc.CAPTURE);
    }

    private static final class Sendmsg {
        static final MethodHandle H = Libc.fn("sendmsg",
                FunctionDescriptor.of(JAVA_LONG, JAVA_INT, ADDRESS, JAVA_INT), Libc.CAPTURE);
    }

    private static final class Getsockopt {
        static final MethodHandle H = Libc.fn("getsockopt",
                FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_INT, JAVA_INT, ADDRESS, ADDRESS), Libc.CAPTURE);
    }

    private final int fd;
    private boolean closed;

    private UnixSocket(int fd) {
        this.fd = fd;
    }

    public int fd() {
        return fd;
    }

    /** A listening socket bound at {@code path} (which must not exist); non-blocking, close-on-exec. */
    public static UnixSocket listen(Path path, int backlog) throws ErrnoException {
        UnixSocket s = new UnixSocket(socket(SOCK_NONBLOCK));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment addr = sockaddr(arena, path);
            MemorySegment err = Libc.errnoBuffer();
            if ((int) Bind.H.invokeExact(err, s.fd, addr, (int) addr.byteSize()) < 0) {
                throw new ErrnoException("bind " + path, Libc.errno(err));
            }
            if ((int) Listen.H.invokeExact(err, s.fd, backlog) < 0) {
                throw new ErrnoException("listen " + path, Libc.errno(err));
            }
            return s;
        } catch (Throwable t) {
            s.close();
            throw rethrow(t);
        }
    }

    /** A blocking connection to the socket at {@code path}. */
    public static UnixSocket connect(Path path) throws ErrnoException {
        UnixSocket s = new UnixSocket(socket(0));
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment addr = sockaddr(arena, path);
            MemorySegment err = Libc.errnoBuffer();
            while ((int) Connect.H.invokeExact(err, s.fd, addr, (int) addr.byteSize()) < 0) {
                int e = Libc.errno(err);
                if (e != Libc.EINTR) {
                    throw new ErrnoException("connect " + path, e);
                }
            }
            return s;
        } catch (Throwable t) {
            s.close();
            throw rethrow(t);
        }
    }

    /**
     * Accepts one pending connection (blocking, close-on-exec); null when none is pending on a
     * non-blocking listener or the one that was has gone already.
     */
    public UnixSocket accept() throws ErrnoException {
        try {
            MemorySegment err = Libc.errnoBuffer();
            while (true) {
                int c = (int) Accept4.H.invokeExact(err, fd, MemorySegment.NULL, MemorySegment.NULL, SOCK_CLOEXEC);
                if (c >= 0) {
                    return new UnixSocket(c);
                }
                int e = Libc.errno(err);
                if (e == Libc.EAGAIN || e == ECONNABORTED) {
                    return null;
                }
                if (e != Libc.EINTR) {
                    throw new ErrnoException("accept4", e);
                }
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Waits until the socket is readable (data, a connection, end of stream or an error); false on timeout. */
    public boolean awaitReadable(int timeoutMillis) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pfd = arena.allocate(Libc.POLLFD);
            pfd.set(JAVA_INT, 0, fd);
            pfd.set(JAVA_SHORT, 4, Libc.POLLIN);
            return Libc.poll(pfd, 1, timeoutMillis) > 0;
        }
    }

    /** The peer's process, user and group (SO_PEERCRED). */
    public PeerCredentials peerCredentials() throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment cred = arena.allocate(12, 4);
            MemorySegment len = arena.allocate(JAVA_INT);
            len.set(JAVA_INT, 0, 12);
            MemorySegment err = Libc.errnoBuffer();
            if ((int) Getsockopt.H.invokeExact(err, fd, SOL_SOCKET, SO_PEERCRED, cred, len) < 0) {
                throw new ErrnoException("getsockopt SO_PEERCRED", Libc.errno(err));
            }
            if (len.get(JAVA_INT, 0) != 12) {
                throw new IllegalStateException("SO_PEERCRED returned " + len.get(JAVA_INT, 0) + " bytes");
            }
            return new PeerCredentials(cred.get(JAVA_INT, 0), cred.get(JAVA_INT, 4), cred.get(JAVA_INT, 8));
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /**
     * Receives at most {@code len} bytes into {@code buf} at {@code off}, and the descriptors sent with
     * them (at most {@code maxFds}; close-on-exec). Blocks unless the socket is non-blocking (then
     * EAGAIN is thrown). When more descriptors came than fit, or any arrived with {@code maxFds} 0,
     * every one received is closed and an IOException thrown.
     */
    public Received receive(byte[] buf, int off, int len, int maxFds) throws IOException {
        java.util.Objects.checkFromIndexSize(off, len, buf.length);
        if (maxFds < 0 || maxFds > 253) {
            throw new IllegalArgumentException("maxFds " + maxFds);
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment data = arena.allocate(Math.max(1, len));
            long controlSize = maxFds == 0 ? 0 : cmsgSpace(4L * maxFds);
            MemorySegment control = controlSize == 0 ? MemorySegment.NULL : arena.allocate(controlSize, 8);
            MemorySegment iov = arena.allocate(IOVEC_SIZE, 8);
            iov.set(ADDRESS, 0, data);
            iov.set(JAVA_LONG, 8, len);
            MemorySegment msg = arena.allocate(MSGHDR_SIZE, 8);
            msg.set(ADDRESS, MSG_IOV, iov);
            msg.set(JAVA_LONG, MSG_IOVLEN, 1);
            msg.set(ADDRESS, MSG_CONTROL, control);
            msg.set(JAVA_LONG, MSG_CONTROLLEN, controlSize);
            MemorySegment err = Libc.errnoBuffer();
            long n;
            while ((n = (long) Recvmsg.H.invokeExact(err, fd, msg, MSG_CMSG_CLOEXEC)) < 0) {
                int e = Libc.errno(err);
                if (e != Libc.EINTR) {
                    throw new ErrnoException("recvmsg", e);
                }
            }
            int[] fds = controlSize == 0 ? new int[0]
                    : descriptors(control, Math.min(msg.get(JAVA_LONG, MSG_CONTROLLEN), controlSize));
            if ((msg.get(JAVA_INT, MSG_FLAGS) & MSG_CTRUNC) != 0) {
                closeAll(fds);
                throw new IOException("received more file descriptors than the " + maxFds + " expected; closed them");
            }
            MemorySegment.copy(data, JAVA_BYTE, 0, buf, off, (int) n);
            return new Received((int) n, fds);
        } catch (Throwable t) {
            throw rethrowIo(t);
        }
    }

    /** The SCM_RIGHTS descriptors in a received control buffer; other control messages are ignored. */
    static int[] descriptors(MemorySegment control, long length) {
        int[] fds = new int[0];
        long off = 0;
        while (off + CMSG_HEADER <= length) {
            long cmsgLen = control.get(JAVA_LONG, off);
            if (cmsgLen < CMSG_HEADER || off + cmsgLen > length) {
                break;
            }
            int level = control.get(JAVA_INT, off + 8);
            int type = control.get(JAVA_INT, off + 12);
            if (level == SOL_SOCKET && type == SCM_RIGHTS) {
                int count = (int) ((cmsgLen - CMSG_HEADER) / 4);
                int base = fds.length;
                fds = Arrays.copyOf(fds, base + count);
                for (int i = 0; i < count; i++) {
                    fds[base + i] = control.get(JAVA_INT, off + CMSG_HEADER + 4L * i);
                }
            }
            off += (cmsgLen + 7) & ~7L;
        }
        return fds;
    }

    /** Sends all of {@code data}; {@code fds} (may be empty) travel with its first byte. */
    public void send(byte[] data, int[] fds) throws ErrnoException {
        if (data.length == 0) {
            throw new IllegalArgumentException("descriptors need at least one byte of data to travel with");
        }
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(data.length);
            MemorySegment.copy(data, 0, buf, JAVA_BYTE, 0, data.length);
            long controlSize = fds.length == 0 ? 0 : cmsgSpace(4L * fds.length);
            MemorySegment control = MemorySegment.NULL;
            if (controlSize > 0) {
                control = arena.allocate(controlSize, 8);
                control.set(JAVA_LONG, 0, CMSG_HEADER + 4L * fds.length);
                control.set(JAVA_INT, 8, SOL_SOCKET);
                control.set(JAVA_INT, 12, SCM_RIGHTS);
                for (int i = 0; i < fds.length; i++) {
                    control.set(JAVA_INT, CMSG_HEADER + 4L * i, fds[i]);
                }
            }
            MemorySegment iov = arena.allocate(IOVEC_SIZE, 8);
            MemorySegment msg = arena.allocate(MSGHDR_SIZE, 8);
            MemorySegment err = Libc.errnoBuffer();
            long sent = 0;
            while (sent < data.length) {
                iov.set(ADDRESS, 0, buf.asSlice(sent));
                iov.set(JAVA_LONG, 8, data.length - sent);
                msg.set(ADDRESS, MSG_IOV, iov);
                msg.set(JAVA_LONG, MSG_IOVLEN, 1);
                msg.set(ADDRESS, MSG_CONTROL, sent == 0 ? control : MemorySegment.NULL);
                msg.set(JAVA_LONG, MSG_CONTROLLEN, sent == 0 ? controlSize : 0);
                long n = (long) Sendmsg.H.invokeExact(err, fd, msg, MSG_NOSIGNAL);
                if (n < 0) {
                    int e = Libc.errno(err);
                    if (e == Libc.EINTR) {
                        continue;
                    }
                    throw new ErrnoException("sendmsg", e);
                }
                sent += n;
            }
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** Closes descriptors, ignoring errors (for descriptors received and not wanted). */
    public static void closeAll(int... fds) {
        for (int f : fds) {
            try {
                Libc.close(f);
            } catch (ErrnoException ignored) {
                // Already closed: nothing to release.
            }
        }
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            closeAll(fd);
        }
    }

    private static int socket(int extraFlags) throws ErrnoException {
        try {
            MemorySegment err = Libc.errnoBuffer();
            int s = (int) Socket.H.invokeExact(err, AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | extraFlags, 0);
            if (s < 0) {
                throw new ErrnoException("socket AF_UNIX", Libc.errno(err));
            }
            return s;
        } catch (Throwable t) {
            throw rethrow(t);
        }
    }

    /** struct sockaddr_un for a filesystem path; the length passed to bind/connect is its byteSize. */
    static MemorySegment sockaddr(Arena arena, Path path) {
        byte[] p = path.toString().getBytes(StandardCharsets.UTF_8);
        if (p.length == 0 || p.length > MAX_PATH_BYTES) {
            throw new IllegalArgumentException("socket path must be 1.." + MAX_PATH_BYTES + " bytes: " + path);
        }
        for (byte b : p) {
            if (b == 0) {
                throw new IllegalArgumentException("socket path contains NUL: " + path);
            }
        }
        MemorySegment addr = arena.allocate(2L + p.length + 1, 2);
        addr.set(JAVA_SHORT, 0, (short) AF_UNIX);
        MemorySegment.copy(p, 0, addr, JAVA_BYTE, 2, p.length);
        return addr;
    }

    private static ErrnoException rethrow(Throwable t) throws ErrnoException {
        if (t instanceof ErrnoException e) {
            throw e;
        }
        throw Libc.unexpected(t);
    }

    private static IOException rethrowIo(Throwable t) throws IOException {
        if (t instanceof IOException e) {
            throw e;
        }
        throw Libc.unexpected(t);
    }
}
