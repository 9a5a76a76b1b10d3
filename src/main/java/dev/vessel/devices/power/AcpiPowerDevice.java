package dev.vessel.devices.power;

import dev.vessel.devices.BusDevice;

/**
 * The hardware-reduced ACPI sleep and reset registers, one I/O port: how an unmodified Linux
 * powers the VM off (S5) or resets it. The platform's ACPI tables name the port and the two values
 * (the sleep-control byte for S5 and RESET_VALUE); the device compares each byte written against
 * them and ignores every other value, such as the WAK_STS write that precedes a sleep command.
 */
public final class AcpiPowerDevice implements BusDevice {
    /** SLP_TYP's two low reserved bits of the sleep-control register, which a write may set. */
    private static final int RESERVED_LOW_BITS = 0x3;

    private final int powerOffValue;
    private final int resetValue;
    private final Runnable powerOff;
    private final Runnable reset;

    /**
     * @param powerOffValue the byte the guest writes to enter S5 (SLP_TYP of S5 with SLP_EN)
     * @param resetValue the FADT's RESET_VALUE
     */
    public AcpiPowerDevice(int powerOffValue, int resetValue, Runnable powerOff, Runnable reset) {
        if (powerOffValue == resetValue) {
            throw new IllegalArgumentException("power-off and reset must be different values");
        }
        this.powerOffValue = powerOffValue & 0xFF;
        this.resetValue = resetValue & 0xFF;
        this.powerOff = powerOff;
        this.reset = reset;
    }

    @Override
    public long read(long offset, int size) {
        return 0;
    }

    @Override
    public void write(long offset, int size, long value) {
        if (offset != 0) {
            return;
        }
        int b = (int) (value & 0xFF);
        if ((b & ~RESERVED_LOW_BITS) == powerOffValue) {
            powerOff.run();
        } else if (b == resetValue) {
            reset.run();
        }
    }
}
