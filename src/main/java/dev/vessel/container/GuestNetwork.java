package dev.vessel.container;

import dev.vessel.devices.virtio.net.MacAddress;
import dev.vessel.network.Endpoint;
import dev.vessel.network.Ipv4Address;
import dev.vessel.network.Network;
import dev.vessel.vmm.NetConfig;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * What a container's VM gets for networking at one start: a card per network it is on (a TAP the
 * VMM makes and plugs into the network's bridge), the guest's addresses and default route, and
 * docker's /etc/hosts and /etc/resolv.conf. The guest's init reads it all from the kernel command
 * line (container_net.c in the agent).
 *
 * @param cards eth0 first; empty with {@code --network none}
 * @param gateway the default route's next hop: eth0's network's gateway, none on an internal network
 * @param hosts the text of /etc/hosts
 * @param resolvConf the text of /etc/resolv.conf
 */
public record GuestNetwork(List<Card> cards, Ipv4Address gateway, String hosts, String resolvConf) {
    /** The guest's init configures at most this many cards (vessel.net0..7). */
    public static final int MAX_CARDS = 8;
    /** x86's COMMAND_LINE_SIZE less its NUL: a longer command line is cut by the kernel. */
    static final int MAX_CMDLINE = 2047;

    /**
     * One card: its TAP on the host where the VM runs, plugged into {@code bridge}.
     *
     * @param prefix the network's prefix length
     */
    public record Card(String tap, MacAddress mac, String bridge, Ipv4Address address, int prefix) {}

    public GuestNetwork {
        cards = List.copyOf(cards);
        if (cards.size() > MAX_CARDS) {
            throw new IllegalArgumentException("a container can be on at most " + MAX_CARDS + " networks");
        }
    }

    /**
     * The plan for {@code config}'s start on {@code networks} (the records of the networks it is on,
     * in its order, each holding its endpoint).
     *
     * @param hostGateway where the container reaches the host ({@code --add-host NAME:host-gateway}); null if nowhere
     */
    public static GuestNetwork plan(ContainerConfig config, List<Network> networks, Ipv4Address hostGateway)
            throws ContainerException {
        List<Card> cards = new ArrayList<>();
        for (Network n : networks) {
            Endpoint e = n.endpoints().get(config.id());
            if (e == null) {
                throw ContainerException.failed("container " + config.name() + " has no address on network " + n.name());
            }
            cards.add(new Card(tapName(config.id(), cards.size()), MacAddress.parse(e.macAddress()), n.bridge(),
                    e.address(), n.subnet().prefix()));
        }
        Ipv4Address gateway = networks.isEmpty() || networks.getFirst().internal() ? null : networks.getFirst().gateway();
        ContainerNetworking net = config.networking();
        List<String> nameservers = new ArrayList<>(net.dns());
        if (nameservers.isEmpty() && !networks.isEmpty()) {
            nameservers.add(networks.getFirst().gateway().toString()); // the network's resolver
        }
        StringBuilder hosts = new StringBuilder();
        hosts.append("127.0.0.1\tlocalhost\n")
                .append("::1\tlocalhost ip6-localhost ip6-loopback\n")
                .append("fe00::\tip6-localnet\n")
                .append("ff00::\tip6-mcastprefix\n")
                .append("ff02::1\tip6-allnodes\n")
                .append("ff02::2\tip6-allrouters\n");
        for (String h : net.extraHosts()) {
            int colon = h.indexOf(':');
            String ip = h.substring(colon + 1);
            if (ip.equals(NetworkOptions.HOST_GATEWAY)) {
                if (hostGateway == null) {
                    throw ContainerException.invalid("--add-host " + h + ": a container without a network cannot reach the host");
                }
                ip = hostGateway.toString();
            }
            hosts.append(ip).append('\t').append(h, 0, colon).append('\n');
        }
        for (Card c : cards) {
            hosts.append(c.address()).append('\t').append(config.hostname()).append('\n');
        }
        StringBuilder resolv = new StringBuilder();
        for (String ns : nameservers) {
            resolv.append("nameserver ").append(ns).append('\n');
        }
        if (!net.dnsSearch().isEmpty()) {
            resolv.append("search ").append(String.join(" ", net.dnsSearch())).append('\n');
        }
        if (!net.dnsOptions().isEmpty()) {
            resolv.append("options ").append(String.join(" ", net.dnsOptions())).append('\n');
        }
        return new GuestNetwork(cards, gateway, hosts.toString(), resolv.toString());
    }

    /**
     * The TAP of a container's card: {@code vt}, 11 digits of its id and the card's index, 14
     * bytes; unique while the container runs, and one container runs one VM at a time.
     */
    static String tapName(String containerId, int card) {
        return "vt" + containerId.substring(0, 11) + card;
    }

    /** The VM's network devices. */
    public List<NetConfig> nets() {
        return cards.stream().map(c -> new NetConfig(c.tap(), c.mac(), c.bridge())).toList();
    }

    /** The kernel command line's part for the guest's init, with a leading space. */
    public String cmdline() {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < cards.size(); i++) {
            Card c = cards.get(i);
            b.append(" vessel.net").append(i).append('=').append(c.mac().toString().toLowerCase(java.util.Locale.ROOT))
                    .append(',').append(c.address()).append('/').append(c.prefix());
        }
        if (gateway != null) {
            b.append(" vessel.gw=").append(gateway);
        }
        b.append(" vessel.hosts=").append(base64(hosts));
        b.append(" vessel.resolv=").append(base64(resolvConf));
        return b.toString();
    }

    /**
     * The whole command line for the container's VM, {@code base} followed by this plan.
     *
     * @throws ContainerException INVALID when it is longer than the kernel takes (many {@code --add-host}s)
     */
    public String cmdline(String base) throws ContainerException {
        String all = base + cmdline();
        if (all.length() > MAX_CMDLINE) {
            throw ContainerException.invalid("the container's /etc/hosts and resolver settings are too long for its VM ("
                    + all.length() + " bytes of kernel command line, at most " + MAX_CMDLINE
                    + "): use fewer --add-host, --dns, --dns-search or --dns-option");
        }
        return all;
    }

    private static String base64(String s) {
        return Base64.getEncoder().withoutPadding().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }
}
