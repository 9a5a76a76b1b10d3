package dev.vessel.devices;

/**
 * A device on the port-I/O or MMIO bus. Offsets are relative to the device's base; sizes are
 * 1, 2, 4 or 8 bytes. Called on vCPU threads: implementations synchronise their own state.
 * Values come from the guest: a device validates them and never throws for bad ones.
 */
public interface BusDevice {
    /** A guest read of {@code size} bytes at {@code offset}; the low {@code size} bytes of the result count. */
    long read(long offset, int size);

    /** A guest write of the low {@code size} bytes of {@code value} at {@code offset}. */
    void write(long offset, int size, long value);
}
