/**
 * The virtio-mmio transport, version 2 ({@link dev.vessel.devices.virtio.mmio.VirtioMmioTransport}): a
 * 0x200-byte MMIO window per device, described to the guest in the ACPI DSDT (_HID "LNRO0005", an
 * edge-triggered interrupt) and driven by Linux's virtio_mmio module. Register layout in
 * {@link dev.vessel.devices.virtio.mmio.VirtioMmioRegisters}.
 */
package dev.vessel.devices.virtio.mmio;
