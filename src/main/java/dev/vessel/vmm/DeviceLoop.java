package dev.vessel.vmm;

import dev.vessel.sys.ErrnoException;

import java.util.List;
import java.util.Objects;
import java.util.concurrent.AbstractExecutorService;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * A device's worker that is also the event loop of its host descriptors and queue kicks
 * ({@link DeviceManager#addPolled}): one thread waits on them and does the device's work, so a
 * ready TAP or a guest's kick needs no hand-over to another thread. Shut down as any worker:
 * {@link #shutdown} lets the tasks queued so far run, {@link #awaitTermination} then closes the loop.
 */
final class DeviceLoop extends AbstractExecutorService {
    private static final System.Logger LOG = System.getLogger(DeviceLoop.class.getName());

    private final EventLoop loop;
    private final CountDownLatch drained = new CountDownLatch(1);
    private volatile boolean shutdown;
    private volatile boolean terminated;

    DeviceLoop(EventLoop loop) {
        this.loop = Objects.requireNonNull(loop, "loop");
    }

    EventLoop loop() {
        return loop;
    }

    @Override
    public void execute(Runnable command) {
        if (shutdown) {
            throw new RejectedExecutionException("the device's loop is shut down");
        }
        loop.execute(command);
    }

    @Override
    public synchronized void shutdown() {
        if (shutdown) {
            return;
        }
        shutdown = true;
        try {
            loop.execute(drained::countDown); // after every task queued before it
        } catch (RejectedExecutionException e) {
            drained.countDown();
        }
    }

    @Override
    public List<Runnable> shutdownNow() {
        shutdown();
        closeLoop();
        return List.of();
    }

    @Override
    public boolean isShutdown() {
        return shutdown;
    }

    @Override
    public boolean isTerminated() {
        return terminated;
    }

    @Override
    public boolean awaitTermination(long timeout, TimeUnit unit) throws InterruptedException {
        boolean done = drained.await(timeout, unit);
        if (done) {
            closeLoop();
        }
        return done;
    }

    private synchronized void closeLoop() {
        if (terminated) {
            return;
        }
        terminated = true;
        try {
            loop.close();
        } catch (ErrnoException e) {
            LOG.log(System.Logger.Level.DEBUG, "closing a device loop: " + e.getMessage());
        }
    }
}
