package dev.vessel.devices.power;

import dev.vessel.arch.x86.acpi.PowerPort;
import dev.vessel.devices.BusDevice;

/**
 * The hardware-reduced ACPI sleep and reset registers (one I/O port, see {@link PowerPort}):
 * how an unmodified Linux powers the VM off (S5) or resets it. Every other value is ignored.
 */
public final class AcpiPowerDevice implements BusDevice {
    private final Runnable powerOff;
    private final Runnable reset;

    public AcpiPowerDevice(Runnable powerOff, Runnable reset) {
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
        if ((b & ~0x3 /* reserved low bits */) == PowerPort.POWER_OFF) {
            powerOff.run();
        } else if (b == PowerPort.RESET) {
            reset.run();
        }
    }
}
