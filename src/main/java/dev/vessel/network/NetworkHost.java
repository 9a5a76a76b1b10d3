package dev.vessel.network;

import java.io.IOException;
import java.util.List;

/**
 * The host where the networks' bridges live: this host when VMs run on its KVM, the helper
 * machine otherwise. Every operation is idempotent: the helper machine loses its bridges and rules
 * when it restarts, so they are ensured again before each use.
 */
public interface NetworkHost {
    /**
     * Makes {@code network}'s bridge exist and be up with the gateway address, its NAT and forwarding
     * rules be in Vessel's nftables table ({@link BridgeScript#TABLE}), and IP forwarding be on when
     * the network forwards. A bridge of that name that Vessel did not make is used as it is found
     * (as docker does), but never removed.
     *
     * @throws NetworkException FAILED when the host refuses (not root, a non-bridge interface of that name, ...)
     */
    void ensureBridge(Network network) throws IOException, NetworkException;

    /** Removes {@code network}'s rules, and its bridge if Vessel made it; nothing there is no error. */
    void removeBridge(Network network) throws IOException, NetworkException;

    /**
     * The destinations of the host's IPv4 routes (the default route left out), which a new network's
     * subnet must not overlap.
     */
    List<Ipv4Subnet> routes() throws IOException, NetworkException;

    /**
     * The address at which a container on {@code network} reaches this host's own services
     * (docker's {@code host-gateway}): the bridge's gateway when the bridges live on this host.
     */
    Ipv4Address hostGateway(Network network);
}
