/**
 * The virtio 1.x device model shared by every Vessel virtio device: {@link dev.vessel.devices.virtio.VirtioDevice}
 * (what a device type implements, and its threading contract), {@link dev.vessel.devices.virtio.VirtioContext}
 * (what it gets at DRIVER_OK: queues, interrupts, failing), {@link dev.vessel.devices.virtio.AbstractVirtioDevice}
 * (common plumbing), feature and status constants, and {@link dev.vessel.devices.virtio.SerialExecutor}, the
 * device's single worker. Split virtqueues live in {@code queue}; the virtio-mmio transport in {@code mmio}.
 */
package dev.vessel.devices.virtio;
