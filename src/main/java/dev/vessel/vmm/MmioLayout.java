package dev.vessel.vmm;

/**
 * Where virtio-mmio devices go: a window each in the 32-bit MMIO hole, and an IOAPIC pin each.
 * Pins avoid the PIT (0, 2), COM1 (4) and the RTC (8); the i8042's pins (1, 12) are free because
 * Vessel wires no keyboard or mouse, but are still skipped so a guest probing them sees nothing.
 */
public final class MmioLayout {
    private MmioLayout() {}

    public static final long VIRTIO_BASE = 0xD000_0000L;
    /** One 4 KiB page per device (the virtio-mmio register window needs 0x200 of it). */
    public static final long VIRTIO_STRIDE = 0x1000;
    public static final long VIRTIO_WINDOW = 0x200;
    private static final int[] GSIS = {5, 6, 7, 9, 10, 11, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23};

    public static int maxDevices() {
        return GSIS.length;
    }

    public static long base(int index) {
        check(index);
        return VIRTIO_BASE + index * VIRTIO_STRIDE;
    }

    public static int gsi(int index) {
        check(index);
        return GSIS[index];
    }

    private static void check(int index) {
        if (index < 0 || index >= GSIS.length) {
            throw new IllegalArgumentException("at most " + GSIS.length + " virtio devices per VM");
        }
    }
}
