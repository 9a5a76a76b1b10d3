package dev.vessel.arch.x86.acpi;

import java.nio.ByteBuffer;

/**
 * The guest's ACPI tables as one contiguous image: RSDP, XSDT, FADT, MADT and DSDT, in that
 * order, each 16-byte aligned, with every pointer already set for the image's guest-physical base.
 *
 * <p>The VMM copies {@link #image()} to {@link #base()} and hands {@link #rsdpAddress()} to the
 * kernel (boot_params.acpi_rsdp_addr). The RSDP sits at the base itself, so placing the image at
 * {@code BootLayout.ACPI_TABLES} (0xE0000) also lets the legacy scan of 0xE0000..0xFFFFF find it;
 * that area is reserved in e820, which keeps the kernel from reusing the tables' memory. The
 * image is small: under 3 KiB for 255 vCPUs, plus about 100 bytes per device.
 */
public final class AcpiTables {
    static final int TABLE_ALIGNMENT = 16;

    private final long base;
    private final byte[] image;

    private AcpiTables(long base, byte[] image) {
        this.base = base;
        this.image = image;
    }

    /** Lays out the tables for {@code config} at guest-physical {@code base}, a multiple of 16. */
    public static AcpiTables build(AcpiConfig config, long base) {
        if (base < 0 || base % Rsdp.ALIGNMENT != 0) {
            throw new IllegalArgumentException("the RSDP must be 16-byte aligned: 0x" + Long.toHexString(base));
        }
        byte[] madt = Madt.build(config.cpus());
        byte[] dsdt = Dsdt.build(config);
        int xsdtOffset = align(Rsdp.LENGTH);
        int fadtOffset = align(xsdtOffset + Xsdt.length(2));
        int madtOffset = align(fadtOffset + Fadt.LENGTH);
        int dsdtOffset = align(madtOffset + madt.length);

        ByteBuffer image = ByteBuffer.allocate(dsdtOffset + dsdt.length);
        image.put(0, Rsdp.build(base + xsdtOffset));
        image.put(xsdtOffset, Xsdt.build(base + fadtOffset, base + madtOffset));
        image.put(fadtOffset, Fadt.build(config.powerPort(), base + dsdtOffset));
        image.put(madtOffset, madt);
        image.put(dsdtOffset, dsdt);
        return new AcpiTables(base, image.array());
    }

    /** The guest-physical address the image must be copied to. */
    public long base() {
        return base;
    }

    /** The guest-physical address of the RSDP, for boot_params.acpi_rsdp_addr; equal to {@link #base()}. */
    public long rsdpAddress() {
        return base;
    }

    /** A copy of the image to write into guest memory at {@link #base()}. */
    public byte[] image() {
        return image.clone();
    }

    private static int align(int offset) {
        return (offset + TABLE_ALIGNMENT - 1) & -TABLE_ALIGNMENT;
    }
}
