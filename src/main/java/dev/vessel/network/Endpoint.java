package dev.vessel.network;

import java.util.List;

/**
 * A container's place on a network: the address allocated to it and the MAC address its card
 * gets. Kept in the network's record from allocation to release, across restarts.
 *
 * @param id 64 hex digits (docker's EndpointID)
 * @param containerName the container's name when it was connected (for inspect)
 * @param address inside the network's subnet; never its network, broadcast or gateway address
 * @param macAddress lower-case, colon-separated
 * @param aliases other names the container answers to on this network ({@code --network-alias})
 */
public record Endpoint(String id, String containerName, Ipv4Address address, String macAddress, List<String> aliases) {
    public Endpoint {
        aliases = aliases == null ? List.of() : List.copyOf(aliases);
    }

    public Endpoint(String id, String containerName, Ipv4Address address, String macAddress) {
        this(id, containerName, address, macAddress, List.of());
    }

    /**
     * Docker's MAC address for an endpoint: {@code 02:42:} and the four octets of its address, so
     * a new container that gets a released address also gets the MAC that peers may still have
     * cached for it.
     */
    public static String macFor(Ipv4Address address) {
        byte[] o = address.octets();
        return String.format("02:42:%02x:%02x:%02x:%02x", o[0] & 0xff, o[1] & 0xff, o[2] & 0xff, o[3] & 0xff);
    }
}
