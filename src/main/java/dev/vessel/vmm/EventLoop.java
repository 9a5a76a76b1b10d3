package dev.vessel.vmm;

import dev.vessel.sys.Epoll;
import dev.vessel.sys.ErrnoException;
import dev.vessel.sys.EventFd;
import dev.vessel.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Map;
import java.util.Objects;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * The VM's event thread: one epoll loop over the eventfds KVM signals (ioeventfd queue kicks)
 * and other host descriptors. Handlers run on this thread and must not block; device work that
 * can block goes to the device's own worker.
 *
 * <h2>A failing handler</h2>
 * This one thread delivers every device's queue kicks, so nothing a handler throws may end it.
 * Each watch has an {@link Owner} (a device, or the VM itself): when a handler throws — an
 * exception or an Error — the loop logs it with the owner's name, tells the owner (a device fails
 * itself: DEVICE_NEEDS_RESET; the VM's fallback owner stops the VM with the reason), and goes on
 * with the other watches. A watch made with {@link #addEventFd} stays: its eventfd was drained
 * before the callback ran, so it cannot keep the loop busy, and the device works again once the
 * driver has reset it. A watch made with {@link #add} is dropped: its descriptor may still be
 * ready, and a handler that fails on it every time would keep the loop spinning.
 *
 * <h2>Tasks</h2>
 * The loop is also an {@link Executor}: a task runs on the loop's thread, after the handlers of the
 * readiness reports in hand. A device whose worker is its own loop (virtio-net: its TAP and its
 * kicks) then goes from a ready descriptor to its queue work without waking another thread. A
 * task from the loop's own thread costs no wake-up; one from another thread signals an eventfd
 * (once until the loop has seen it).
 */
public final class EventLoop implements AutoCloseable, Executor {
    /** Called when a watched descriptor is ready; gets the epoll event bits. */
    @FunctionalInterface
    public interface Handler {
        void ready(int events);
    }

    /**
     * Who a watch belongs to: {@code name} appears in messages, {@code onFailure} is told what a
     * handler of the watch threw (on the loop thread: it must not block either).
     */
    public record Owner(String name, Consumer<Throwable> onFailure) {
        public Owner {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(onFailure, "onFailure");
        }
    }

    private static final System.Logger LOG = System.getLogger(EventLoop.class.getName());
    private static final long STOP_TOKEN = 0;
    private static final long WAKE_TOKEN = -1;
    /** Tasks run in one go before the loop looks at its descriptors again. */
    private static final int TASK_BATCH = 64;

    /** One watched descriptor. */
    private record Watch(int fd, Handler handler, Owner owner, boolean keepOnFailure) {}

    /** An eventfd watch whose descriptor itself failed: the watch must go, or it keeps the loop busy. */
    private static final class BrokenEventFd extends RuntimeException {
        BrokenEventFd(ErrnoException cause) {
            super("eventfd read failed: " + cause.getMessage(), cause);
        }
    }

    private final String name;
    private final Owner fallback;
    private final Epoll epoll;
    private final EventFd stop;
    private final EventFd wake;
    private final Queue<Runnable> tasks = new ConcurrentLinkedQueue<>();
    /** Set by the first task from another thread since the loop last drained {@link #wake}. */
    private final AtomicBoolean wakeSignalled = new AtomicBoolean();
    private final Map<Long, Watch> watches = new ConcurrentHashMap<>();
    private final AtomicLong nextToken = new AtomicLong(1);
    private final Thread thread;
    private volatile boolean running = true;

    /** A loop whose watches without an owner of their own have their failures logged, nothing more. */
    public EventLoop(String name) throws ErrnoException {
        this(name, new Owner(name, failure -> {}));
    }

    /**
     * @param fallback the owner of watches added without one; also told if the loop itself fails
     *     (epoll_wait refuses), after which no watch is served any more
     */
    public EventLoop(String name, Owner fallback) throws ErrnoException {
        this.name = Objects.requireNonNull(name, "name");
        this.fallback = Objects.requireNonNull(fallback, "fallback");
        this.epoll = new Epoll();
        this.stop = new EventFd(Libc.EFD_NONBLOCK);
        epoll.add(stop.fd(), Epoll.EPOLLIN, STOP_TOKEN);
        this.wake = new EventFd(Libc.EFD_NONBLOCK);
        epoll.add(wake.fd(), Epoll.EPOLLIN, WAKE_TOKEN);
        this.thread = Thread.ofPlatform().name(name).daemon(true).unstarted(this::loop);
    }

    public void start() {
        thread.start();
    }

    /** Watches {@code fd} for the fallback owner; returns a token for {@link #remove}. */
    public long add(int fd, int events, Handler handler) throws ErrnoException {
        return add(fd, events, handler, fallback);
    }

    /** Watches {@code fd} for {@code owner}; returns a token for {@link #remove}. A handler that throws ends the watch. */
    public long add(int fd, int events, Handler handler, Owner owner) throws ErrnoException {
        return watch(new Watch(fd, Objects.requireNonNull(handler, "handler"), Objects.requireNonNull(owner, "owner"),
                false), events);
    }

    /** Calls {@code onSignal} each time eventfd {@code eventFd} is signalled (its counter is drained first); for the fallback owner. */
    public long addEventFd(EventFd eventFd, Runnable onSignal) throws ErrnoException {
        return addEventFd(eventFd, onSignal, fallback);
    }

    /**
     * Calls {@code onSignal} each time eventfd {@code eventFd} is signalled (its counter is drained
     * first). What {@code onSignal} throws goes to {@code owner}; the watch stays.
     */
    public long addEventFd(EventFd eventFd, Runnable onSignal, Owner owner) throws ErrnoException {
        Objects.requireNonNull(onSignal, "onSignal");
        Handler drainThenSignal = events -> {
            try {
                eventFd.drain();
            } catch (ErrnoException e) {
                if (e.errno() != Libc.EAGAIN) {
                    throw new BrokenEventFd(e);
                }
                return;
            }
            onSignal.run();
        };
        return watch(new Watch(eventFd.fd(), drainThenSignal, Objects.requireNonNull(owner, "owner"), true),
                Epoll.EPOLLIN);
    }

    private long watch(Watch w, int events) throws ErrnoException {
        long token = nextToken.getAndIncrement();
        watches.put(token, w);
        try {
            epoll.add(w.fd(), events, token);
        } catch (ErrnoException e) {
            watches.remove(token);
            throw e;
        }
        return token;
    }

    /** Changes what the watch {@code token} on {@code fd} waits for (epoll_ctl MOD), e.g. to re-arm a one-shot watch. */
    public void modify(int fd, long token, int events) throws ErrnoException {
        if (!watches.containsKey(token)) {
            throw new ErrnoException("epoll_ctl (the watch was dropped)", Libc.ENOENT);
        }
        epoll.modify(fd, events, token);
    }

    public void remove(int fd, long token) throws ErrnoException {
        epoll.remove(fd);
        watches.remove(token);
    }

    /**
     * Runs {@code task} on the loop's thread. What it throws is logged and told to the fallback
     * owner; the loop goes on.
     *
     * @throws RejectedExecutionException once the loop is closed
     */
    @Override
    public void execute(Runnable task) {
        Objects.requireNonNull(task, "task");
        if (!running) {
            throw new RejectedExecutionException("event loop " + name + " is closed");
        }
        tasks.add(task);
        if (Thread.currentThread() != thread && wakeSignalled.compareAndSet(false, true)) {
            try {
                wake.signal();
            } catch (ErrnoException e) {
                wakeSignalled.set(false);
                throw new RejectedExecutionException("event loop " + name + " cannot be woken: " + e.getMessage(), e);
            }
        }
    }

    /** Whether the calling thread is the loop's. */
    public boolean inLoop() {
        return Thread.currentThread() == thread;
    }

    /** Whether the loop's thread is running (tests). */
    boolean isAlive() {
        return thread.isAlive();
    }

    private void loop() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment events = Epoll.eventBuffer(arena, 64);
            while (true) { // ends on the stop token alone: close() must be able to wake the wait
                int n = epoll.await(events, tasks.isEmpty() ? -1 : 0);
                for (int i = 0; i < n; i++) {
                    long token = Epoll.token(events, i);
                    if (token == STOP_TOKEN) {
                        return;
                    }
                    if (token == WAKE_TOKEN) {
                        // Cleared after the drain (which may take a newer signal too) and before the
                        // tasks run: a task added since either runs below or signals again.
                        drainQuietly(wake);
                        wakeSignalled.set(false);
                        continue;
                    }
                    Watch w = watches.get(token);
                    if (w != null) {
                        try {
                            w.handler().ready(Epoll.events(events, i));
                        } catch (Throwable t) {
                            handlerFailed(token, w, t);
                        }
                    }
                }
                runTasks();
            }
        } catch (ErrnoException e) {
            if (running) {
                LOG.log(System.Logger.Level.ERROR, "event loop " + name + " failed: " + e.getMessage(), e);
                tell(fallback, new IllegalStateException("event loop " + name + " failed: " + e.getMessage(), e));
            }
        }
    }

    private void runTasks() {
        for (int i = 0; i < TASK_BATCH; i++) {
            Runnable task = tasks.poll();
            if (task == null) {
                return;
            }
            try {
                task.run();
            } catch (Throwable t) {
                LOG.log(System.Logger.Level.WARNING, "event loop " + name + ": a task failed: " + t, t);
                tell(fallback, t);
            }
        }
    }

    private static void drainQuietly(EventFd fd) {
        try {
            fd.drain();
        } catch (ErrnoException e) {
            // EAGAIN: another report drained it already; nothing else can fail on a live eventfd.
        }
    }

    private void handlerFailed(long token, Watch w, Throwable t) {
        boolean drop = !w.keepOnFailure() || t instanceof BrokenEventFd;
        LOG.log(System.Logger.Level.WARNING, "event loop " + name + ": a handler of " + w.owner().name() + " failed: "
                + t + (drop ? "; its descriptor is no longer watched" : ""), t);
        if (drop) {
            watches.remove(token);
            try {
                epoll.remove(w.fd());
            } catch (ErrnoException e) {
                // Already closed by its owner: nothing left to watch.
            }
        }
        tell(w.owner(), t);
    }

    private void tell(Owner owner, Throwable t) {
        try {
            owner.onFailure().accept(t);
        } catch (Throwable again) {
            LOG.log(System.Logger.Level.ERROR, "event loop " + name + ": telling " + owner.name() + " of a failure ("
                    + t + ") failed too", again);
        }
    }

    @Override
    public void close() throws ErrnoException {
        running = false;
        stop.signal();
        try {
            if (thread.isAlive() && !inLoop() && !thread.join(java.time.Duration.ofSeconds(5))) {
                LOG.log(System.Logger.Level.WARNING, "event loop " + name + " did not stop within 5 s (a handler blocks)");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        tasks.clear();
        stop.close();
        wake.close();
        epoll.close();
    }
}
