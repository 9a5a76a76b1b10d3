package dev.vessel.arch.x86.acpi.aml;

/**
 * Resource descriptors (ACPI 6.5, section 6.4 "Resource Data Types for ACPI") and the
 * ResourceTemplate buffer that holds them, as a device's {@code _CRS} returns. Only the
 * descriptors the VMM's devices use: fixed I/O ports, legacy ISA IRQs, one fixed 32-bit MMIO
 * window and one extended interrupt.
 */
public final class ResourceTemplate {
    private ResourceTemplate() {}

    /** How an extended interrupt is signalled on its IOAPIC pin. */
    public enum Trigger { EDGE, LEVEL }

    static final int IO_PORT_TAG = 0x47;
    static final int IO_DECODE_16 = 0x01;
    static final int IRQ_NO_FLAGS_TAG = 0x22;
    static final int END_TAG = 0x79;
    static final int MEMORY32_FIXED_TAG = 0x86;
    static final int MEMORY32_FIXED_LENGTH = 9;
    static final int MEMORY_READ_WRITE = 0x01;
    static final int EXTENDED_INTERRUPT_TAG = 0x89;
    static final int EXTENDED_INTERRUPT_LENGTH = 6;
    static final int INTERRUPT_CONSUMER = 0x01;
    static final int INTERRUPT_EDGE = 0x02;
    static final int ISA_IRQS = 16;

    /**
     * {@code IO(Decode16, port, port, 1, length)}: a fixed range of {@code length} I/O ports that
     * decodes all 16 address bits.
     */
    public static byte[] io(int port, int length) {
        if (port < 0 || port > 0xFFFF || length < 1 || length > 0xFF || port + length > 0x10000) {
            throw new IllegalArgumentException("bad I/O range: port " + port + " length " + length);
        }
        return new byte[] {IO_PORT_TAG, IO_DECODE_16, (byte) port, (byte) (port >>> 8), (byte) port,
            (byte) (port >>> 8), 1, (byte) length};
    }

    /** {@code IRQNoFlags() {irq}}: an ISA IRQ, which is edge-triggered, active-high and exclusive. */
    public static byte[] irqNoFlags(int irq) {
        if (irq < 0 || irq >= ISA_IRQS) {
            throw new IllegalArgumentException("ISA IRQs are 0..15: " + irq);
        }
        int mask = 1 << irq;
        return new byte[] {IRQ_NO_FLAGS_TAG, (byte) mask, (byte) (mask >>> 8)};
    }

    /** {@code Memory32Fixed(ReadWrite, base, length)}: an MMIO window below 4 GiB. */
    public static byte[] memory32Fixed(long base, long length) {
        if (base < 0 || length < 1 || base + length > 0x1_0000_0000L) {
            throw new IllegalArgumentException("bad 32-bit memory range: base " + Long.toHexString(base)
                    + " length " + Long.toHexString(length));
        }
        byte[] b = new byte[3 + MEMORY32_FIXED_LENGTH];
        b[0] = (byte) MEMORY32_FIXED_TAG;
        b[1] = MEMORY32_FIXED_LENGTH;
        b[3] = MEMORY_READ_WRITE;
        putInt(b, 4, (int) base);
        putInt(b, 8, (int) length);
        return b;
    }

    /**
     * {@code Interrupt(ResourceConsumer, trigger, ActiveHigh, Exclusive) {gsi}}: one GSI, which on
     * x86 is an IOAPIC pin; KVM asserts its lines active-high.
     */
    public static byte[] interrupt(int gsi, Trigger trigger) {
        if (gsi < 0) {
            throw new IllegalArgumentException("negative GSI: " + gsi);
        }
        byte[] b = new byte[3 + EXTENDED_INTERRUPT_LENGTH];
        b[0] = (byte) EXTENDED_INTERRUPT_TAG;
        b[1] = EXTENDED_INTERRUPT_LENGTH;
        b[3] = (byte) (INTERRUPT_CONSUMER | (trigger == Trigger.EDGE ? INTERRUPT_EDGE : 0));
        b[4] = 1; // interrupt table length
        putInt(b, 5, gsi);
        return b;
    }

    /**
     * {@code ResourceTemplate() { descriptors }}: a Buffer of the descriptors followed by the End
     * Tag, whose checksum byte makes the whole template sum to zero.
     */
    public static byte[] of(byte[]... descriptors) {
        byte[] body = Aml.concat(Aml.concat(descriptors), new byte[] {END_TAG, 0});
        int sum = 0;
        for (byte x : body) {
            sum += x;
        }
        body[body.length - 1] = (byte) -sum;
        return Aml.buffer(body);
    }

    private static void putInt(byte[] b, int offset, int value) {
        for (int k = 0; k < 4; k++) {
            b[offset + k] = (byte) (value >>> (8 * k));
        }
    }
}
