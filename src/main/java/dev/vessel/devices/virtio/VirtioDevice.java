package dev.vessel.devices.virtio;

import dev.vessel.devices.virtio.queue.Virtqueue;

/**
 * A virtio device type (block, console, vsock, ...) as the transport sees it. The transport
 * ({@code VirtioMmioTransport}) owns everything generic: registers, the status state machine,
 * feature negotiation (it adds VIRTIO_F_VERSION_1, VIRTIO_F_RING_EVENT_IDX and
 * VIRTIO_F_INDIRECT_DESC itself and requires VERSION_1), queue setup and validation, interrupts,
 * and the device's worker thread. {@link AbstractVirtioDevice} implements the common parts.
 *
 * <h2>Threading contract</h2>
 * <ul>
 *   <li>{@link #activate}, {@link #queueNotify} and {@link #reset} run on the device's worker, one
 *   at a time, in order, never on a vCPU thread: the device needs no locking among them. They may
 *   take time (disk I/O) but must not block indefinitely (waiting for host input is for another
 *   thread, which then hands the work back with {@link VirtioContext#execute}). A device may also
 *   use its queues from threads of its own, as long as it serialises its use of each
 *   {@link Virtqueue} itself and stops before {@link #reset} returns.</li>
 *   <li>{@link #readConfig}, {@link #writeConfig} and {@link #acceptFeatures} run on vCPU threads,
 *   concurrently with the worker: make the configuration state thread-safe (e.g. {@link ConfigSpace}).
 *   They must not wait for the worker.</li>
 *   <li>{@link #deviceType}, {@link #deviceFeatures}, {@link #queueCount}, {@link #queueMaxSize},
 *   {@link #configSize} and {@link #maxChainBytes} are read once, when the transport is built.</li>
 *   <li>Exceptions: anything thrown out of a worker callback (an exception or an Error) fails the
 *   device (DEVICE_NEEDS_RESET); out of a configuration access it is swallowed (the guest reads 0).
 *   Neither is a way to report guest errors: use {@link VirtioContext#fail} or a request status
 *   (the package documentation gives the policy).</li>
 *   <li>After {@link #reset} returns, the device holds no chain or queue of the old activation and
 *   writes no guest memory; the transport waits for it before the driver's reset write completes,
 *   for a bounded time (a reset that takes longer leaves the device needing reset until it is done).</li>
 * </ul>
 */
public interface VirtioDevice {
    /** Device IDs (virtio 1.2 §5). */
    int TYPE_NET = 1;
    int TYPE_BLOCK = 2;
    int TYPE_CONSOLE = 3;
    int TYPE_ENTROPY = 4;
    int TYPE_BALLOON = 5;
    int TYPE_VSOCK = 19;

    /** The virtio device ID. */
    int deviceType();

    /**
     * Device-specific feature bits the device offers (bits 0..23 and 50..63; the transport clears
     * bits 24..49 and sets its own there).
     */
    long deviceFeatures();

    /** The number of virtqueues. */
    int queueCount();

    /** QueueNumMax of queue {@code index}: a power of two up to 32768 (Linux requires that), or 0 for none. */
    int queueMaxSize(int index);

    /** The size of the device configuration space in bytes, at most 256 on virtio-mmio. */
    int configSize();

    /**
     * Reads {@code size} (1, 2 or 4) bytes of configuration space at {@code offset}, little-endian.
     * The transport guarantees {@code 0 <= offset} and {@code offset + size <= configSize()}.
     */
    int readConfig(int offset, int size);

    /** Writes the low {@code size} (1, 2 or 4) bytes of {@code value} at {@code offset}; bounds as for reads. */
    void writeConfig(int offset, int size, int value);

    /**
     * Whether the device works with these negotiated features (only bits it offered, plus
     * VERSION_1). Returning false refuses FEATURES_OK. vCPU thread.
     */
    default boolean acceptFeatures(long features) {
        return true;
    }

    /** Called once by the transport's constructor, before the guest can reach the device. */
    default void attach(VirtioTransport transport) {}

    /** The cap on one descriptor chain's total length, 1..Integer.MAX_VALUE. */
    default long maxChainBytes() {
        return Virtqueue.DEFAULT_MAX_CHAIN_BYTES;
    }

    /**
     * The driver set DRIVER_OK: start using the enabled queues of {@code context}. Worker thread.
     * The transport then calls {@link #queueNotify} once for each enabled queue, since the driver
     * may have made buffers available before.
     */
    void activate(VirtioContext context);

    /**
     * The driver notified queue {@code index} (which it enabled), or the transport wants the
     * device to look at it: process what is available. Notifications may be spurious, coalesced
     * (several kicks, one call) or arrive while the device is already busy. Worker thread.
     */
    void queueNotify(int index);

    /** The driver reset the device (or the VM is stopping): drop all state, forget the queues. Worker thread. */
    void reset();
}
