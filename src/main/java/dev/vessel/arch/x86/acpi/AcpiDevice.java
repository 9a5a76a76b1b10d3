package dev.vessel.arch.x86.acpi;

import dev.vessel.arch.x86.acpi.aml.Aml;
import dev.vessel.arch.x86.acpi.aml.ResourceTemplate.Trigger;

/**
 * A memory-mapped device the DSDT describes under {@code \_SB}: a string {@code _HID}, a
 * {@code _UID}, and a {@code _CRS} of one Memory32Fixed window plus one extended interrupt on an
 * IOAPIC pin (active-high, exclusive).
 *
 * @param name the 4-character ACPI name of the device object, e.g. "V000"
 * @param hid the hardware ID Linux matches drivers against, e.g. {@link #VIRTIO_MMIO_HID}
 * @param uid the unique ID among devices with the same {@code hid}
 * @param mmioBase the guest-physical base of the MMIO window, which must lie below 4 GiB
 * @param mmioLength the window's length in bytes
 * @param gsi the IOAPIC pin the device interrupts on
 * @param trigger edge for interrupts the VMM pulses (irqfd), level for ones it holds (KVM_IRQ_LINE)
 */
public record AcpiDevice(String name, String hid, int uid, long mmioBase, long mmioLength, int gsi,
        Trigger trigger) {
    /** The _HID Linux's virtio_mmio driver matches (virtio_mmio_acpi_match). */
    public static final String VIRTIO_MMIO_HID = "LNRO0005";
    /** KVM's in-kernel IOAPIC has 24 pins, GSIs 0..23, all behind the MADT's single IOAPIC. */
    public static final int IOAPIC_PINS = 24;

    public AcpiDevice {
        if (name.length() != 4 || !Aml.isNameSeg(name)) {
            throw new IllegalArgumentException("ACPI device names are 4 characters of A-Z, 0-9, _: " + name);
        }
        if (!hid.matches("[A-Z0-9_]{7,8}")) {
            throw new IllegalArgumentException("not a PNP or ACPI hardware ID: " + hid);
        }
        if (uid < 0) {
            throw new IllegalArgumentException("negative _UID: " + uid);
        }
        if (mmioBase < 0 || mmioLength < 1 || mmioBase + mmioLength > 0x1_0000_0000L) {
            throw new IllegalArgumentException("MMIO window must be non-empty and below 4 GiB: base 0x"
                    + Long.toHexString(mmioBase) + " length 0x" + Long.toHexString(mmioLength));
        }
        if (gsi < 0 || gsi >= IOAPIC_PINS) {
            throw new IllegalArgumentException("GSI must be an IOAPIC pin 0.." + (IOAPIC_PINS - 1) + ": " + gsi);
        }
    }

    /**
     * The virtio-mmio transport number {@code index} (0..4095), named "V" and three hex digits.
     * Edge-triggered, as the VMM signals it with an irqfd: the driver reads and acknowledges
     * InterruptStatus on each interrupt, so it needs no level to be held.
     */
    public static AcpiDevice virtioMmio(int index, long mmioBase, long mmioLength, int gsi) {
        if (index < 0 || index > 0xFFF) {
            throw new IllegalArgumentException("virtio-mmio index must be 0..4095: " + index);
        }
        return new AcpiDevice(String.format("V%03X", index), VIRTIO_MMIO_HID, index, mmioBase, mmioLength, gsi,
                Trigger.EDGE);
    }
}
