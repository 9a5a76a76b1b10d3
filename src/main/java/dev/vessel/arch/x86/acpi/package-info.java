/**
 * ACPI tables for x86 guests: a hardware-reduced ACPI platform (like Firecracker's and
 * cloud-hypervisor's) whose MADT lists the vCPUs and the IOAPIC, whose DSDT lists COM1, the RTC
 * and the virtio-mmio devices, and whose FADT points power-off and reset at one I/O port of the
 * VMM ({@link dev.vessel.arch.x86.acpi.PowerPort}). Entry point: {@link dev.vessel.arch.x86.acpi.AcpiTables}.
 */
package dev.vessel.arch.x86.acpi;
