package dev.vessel.devices.virtio;

/** The bits of the device status field (virtio 1.2 §2.1). */
public final class VirtioStatus {
    /** The guest found the device. */
    public static final int ACKNOWLEDGE = 1;
    /** The guest knows how to drive it. */
    public static final int DRIVER = 2;
    /** The driver is set up and ready: the device is live. */
    public static final int DRIVER_OK = 4;
    /** Feature negotiation is complete (only set if the device accepted the driver's features). */
    public static final int FEATURES_OK = 8;
    /** Set by the device: it hit an error it cannot recover from; the driver must reset it. */
    public static final int DEVICE_NEEDS_RESET = 64;
    /** Set by the driver: it gave up on the device. */
    public static final int FAILED = 128;

    private VirtioStatus() {}

    /** A readable list of the bits in {@code status}, e.g. "ACKNOWLEDGE|DRIVER". */
    public static String describe(int status) {
        StringBuilder b = new StringBuilder();
        String[] names = {"ACKNOWLEDGE", "DRIVER", "DRIVER_OK", "FEATURES_OK", "0x10", "0x20", "DEVICE_NEEDS_RESET",
            "FAILED"};
        for (int i = 0; i < 8; i++) {
            if ((status & (1 << i)) != 0) {
                b.append(b.isEmpty() ? "" : "|").append(names[i]);
            }
        }
        return b.isEmpty() ? "0" : b.toString();
    }
}
