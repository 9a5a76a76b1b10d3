package dev.vessel.devices.virtio;

/**
 * What a device may ask of the transport that carries it at any time, from any thread: the
 * transport hands itself to {@link VirtioDevice#attach} once, before the driver can see the device.
 * Per-activation services (queues, interrupts, failing the device) are on {@link VirtioContext}.
 */
public interface VirtioTransport {
    /**
     * The device changed its configuration space: the transport bumps ConfigGeneration (so that a
     * driver reading a multi-field value sees the change) and, once the driver set DRIVER_OK,
     * raises a configuration-change interrupt. Change the configuration first, then call this.
     */
    void configChanged();
}
