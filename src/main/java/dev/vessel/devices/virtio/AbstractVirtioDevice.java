package dev.vessel.devices.virtio;

import dev.vessel.devices.virtio.queue.DescriptorChain;
import dev.vessel.devices.virtio.queue.Virtqueue;
import dev.vessel.devices.virtio.queue.VirtqueueException;

import java.util.Objects;

/**
 * The plumbing most devices share: fixed identity and features, a byte-array configuration
 * space ({@link #config}, read-only to the driver unless {@link #writeConfig} is overridden), the
 * current {@link VirtioContext}, and dispatch of notifications to {@link #processQueue}, where a
 * {@link VirtqueueException} fails the device (DEVICE_NEEDS_RESET).
 *
 * <p>A request/response device is little more than:
 * <pre>{@code
 * protected void processQueue(int index, Virtqueue queue) throws VirtqueueException {
 *     drain(queue, chain -> {
 *         byte[] request = chain.reader().readAll();
 *         ChainWriter out = chain.writer();
 *         out.write(answer(request));
 *         return out.position();
 *     });
 * }
 * }</pre>
 * The threading contract is {@link VirtioDevice}'s: the callbacks here run on the worker.
 */
public abstract class AbstractVirtioDevice implements VirtioDevice {
    /** Handles one request and returns how many bytes it wrote into the chain's writable part. */
    @FunctionalInterface
    public interface RequestHandler {
        int handle(DescriptorChain chain) throws VirtqueueException;
    }

    private final int deviceType;
    private final long deviceFeatures;
    private final int[] queueMaxSizes;
    /** The configuration space the driver reads. Update it, then call {@link #configChanged()}. */
    protected final ConfigSpace config;
    private volatile VirtioTransport transport;
    private volatile VirtioContext context;

    protected AbstractVirtioDevice(int deviceType, long deviceFeatures, int[] queueMaxSizes, int configSize) {
        this.deviceType = deviceType;
        this.deviceFeatures = deviceFeatures;
        this.queueMaxSizes = queueMaxSizes.clone();
        this.config = new ConfigSpace(configSize);
    }

    @Override
    public final int deviceType() {
        return deviceType;
    }

    @Override
    public final long deviceFeatures() {
        return deviceFeatures;
    }

    @Override
    public final int queueCount() {
        return queueMaxSizes.length;
    }

    @Override
    public final int queueMaxSize(int index) {
        return index >= 0 && index < queueMaxSizes.length ? queueMaxSizes[index] : 0;
    }

    @Override
    public final int configSize() {
        return config.size();
    }

    @Override
    public int readConfig(int offset, int size) {
        return (int) config.read(offset, size);
    }

    /** Ignores the write: override for devices with writable configuration fields. */
    @Override
    public void writeConfig(int offset, int size, int value) {}

    @Override
    public final void attach(VirtioTransport transport) {
        this.transport = Objects.requireNonNull(transport);
    }

    @Override
    public final void activate(VirtioContext context) {
        this.context = context;
        onActivate(context);
    }

    @Override
    public final void queueNotify(int index) {
        VirtioContext ctx = context;
        if (ctx == null || !ctx.isLive()) {
            return;
        }
        Virtqueue queue = ctx.queue(index);
        if (queue == null) {
            return;
        }
        try {
            processQueue(index, queue);
        } catch (VirtqueueException e) {
            ctx.fail(e.getMessage());
        }
    }

    @Override
    public final void reset() {
        context = null;
        onReset();
    }

    /** DRIVER_OK: the queues are ready. Check here that the ones the device needs are enabled ({@link VirtioContext#fail} if not). */
    protected void onActivate(VirtioContext context) {}

    /** Queue {@code index} (enabled) may have work. A VirtqueueException fails the device. */
    protected abstract void processQueue(int index, Virtqueue queue) throws VirtqueueException;

    /** The driver reset the device: drop per-activation state (pending chains, buffered data). */
    protected void onReset() {}

    /** The current activation, or null before DRIVER_OK and after a reset. */
    protected final VirtioContext context() {
        return context;
    }

    /** Tells the driver the configuration space changed (see {@link VirtioTransport#configChanged()}). */
    protected final void configChanged() {
        VirtioTransport t = transport;
        if (t != null) {
            t.configChanged();
        }
    }

    /**
     * Pops chains and hands each to {@code handler}, returning it with the byte count the handler
     * reports, then raises the used-buffer interrupt if the driver wants one. At most one queue's
     * worth of chains per call, so that a driver that keeps adding cannot starve the other
     * queues: when that many were handled, processing continues in a new worker task.
     *
     * @return the number of chains handled
     */
    protected final int drain(Virtqueue queue, RequestHandler handler) throws VirtqueueException {
        VirtioContext ctx = context;
        int handled = 0;
        try {
            DescriptorChain chain;
            while (handled < queue.size() && (chain = queue.pop()) != null) {
                int written = handler.handle(chain);
                if (!chain.isUsed()) {
                    queue.addUsed(chain, written);
                }
                handled++;
            }
        } finally {
            if (ctx != null) {
                ctx.notifyIfNeeded(queue);
            }
        }
        if (handled == queue.size() && ctx != null) {
            int index = queue.index();
            ctx.execute(() -> queueNotify(index));
        }
        return handled;
    }
}
