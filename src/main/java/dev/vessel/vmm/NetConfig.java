package dev.vessel.vmm;

import dev.vessel.devices.virtio.net.MacAddress;
import dev.vessel.sys.Tap;

import java.util.Objects;

/**
 * A virtio-net device of a VM: the host TAP interface it is plugged into (attached to if it
 * exists, created otherwise) and the guest's MAC address. With a bridge, the VMM plugs the TAP
 * into it and brings it up, as a cable into a switch; without one it configures nothing on it.
 *
 * @param tap the TAP interface's name (see {@link Tap#checkName})
 * @param mac the address the guest's card has
 * @param bridge an existing Linux bridge to plug the TAP into, or null
 */
public record NetConfig(String tap, MacAddress mac, String bridge) {
    public NetConfig {
        String problem = Tap.checkName(tap);
        if (problem == null && bridge != null) {
            problem = Tap.checkName(bridge);
        }
        if (problem != null) {
            throw new IllegalArgumentException(problem);
        }
        Objects.requireNonNull(mac, "a network device needs a MAC address");
    }

    /** A device on TAP {@code tap}, plugged into no bridge. */
    public NetConfig(String tap, MacAddress mac) {
        this(tap, mac, null);
    }

    /**
     * A device on TAP {@code tap} with a random locally administered MAC address ({@code 02:} and
     * five random octets), chosen once, here: the VM keeps it for its life, and a description
     * derived from this one ({@link VmConfig#toBuilder()}) keeps it too.
     */
    public static NetConfig tap(String tap) {
        return new NetConfig(tap, MacAddress.randomLocal());
    }
}
