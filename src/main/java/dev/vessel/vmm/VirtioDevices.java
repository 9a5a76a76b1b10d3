package dev.vessel.vmm;

import dev.vessel.devices.virtio.VirtioDevice;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/**
 * Which virtio devices a VM gets, from its {@link VmConfig}, in the order the guest enumerates
 * them. Each entry names the device (for its worker thread and errors) and builds it; the
 * {@link VmBuilder} puts every one behind a virtio-mmio transport.
 */
final class VirtioDevices {
    private VirtioDevices() {}

    /** A device to attach, with a short name ("blk0", "console", ...). */
    record Named(String name, VirtioDevice device) {}

    /** What the devices may need from the VMM besides their configuration. */
    record Host(VmConfig config, java.io.OutputStream consoleOut) {}

    static List<Named> create(Host host) throws IOException {
        VmConfig config = host.config();
        List<Named> devices = new ArrayList<>();
        // Device entries are added here, one block per device type, in guest enumeration order.
        return devices;
    }
}
