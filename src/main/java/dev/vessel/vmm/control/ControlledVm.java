package dev.vessel.vmm.control;

import dev.vessel.devices.virtio.balloon.VirtioBalloon;
import dev.vessel.devices.virtio.net.VirtioNet;
import dev.vessel.vmm.VmConfig;

import java.util.List;

/** What the control socket may do to and learn of the VM it serves. */
public interface ControlledVm {
    /** Holds the vCPUs; returns once they are held. */
    void pause() throws Exception;

    void resume();

    /** Ends the VM; returns at once. */
    void stop();

    /** "created", "running", "paused", "exited" or "closed". */
    String state();

    VmConfig config();

    /** VM exits handled so far. */
    long exits();

    /** The VM's balloon device, or null when it has none. */
    VirtioBalloon balloon();

    /** The VM's network devices, in the guest's order (eth0, eth1, ...). */
    default List<VirtioNet> nets() {
        return List.of();
    }
}
