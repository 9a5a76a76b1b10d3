package dev.vessel.devices.virtio;

import dev.vessel.devices.virtio.queue.Virtqueue;
import dev.vessel.memory.GuestMemory;

/**
 * What a device gets when the driver sets DRIVER_OK ({@link VirtioDevice#activate}), valid until
 * the driver resets the device ({@link VirtioDevice#reset}) or the device fails. After that every
 * method is a harmless no-op: queues return no chains and write nothing, signals raise nothing.
 * The signalling methods are safe from any thread; the queues belong to the device's worker.
 */
public interface VirtioContext {
    GuestMemory memory();

    /** The features the driver accepted: the device's own bits plus transport bits (VERSION_1, ...). */
    long features();

    default boolean hasFeature(int bit) {
        return VirtioFeatures.has(features(), bit);
    }

    /** The device's queue count ({@link VirtioDevice#queueCount()}). */
    int queueCount();

    /** Queue {@code index} if the driver enabled it (QueueReady), else null (also for an out-of-range index). */
    Virtqueue queue(int index);

    /** Raises a used-buffer interrupt unconditionally. Usually {@link #notifyIfNeeded} is what you want. */
    void signalUsed();

    /**
     * Raises a used-buffer interrupt if {@code queue}'s notification rule asks for one after the
     * chains returned since the last check ({@link Virtqueue#shouldNotify()}). Call after each batch.
     *
     * @return whether an interrupt was raised
     */
    boolean notifyIfNeeded(Virtqueue queue);

    /** Same as {@link VirtioTransport#configChanged()}. */
    void configChanged();

    /**
     * Puts the device into DEVICE_NEEDS_RESET and tells the driver (configuration-change
     * interrupt): for guest errors a device cannot recover from, e.g. a corrupt ring. The queues
     * stop at once; nothing more is delivered to the device until the driver resets it.
     */
    void fail(String reason);

    /**
     * Runs {@code task} on the device's worker, after what is already queued there, unless this
     * activation has ended by then (reset or failure): how a device's other threads (host input,
     * timers) hand work to the thread that owns the queues. Whatever the task throws fails the
     * device. Safe from any thread.
     */
    void execute(Runnable task);

    /** False once the device was reset or failed: stop working on this activation's queues. */
    boolean isLive();
}
