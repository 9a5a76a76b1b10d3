package dev.vessel.arch.x86.acpi;

/**
 * The one-byte I/O port through which a hardware-reduced ACPI guest powers off and resets: the
 * FADT names it as SLEEP_CONTROL_REG, SLEEP_STATUS_REG and RESET_REG at once, so the VMM needs a
 * single port device that compares each byte written against {@link #POWER_OFF} and
 * {@link #RESET}, ignores every other value and reads as 0.
 *
 * <p>What Linux (ACPICA's acpi_hw_extended_sleep and acpi_reset) writes there:
 * <ul>
 *   <li>on power-off, first {@link #WAKE_STATUS} to SLEEP_STATUS_REG (clearing WAK_STS: ignore
 *       it), then {@code ((SLP_TYP << 2) & 0x1C) | SLP_EN} to SLEEP_CONTROL_REG, where SLP_TYP is
 *       the first element of the DSDT's {@code \_S5} package: {@link #POWER_OFF};</li>
 *   <li>on reboot (reboot=acpi, the x86 default), RESET_VALUE: {@link #RESET}.</li>
 * </ul>
 */
public final class PowerPort {
    private PowerPort() {}

    /** A port no PC device uses; cloud-hypervisor puts the same device there. */
    public static final int DEFAULT_PORT = 0x600;
    /** SLP_TYP of S5 (soft off), as the DSDT's {@code \_S5} package declares it. */
    public static final int S5_SLEEP_TYPE = 5;
    /** SLP_EN, bit 5 of the sleep control register. */
    public static final int SLEEP_ENABLE = 0x20;
    /** Bit position of SLP_TYP in the sleep control register (bits 4:2). */
    static final int SLEEP_TYPE_SHIFT = 2;
    /** The byte written on power-off: 0x34. */
    public static final int POWER_OFF = (S5_SLEEP_TYPE << SLEEP_TYPE_SHIFT) | SLEEP_ENABLE;
    /** WAK_STS, written to the sleep status register before entering a sleep state: not a command. */
    public static final int WAKE_STATUS = 0x80;
    /** The FADT's RESET_VALUE, written on reboot; distinct from every sleep-register write. */
    public static final int RESET = 0x01;
}
