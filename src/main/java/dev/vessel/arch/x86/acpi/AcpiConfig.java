package dev.vessel.arch.x86.acpi;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * What the ACPI tables describe beyond the fixed PC devices (COM1, RTC, IOAPIC).
 *
 * @param cpus the number of vCPUs, 1..255; vCPU i must have local APIC ID i (KVM's default for
 *     the vCPU created with id i), since ID 0xFF is the broadcast ID Linux skips
 * @param powerPort the I/O port of the VMM's {@link PowerPort} device
 * @param devices the memory-mapped devices to declare in the DSDT; names, GSIs and (HID, UID)
 *     pairs must be unique, and GSIs must not be COM1's or the RTC's
 */
public record AcpiConfig(int cpus, int powerPort, List<AcpiDevice> devices) {
    /** APIC IDs are 8 bits in the MADT's Processor Local APIC entry and 0xFF is not a CPU. */
    public static final int MAX_CPUS = 255;

    public AcpiConfig {
        if (cpus < 1 || cpus > MAX_CPUS) {
            throw new IllegalArgumentException("vCPU count must be 1.." + MAX_CPUS + ": " + cpus);
        }
        // Linux treats a zero sleep register address as "no such register".
        if (powerPort < 1 || powerPort > 0xFFFF) {
            throw new IllegalArgumentException("power port must be an I/O port 1..0xFFFF: " + powerPort);
        }
        devices = List.copyOf(devices);
        Set<String> names = new HashSet<>(Set.of(Dsdt.COM1_NAME, Dsdt.RTC_NAME));
        Set<Integer> gsis = new HashSet<>(Set.of(Dsdt.COM1_IRQ, Dsdt.RTC_IRQ));
        Set<String> ids = new HashSet<>();
        for (AcpiDevice d : devices) {
            if (!names.add(d.name())) {
                throw new IllegalArgumentException("duplicate ACPI device name " + d.name());
            }
            if (!gsis.add(d.gsi())) {
                throw new IllegalArgumentException("GSI " + d.gsi() + " of " + d.name() + " is already in use");
            }
            if (!ids.add(d.hid() + "/" + d.uid())) {
                throw new IllegalArgumentException("duplicate _HID/_UID " + d.hid() + "/" + d.uid());
            }
        }
    }

    /** {@code cpus} vCPUs and {@code devices}, with the power device at {@link PowerPort#DEFAULT_PORT}. */
    public AcpiConfig(int cpus, List<AcpiDevice> devices) {
        this(cpus, PowerPort.DEFAULT_PORT, devices);
    }
}
