/**
 * virtio-console (device type 3): {@link dev.vessel.devices.virtio.console.VirtioConsole}, the guest console on
 * hvc0 (port 0) and optional named ports ({@code /dev/vportNpM}) whose host side is a
 * {@link dev.vessel.devices.virtio.console.PortBackend}: a pair of streams or a Unix socket.
 */
package dev.vessel.devices.virtio.console;
