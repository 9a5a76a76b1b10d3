package dev.vessel.container;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import dev.vessel.network.ports.PortBinding;

import java.util.List;

/**
 * A container's networking as created: which networks it is on (its addresses are in the networks'
 * records, from create to removal) and what its resolver and /etc/hosts get.
 *
 * @param mode docker's {@code NetworkMode}: {@code none}, {@code bridge} or the network's name as given
 * @param networks the ids of the networks it is on, in the order of its cards (eth0 first)
 * @param dns name servers instead of the network's
 * @param dnsSearch search domains
 * @param dnsOptions resolver options
 * @param extraHosts {@code NAME:IP} for /etc/hosts, IP possibly {@value NetworkOptions#HOST_GATEWAY}
 * @param ports the published ports as asked (a host port of 0: one the host picks at each start)
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ContainerNetworking(String mode, List<String> networks, List<String> dns, List<String> dnsSearch,
                                  List<String> dnsOptions, List<String> extraHosts, List<PortBinding> ports) {
    /** A container created before Vessel had networks: loopback only. */
    public static final ContainerNetworking NONE =
            new ContainerNetworking(NetworkOptions.NONE, List.of(), List.of(), List.of(), List.of(), List.of(), List.of());

    public ContainerNetworking {
        mode = mode == null ? NetworkOptions.NONE : mode;
        networks = copy(networks);
        dns = copy(dns);
        dnsSearch = copy(dnsSearch);
        dnsOptions = copy(dnsOptions);
        extraHosts = copy(extraHosts);
        ports = ports == null ? List.of() : List.copyOf(ports);
    }

    private static List<String> copy(List<String> l) {
        return l == null ? List.of() : List.copyOf(l);
    }

    /** The same, on {@code ids} instead. */
    public ContainerNetworking withNetworks(List<String> ids) {
        return new ContainerNetworking(mode, ids, dns, dnsSearch, dnsOptions, extraHosts, ports);
    }
}
