package dev.vessel.sys;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** An eventfd(2): the doorbell KVM rings for ioeventfd and listens on for irqfd. */
public final class EventFd implements AutoCloseable {
    private final int fd;
    private final MemorySegment buffer = Arena.ofAuto().allocate(8);

    public EventFd(int flags) throws ErrnoException {
        this.fd = Libc.eventfd(0, flags | Libc.EFD_CLOEXEC);
    }

    public int fd() {
        return fd;
    }

    /** Adds one to the counter: wakes a reader, or makes KVM inject an irqfd interrupt. */
    public void signal() throws ErrnoException {
        synchronized (buffer) {
            buffer.set(ValueLayout.JAVA_LONG, 0, 1L);
            Libc.write(fd, buffer, 8);
        }
    }

    /** Reads and resets the counter; blocks unless the eventfd is non-blocking. */
    public long drain() throws ErrnoException {
        synchronized (buffer) {
            Libc.read(fd, buffer, 8);
            return buffer.get(ValueLayout.JAVA_LONG, 0);
        }
    }

    @Override
    public void close() throws ErrnoException {
        Libc.close(fd);
    }
}
