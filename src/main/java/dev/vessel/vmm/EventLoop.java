package dev.vessel.vmm;

import dev.vessel.sys.Epoll;
import dev.vessel.sys.ErrnoException;
import dev.vessel.sys.EventFd;
import dev.vessel.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The VM's event thread: one epoll loop over the eventfds KVM signals (ioeventfd queue kicks)
 * and other host descriptors. Handlers run on this thread and must not block; device work that
 * can block goes to the device's own worker.
 */
public final class EventLoop implements AutoCloseable {
    /** Called when a watched descriptor is ready; gets the epoll event bits. */
    @FunctionalInterface
    public interface Handler {
        void ready(int events);
    }

    private static final long STOP_TOKEN = 0;

    private final Epoll epoll;
    private final EventFd stop;
    private final Map<Long, Handler> handlers = new ConcurrentHashMap<>();
    private final AtomicLong nextToken = new AtomicLong(1);
    private final Thread thread;
    private volatile boolean running = true;

    public EventLoop(String name) throws ErrnoException {
        this.epoll = new Epoll();
        this.stop = new EventFd(Libc.EFD_NONBLOCK);
        epoll.add(stop.fd(), Epoll.EPOLLIN, STOP_TOKEN);
        this.thread = Thread.ofPlatform().name(name).daemon(true).unstarted(this::loop);
    }

    public void start() {
        thread.start();
    }

    /** Watches {@code fd}; returns a token for {@link #remove}. */
    public long add(int fd, int events, Handler handler) throws ErrnoException {
        long token = nextToken.getAndIncrement();
        handlers.put(token, handler);
        epoll.add(fd, events, token);
        return token;
    }

    /** Calls {@code onSignal} each time eventfd {@code eventFd} is signalled (its counter is drained first). */
    public long addEventFd(EventFd eventFd, Runnable onSignal) throws ErrnoException {
        return add(eventFd.fd(), Epoll.EPOLLIN, events -> {
            try {
                eventFd.drain();
            } catch (ErrnoException e) {
                if (e.errno() != Libc.EAGAIN) {
                    throw new IllegalStateException(e);
                }
                return;
            }
            onSignal.run();
        });
    }

    public void remove(int fd, long token) throws ErrnoException {
        epoll.remove(fd);
        handlers.remove(token);
    }

    private void loop() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment events = Epoll.eventBuffer(arena, 64);
            while (running) {
                int n = epoll.await(events, -1);
                for (int i = 0; i < n; i++) {
                    long token = Epoll.token(events, i);
                    if (token == STOP_TOKEN) {
                        return;
                    }
                    Handler h = handlers.get(token);
                    if (h != null) {
                        h.ready(Epoll.events(events, i));
                    }
                }
            }
        } catch (ErrnoException e) {
            throw new IllegalStateException("event loop failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void close() throws ErrnoException {
        running = false;
        stop.signal();
        try {
            thread.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        stop.close();
        epoll.close();
    }
}
