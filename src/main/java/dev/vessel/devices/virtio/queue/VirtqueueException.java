package dev.vessel.devices.virtio.queue;

/**
 * The driver put something invalid in a virtqueue: a descriptor index out of range, a loop, a
 * buffer outside guest RAM, more available entries than the queue holds, a malformed indirect
 * table. Every Vessel device fails for it ({@code VirtioContext.fail}, which sets
 * DEVICE_NEEDS_RESET): the policy is in the package {@code dev.vessel.devices.virtio}.
 *
 * <p>When the error concerns one descriptor chain whose head index is valid, {@link #head()} names
 * it: the device may still return that head to the driver with {@link Virtqueue#addUsed(int, int)}
 * (length 0) so the driver gets its descriptors back.
 */
public final class VirtqueueException extends Exception {
    private final int head;

    public VirtqueueException(String message) {
        this(message, -1);
    }

    public VirtqueueException(String message, int head) {
        super(message);
        this.head = head;
    }

    /** The head index of the chain this error is about, or -1 when it concerns no (valid) chain. */
    public int head() {
        return head;
    }

    /** Whether {@link #head()} names a chain the device may return with {@link Virtqueue#addUsed(int, int)}. */
    public boolean hasHead() {
        return head >= 0;
    }
}
