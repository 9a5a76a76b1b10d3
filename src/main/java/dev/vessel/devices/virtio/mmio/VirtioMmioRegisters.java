package dev.vessel.devices.virtio.mmio;

/**
 * Register offsets of the virtio-mmio version 2 layout (virtio 1.2 §4.2.2, Linux's
 * include/uapi/linux/virtio_mmio.h). All are 32 bits wide; the device configuration space
 * starts at {@link #CONFIG}.
 */
public final class VirtioMmioRegisters {
    /** R: 0x74726976, "virt". */
    public static final int MAGIC_VALUE = 0x000;
    /** R: 2 (1 was the legacy layout). */
    public static final int VERSION = 0x004;
    /** R: the virtio device type; 0 means no device. */
    public static final int DEVICE_ID = 0x008;
    /** R: the vendor. */
    public static final int VENDOR_ID = 0x00c;
    /** R: 32 bits of the offered features, selected by DeviceFeaturesSel. */
    public static final int DEVICE_FEATURES = 0x010;
    /** W: which 32 bits DeviceFeatures shows (0: bits 0..31, 1: bits 32..63). */
    public static final int DEVICE_FEATURES_SEL = 0x014;
    /** W: 32 bits of the accepted features, selected by DriverFeaturesSel. */
    public static final int DRIVER_FEATURES = 0x020;
    /** W: which 32 bits DriverFeatures sets. */
    public static final int DRIVER_FEATURES_SEL = 0x024;
    /** W: the queue the Queue* registers address. */
    public static final int QUEUE_SEL = 0x030;
    /** R: the selected queue's maximum size, 0 if it does not exist. */
    public static final int QUEUE_NUM_MAX = 0x034;
    /** W: the selected queue's size. */
    public static final int QUEUE_NUM = 0x038;
    /** RW: the selected queue is set up (1) or not (0). */
    public static final int QUEUE_READY = 0x044;
    /** W: the driver kicks the queue whose index it writes. */
    public static final int QUEUE_NOTIFY = 0x050;
    /** R: bit 0 used buffer, bit 1 configuration change. */
    public static final int INTERRUPT_STATUS = 0x060;
    /** W: clears the InterruptStatus bits written. */
    public static final int INTERRUPT_ACK = 0x064;
    /** RW: the device status; writing 0 resets the device. */
    public static final int STATUS = 0x070;
    /** W: the selected queue's descriptor table address, low and high halves. */
    public static final int QUEUE_DESC_LOW = 0x080;
    public static final int QUEUE_DESC_HIGH = 0x084;
    /** W: the selected queue's available ("driver") ring address. */
    public static final int QUEUE_DRIVER_LOW = 0x090;
    public static final int QUEUE_DRIVER_HIGH = 0x094;
    /** W: the selected queue's used ("device") ring address. */
    public static final int QUEUE_DEVICE_LOW = 0x0a0;
    public static final int QUEUE_DEVICE_HIGH = 0x0a4;
    /** W: shared memory region selector. */
    public static final int SHM_SEL = 0x0ac;
    /** R: the selected shared memory region's length; all ones: no such region. */
    public static final int SHM_LEN_LOW = 0x0b0;
    public static final int SHM_LEN_HIGH = 0x0b4;
    /** R: the selected shared memory region's base. */
    public static final int SHM_BASE_LOW = 0x0b8;
    public static final int SHM_BASE_HIGH = 0x0bc;
    /** RW: per-queue reset (VIRTIO_F_RING_RESET, not offered). */
    public static final int QUEUE_RESET = 0x0c0;
    /** R: changes whenever the device changed its configuration space. */
    public static final int CONFIG_GENERATION = 0x0fc;
    /** The device configuration space starts here. */
    public static final int CONFIG = 0x100;

    private VirtioMmioRegisters() {}
}
