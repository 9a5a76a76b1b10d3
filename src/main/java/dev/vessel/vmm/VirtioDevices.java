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
        if (config.console() == VmConfig.Console.VIRTIO) { // virtio-console: port 0 is hvc0, the guest console
            devices.add(new Named("console", new dev.vessel.devices.virtio.console.VirtioConsole(host.consoleOut())));
        }
        for (int i = 0; i < config.disks().size(); i++) { // virtio-blk: vda, vdb, ... (backend: VirtioBlkDevice.openBackend)
            VmConfig.Disk disk = config.disks().get(i);
            devices.add(new Named("blk" + i, dev.vessel.devices.virtio.blk.VirtioBlkDevice.open(disk.location(), disk.readOnly())));
        }
        if (config.rng()) { // virtio-rng: /dev/hwrng
            devices.add(new Named("rng", new dev.vessel.devices.virtio.rng.VirtioRng()));
        }
        if (config.balloon()) { // virtio-balloon; serves --api-socket (BalloonApi) until the process exits
            devices.add(new Named("balloon", dev.vessel.devices.virtio.balloon.VirtioBalloon.create(config.memoryBytes(), config.apiSocket())));
        }
        if (config.vsockSocket() != null) { // virtio-vsock, guest CID 3; host side: hybrid vsock on this Unix socket
            var vsock = dev.vessel.devices.virtio.vsock.VirtioVsock.open(config.vsockSocket());
            if (config.vsockUplink() != null) {
                vsock.withUplink(dev.vessel.devices.virtio.vsock.VsockUplink.parse(config.vsockUplink()));
            }
            devices.add(new Named("vsock", vsock));
        }
        return devices;
    }
}
