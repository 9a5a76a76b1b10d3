package dev.vessel.devices.virtio.vsock;

import java.io.IOException;
import java.nio.channels.CancelledKeyException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.Objects;
import java.util.concurrent.Executor;

/**
 * The device's readiness thread: one NIO {@link Selector} over the host-side sockets (the listener
 * and every connection). It does no I/O itself. When a key is ready it clears the key's interest
 * set (so a ready socket does not spin the loop while the work is queued) and hands
 * {@code (attachment, readyOps)} to the device's worker through {@code executor}; the worker does
 * the I/O, non-blocking, and sets the interest it wants next with {@link #interest}.
 *
 * <p>{@link #register} and {@link #interest} are for the worker; the loop runs on its own thread
 * until {@link #close}.
 */
final class HostPoller implements AutoCloseable {
    /** Gets a ready key's attachment and ready set, on the worker. */
    @FunctionalInterface
    interface Handler {
        void ready(Object attachment, int readyOps);
    }

    private static final System.Logger LOG = System.getLogger(HostPoller.class.getName());

    private final Selector selector;
    private final Executor worker;
    private final Handler handler;
    private final Thread thread;
    private volatile boolean stopping;

    HostPoller(String name, Executor worker, Handler handler) throws IOException {
        this.selector = Selector.open();
        this.worker = Objects.requireNonNull(worker);
        this.handler = Objects.requireNonNull(handler);
        this.thread = Thread.ofPlatform().name(name).daemon(true).unstarted(this::loop);
    }

    void start() {
        thread.start();
    }

    /** Watches {@code channel} (non-blocking) for {@code ops}. */
    SelectionKey register(SelectableChannel channel, int ops, Object attachment) throws ClosedChannelException {
        SelectionKey key = channel.register(selector, ops, attachment);
        selector.wakeup();
        return key;
    }

    /** Sets what {@code key} waits for; a no-op for a cancelled key or when nothing changes. */
    void interest(SelectionKey key, int ops) {
        if (key == null) {
            return;
        }
        try {
            if (key.interestOps() != ops) {
                key.interestOps(ops);
                if (ops != 0) {
                    selector.wakeup();
                }
            }
        } catch (CancelledKeyException e) {
            // The channel was closed.
        }
    }

    /** Wakes the loop so that it drops the keys of closed channels at once. */
    void wakeup() {
        selector.wakeup();
    }

    Thread thread() {
        return thread;
    }

    private void loop() {
        try {
            while (!stopping) {
                selector.select(key -> {
                    try {
                        int ready = key.readyOps();
                        key.interestOps(0);
                        Object attachment = key.attachment();
                        worker.execute(() -> handler.ready(attachment, ready));
                    } catch (CancelledKeyException e) {
                        // Closed meanwhile.
                    }
                });
            }
        } catch (IOException | RuntimeException e) {
            if (!stopping) {
                LOG.log(System.Logger.Level.WARNING, "vsock host poller stopped: " + e, e);
            }
        }
    }

    /** Stops the loop, waits for the thread (bounded) and closes the selector, deregistering every channel. */
    @Override
    public void close() {
        stopping = true;
        selector.wakeup();
        if (thread.isAlive() && thread != Thread.currentThread()) {
            try {
                thread.join(5_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            selector.close();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "closing the vsock selector: " + e, e);
        }
    }
}
