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
     * Its resolver runs on the gateway address and answers {@code names}.
     *
     * @param names the containers' names on the network, in hosts-file form ({@link #names})
     * @throws NetworkException FAILED when the host refuses (not root, a non-bridge interface of that name, ...)
     */
    void ensureBridge(Network network, String names) throws IOException, NetworkException;

    /**
     * What a network's resolver answers, in hosts-file form: each container's address with its
     * name, its aliases and its short id. Nothing on the default network, where docker resolves
     * no container names.
     */
    static String names(Network network) {
        if (network.isDefault()) {
            return "";
        }
        StringBuilder b = new StringBuilder();
        network.endpoints().forEach((containerId, e) -> {
            b.append(e.address());
            if (!e.containerName().isEmpty()) {
                b.append(' ').append(e.containerName());
            }
            e.aliases().forEach(a -> b.append(' ').append(a));
            b.append(' ').append(containerId, 0, 12).append('\n');
        });
        return b.toString();
    }

    /**
     * Gives {@code network}'s resolver the names it answers now ({@link #names}), after a
     * container left it or was renamed; starts nothing (a network whose bridge is not up has no
     * resolver to tell).
     */
    void updateNames(Network network, String names) throws IOException, NetworkException;

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
