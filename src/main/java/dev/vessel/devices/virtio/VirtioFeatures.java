package dev.vessel.devices.virtio;

/**
 * Virtio feature bit numbers that are not device-specific (virtio 1.2 §6), and helpers. Bits
 * 0..23 and 50..127 belong to the device type; bits 24..49 to the transport and the queues,
 * which the transport alone offers.
 */
public final class VirtioFeatures {
    /** Descriptors may point at indirect descriptor tables. Offered by the transport. */
    public static final int INDIRECT_DESC = 28;
    /** used_event / avail_event notification suppression. Offered by the transport. */
    public static final int RING_EVENT_IDX = 29;
    /** Virtio 1.x (non-legacy) device. Offered, and required from the driver, by the transport. */
    public static final int VERSION_1 = 32;
    /** The device accesses memory through an IOMMU. Not offered. */
    public static final int ACCESS_PLATFORM = 33;
    /** Packed virtqueues. Not offered. */
    public static final int RING_PACKED = 34;
    /** Buffers are used in the order they were made available. Not offered. */
    public static final int IN_ORDER = 35;
    /** Notifications carry extra data. Not offered: QueueNotify carries just the queue index. */
    public static final int NOTIFICATION_DATA = 38;
    /** Per-queue reset. Not offered. */
    public static final int RING_RESET = 40;

    /** Bits 24..49: reserved for the transport and queue mechanisms; a device cannot offer them. */
    public static final long TRANSPORT_BITS = ((1L << 50) - 1) & ~((1L << 24) - 1);

    private VirtioFeatures() {}

    /** The mask of feature {@code bit} (0..63). */
    public static long bit(int bit) {
        if (bit < 0 || bit > 63) {
            throw new IllegalArgumentException("feature bit out of range: " + bit);
        }
        return 1L << bit;
    }

    /** Whether {@code features} has {@code bit}. */
    public static boolean has(long features, int bit) {
        return bit >= 0 && bit < 64 && (features & (1L << bit)) != 0;
    }
}
