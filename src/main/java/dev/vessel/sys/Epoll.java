package dev.vessel.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** An epoll(7) instance: waits on many file descriptors at once (eventfds from KVM, sockets). */
public final class Epoll implements AutoCloseable {
    public static final int EPOLLIN = 0x1;
    public static final int EPOLLOUT = 0x4;
    public static final int EPOLLERR = 0x8;
    public static final int EPOLLHUP = 0x10;
    /** Report readiness once, then nothing until the descriptor is re-armed with {@link #modify}. */
    public static final int EPOLLONESHOT = 1 << 30;
    static final int CTL_ADD = 1;
    static final int CTL_DEL = 2;
    static final int CTL_MOD = 3;
    /** struct epoll_event is packed on x86-64: u32 events, then u64 data at offset 4. */
    static final long EVENT_SIZE = 12;

    private final int fd;
    private final Arena arena = Arena.ofShared();
    private final MemorySegment ctlEvent = arena.allocate(EVENT_SIZE, 8);
    /** Once closed, the fd number may belong to another descriptor: no call may reach it. */
    private boolean closed;

    public Epoll() throws ErrnoException {
        this.fd = Libc.epollCreate();
    }

    /** Watches {@code target} for {@code events}; {@code token} comes back with each readiness. */
    public synchronized void add(int target, int events, long token) throws ErrnoException {
        ctl(CTL_ADD, target, events, token);
    }

    public synchronized void modify(int target, int events, long token) throws ErrnoException {
        ctl(CTL_MOD, target, events, token);
    }

    public synchronized void remove(int target) throws ErrnoException {
        ensureOpen();
        Libc.epollCtl(fd, CTL_DEL, target, ctlEvent);
    }

    private void ensureOpen() throws ErrnoException {
        if (closed) {
            throw new ErrnoException("epoll_ctl (the epoll instance is closed)", Libc.EBADF);
        }
    }

    private void ctl(int op, int target, int events, long token) throws ErrnoException {
        ensureOpen();
        ctlEvent.set(ValueLayout.JAVA_INT_UNALIGNED, 0, events);
        ctlEvent.set(ValueLayout.JAVA_LONG_UNALIGNED, 4, token);
        Libc.epollCtl(fd, op, target, ctlEvent);
    }

    /** A buffer for {@link #await}: room for {@code max} events. */
    public static MemorySegment eventBuffer(Arena arena, int max) {
        return arena.allocate(EVENT_SIZE * max, 8);
    }

    /** Waits for readiness; returns how many events are in {@code buffer}. */
    public int await(MemorySegment buffer, int timeoutMillis) throws ErrnoException {
        return Libc.epollWait(fd, buffer, (int) (buffer.byteSize() / EVENT_SIZE), timeoutMillis);
    }

    public static int events(MemorySegment buffer, int i) {
        return buffer.get(ValueLayout.JAVA_INT_UNALIGNED, i * EVENT_SIZE);
    }

    public static long token(MemorySegment buffer, int i) {
        return buffer.get(ValueLayout.JAVA_LONG_UNALIGNED, i * EVENT_SIZE + 4);
    }

    @Override
    public synchronized void close() throws ErrnoException {
        if (closed) {
            return;
        }
        closed = true;
        Libc.close(fd);
        arena.close();
    }
}
