package dev.vessel.arch.x86.acpi;

import java.nio.ByteBuffer;

/**
 * The Fixed ACPI Description Table (signature FACP; ACPI 6.5, 5.2.9), version 6.4, for a
 * hardware-reduced platform: no PM1/GPE blocks, no SCI, no PM timer and no FACS, so the guest
 * enters S5 through SLEEP_CONTROL_REG and resets through RESET_REG, both at the
 * {@link PowerPort}.
 */
final class Fadt {
    private Fadt() {}

    static final String SIGNATURE = "FACP";
    static final int REVISION = 6;
    static final int MINOR_REVISION = 4;
    static final int LENGTH = 276;

    static final int OFF_IAPC_BOOT_ARCH = 109;
    static final int OFF_FLAGS = 112;
    static final int OFF_RESET_REG = 116;
    static final int OFF_RESET_VALUE = 128;
    static final int OFF_MINOR_REVISION = 131;
    static final int OFF_X_DSDT = 140;
    static final int OFF_SLEEP_CONTROL_REG = 244;
    static final int OFF_SLEEP_STATUS_REG = 256;
    static final int OFF_HYPERVISOR_VENDOR_ID = 268;

    /** Flags: RESET_REG is valid. */
    static final int FLAG_RESET_REG_SUP = 1 << 10;
    /** Flags: no fixed-feature power button (nor any button at all). */
    static final int FLAG_PWR_BUTTON = 1 << 4;
    /** Flags: no fixed-feature sleep button. */
    static final int FLAG_SLP_BUTTON = 1 << 5;
    /** Flags: ACPI fixed hardware is absent; Linux then also skips the 8259 PIC and the PIT. */
    static final int FLAG_HW_REDUCED_ACPI = 1 << 20;
    static final int FLAGS = FLAG_HW_REDUCED_ACPI | FLAG_RESET_REG_SUP | FLAG_PWR_BUTTON | FLAG_SLP_BUTTON;

    /** IA-PC boot architecture: ISA-style devices (COM1 and the RTC at their legacy ports) exist. */
    static final int BOOT_LEGACY_DEVICES = 1 << 0;
    /** IA-PC boot architecture: no VGA. Bit 1 (8042) stays clear: there is no keyboard controller. */
    static final int BOOT_VGA_NOT_PRESENT = 1 << 2;
    static final int IAPC_BOOT_ARCH = BOOT_LEGACY_DEVICES | BOOT_VGA_NOT_PRESENT;

    static final String HYPERVISOR_VENDOR_ID = "VESSEL";

    /** Generic Address Structure (ACPI 6.5, 5.2.3.2) fields. */
    static final int GAS_SPACE_SYSTEM_IO = 1;
    static final int GAS_ACCESS_BYTE = 1;

    static byte[] build(int powerPort, long dsdtAddress) {
        ByteBuffer b = SdtHeader.allocate(SIGNATURE, LENGTH, REVISION);
        // FIRMWARE_CTRL (36) and X_FIRMWARE_CTRL (132) stay 0: hardware-reduced platforms have no
        // FACS. The 32-bit DSDT (40) stays 0 too: X_DSDT holds the address and takes precedence.
        // SCI_INT and every PM1/PM2/PM timer/GPE block stay 0: that hardware does not exist.
        b.putShort(OFF_IAPC_BOOT_ARCH, (short) IAPC_BOOT_ARCH);
        b.putInt(OFF_FLAGS, FLAGS);
        putIoPort8(b, OFF_RESET_REG, powerPort);
        b.put(OFF_RESET_VALUE, (byte) PowerPort.RESET);
        b.put(OFF_MINOR_REVISION, (byte) MINOR_REVISION);
        b.putLong(OFF_X_DSDT, dsdtAddress);
        putIoPort8(b, OFF_SLEEP_CONTROL_REG, powerPort);
        putIoPort8(b, OFF_SLEEP_STATUS_REG, powerPort);
        SdtHeader.putAscii(b, OFF_HYPERVISOR_VENDOR_ID, HYPERVISOR_VENDOR_ID, 8);
        return SdtHeader.finish(b);
    }

    /** A Generic Address Structure for one byte-wide register in system I/O space. */
    private static void putIoPort8(ByteBuffer b, int offset, int port) {
        b.put(offset, (byte) GAS_SPACE_SYSTEM_IO);
        b.put(offset + 1, (byte) 8); // register bit width
        b.put(offset + 2, (byte) 0); // bit offset
        b.put(offset + 3, (byte) GAS_ACCESS_BYTE);
        b.putLong(offset + 4, port);
    }
}
