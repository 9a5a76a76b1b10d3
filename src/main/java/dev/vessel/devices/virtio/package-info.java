/**
 * The virtio 1.x device model shared by every Vessel virtio device: {@link dev.vessel.devices.virtio.VirtioDevice}
 * (what a device type implements, and its threading contract), {@link dev.vessel.devices.virtio.VirtioContext}
 * (what it gets at DRIVER_OK: queues, interrupts, failing), {@link dev.vessel.devices.virtio.AbstractVirtioDevice}
 * (common plumbing), feature and status constants, and {@link dev.vessel.devices.virtio.SerialExecutor}, the
 * device's single worker. Split virtqueues live in {@code queue}; the virtio-mmio transport in {@code mmio}.
 *
 * <h2>Bad input: one policy for every device</h2>
 * The guest is hostile, and every device treats what it sends the same way:
 * <ol>
 *   <li><b>A malformed ring or chain fails the device.</b> Whatever the virtqueue layer rejects
 *   with a {@link dev.vessel.devices.virtio.queue.VirtqueueException} — a descriptor index out of
 *   range, a loop, a buffer outside guest RAM, a bad indirect table, a readable buffer after a
 *   writable one, a chain over the length cap, a corrupt available index, a read past a chain's
 *   readable part — ends the activation: DEVICE_NEEDS_RESET and a configuration-change interrupt
 *   ({@link dev.vessel.devices.virtio.VirtioContext#fail}); the device takes no more work until the
 *   driver resets it, and the rest of the VM goes on. A bad chain is never skipped or retried: a
 *   driver that builds one is broken or hostile, and skipping would let it keep the worker busy
 *   for as long as it keeps adding bad chains.</li>
 *   <li><b>A well-formed chain carrying a request the device cannot serve fails that request
 *   only</b>, answered the way the device type answers errors, and counted or logged (at a
 *   bounded rate): virtio-blk answers VIRTIO_BLK_S_IOERR or UNSUPP (a chain with no byte for the status
 *   goes back unanswered); virtio-net drops a malformed frame (too short or long, a writable part,
 *   a header its features do not allow) and returns a receive buffer too small for a header
 *   unused, counting both; virtio-rng returns a chain without a writable part empty; virtio-vsock
 *   answers an invalid packet with RST or drops it; virtio-balloon ignores PFNs outside guest RAM
 *   and malformed statistics; virtio-console ignores malformed control messages and returns a
 *   buffer too small for its message empty.</li>
 *   <li><b>A failing host side fails the request</b> where the type has a status for it (a disk
 *   I/O error is VIRTIO_BLK_S_IOERR), and otherwise loses data the way an unplugged line would
 *   (console output to a closed stream; frames for a TAP that went away, whose link goes down),
 *   never stalling the guest.</li>
 *   <li><b>A device bug fails the device</b> as in 1: whatever a device callback throws on its
 *   worker, Errors included, and a failing handler of the VMM's event loop that serves it.</li>
 * </ol>
 * No vCPU thread waits on a device for longer than
 * {@link dev.vessel.devices.virtio.mmio.VirtioMmioTransport#RESET_TIMEOUT}; a device whose reset
 * takes longer stays DEVICE_NEEDS_RESET until its worker is done.
 */
package dev.vessel.devices.virtio;
