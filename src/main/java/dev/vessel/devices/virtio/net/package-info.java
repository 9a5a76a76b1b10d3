/**
 * virtio-net on a host TAP interface: {@link dev.vessel.devices.virtio.net.VirtioNet} (the device),
 * {@link dev.vessel.devices.virtio.net.NetHeader} (the virtio_net_hdr both sides speak and what each
 * side may put in it), {@link dev.vessel.devices.virtio.net.NetBackend} and
 * {@link dev.vessel.devices.virtio.net.TapBackend} (where frames go), the card's
 * {@link dev.vessel.devices.virtio.net.MacAddress} and its {@link dev.vessel.devices.virtio.net.NetCounters}.
 */
package dev.vessel.devices.virtio.net;
