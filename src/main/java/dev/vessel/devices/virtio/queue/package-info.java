/**
 * The device side of virtio split virtqueues (virtio 1.2 §2.7): {@link dev.vessel.devices.virtio.queue.Virtqueue}
 * pops validated {@link dev.vessel.devices.virtio.queue.DescriptorChain}s from the available ring, returns
 * them through the used ring and decides about notifications (VIRTIO_F_RING_EVENT_IDX or the ring flags);
 * {@link dev.vessel.devices.virtio.queue.ChainReader} and {@link dev.vessel.devices.virtio.queue.ChainWriter}
 * move bytes in and out of a chain's buffers. Everything the driver wrote is validated; a bad value is a
 * checked {@link dev.vessel.devices.virtio.queue.VirtqueueException}, never an access outside guest RAM.
 */
package dev.vessel.devices.virtio.queue;
