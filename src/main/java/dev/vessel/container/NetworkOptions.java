package dev.vessel.container;

import java.util.List;

/**
 * A new container's networking, shaped like docker's flags ({@code --network}, {@code --ip}, ...)
 * and the Engine API's {@code HostConfig.NetworkMode}, {@code Dns*}, {@code ExtraHosts} and
 * {@code NetworkingConfig}.
 *
 * @param mode {@code none}, {@code bridge} (the default network) or a network's name or id; null for {@code bridge}
 * @param aliases more names the container answers to on a user-defined network ({@code --network-alias})
 * @param ipv4 the address asked for ({@code --ip}), or null
 * @param macAddress the card's MAC ({@code --mac-address}), or null
 * @param dns name servers instead of the network's ({@code --dns})
 * @param dnsSearch search domains ({@code --dns-search})
 * @param dnsOptions resolver options ({@code --dns-option})
 * @param extraHosts {@code NAME:IP} lines for /etc/hosts ({@code --add-host}); IP may be {@value #HOST_GATEWAY}
 * @param publish {@code -p} values: {@code [IP:][HOST:]CONTAINER[/PROTO]}
 * @param publishAll {@code -P}: every port the image exposes, on ports the host picks
 */
public record NetworkOptions(String mode, List<String> aliases, String ipv4, String macAddress, List<String> dns,
                             List<String> dnsSearch, List<String> dnsOptions, List<String> extraHosts,
                             List<String> publish, boolean publishAll) {
    /** Docker's {@code --network none}: only a loopback interface. */
    public static final String NONE = "none";
    /** In {@code --add-host NAME:host-gateway}: the address at which the container reaches the host. */
    public static final String HOST_GATEWAY = "host-gateway";
    public static final NetworkOptions DEFAULT =
            new NetworkOptions(null, null, null, null, null, null, null, null, null, false);

    /** The same options but for networks, addresses and resolver ({@code -p}, {@code -P} only). */
    public static NetworkOptions publishing(List<String> publish, boolean publishAll) {
        return new NetworkOptions(null, null, null, null, null, null, null, null, publish, publishAll);
    }

    public NetworkOptions {
        aliases = copy(aliases);
        dns = copy(dns);
        dnsSearch = copy(dnsSearch);
        dnsOptions = copy(dnsOptions);
        extraHosts = copy(extraHosts);
        publish = copy(publish);
    }

    private static List<String> copy(List<String> l) {
        return l == null ? List.of() : List.copyOf(l);
    }
}
