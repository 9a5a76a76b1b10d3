package dev.vessel.network;

import dev.vessel.events.Event;

import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * A bridge network, as docker's bridge driver has them: a Linux bridge on the host where the VMs
 * run (this host, or the helper machine) with the gateway address, its containers' TAPs as ports,
 * and NAT for traffic leaving it.
 *
 * @param id 64 hex digits
 * @param name unique among networks
 * @param driver always {@value #DRIVER}
 * @param subnet the network's IPv4 subnet
 * @param gateway the bridge's own address in the subnet
 * @param bridge the bridge interface's name ({@value #DEFAULT_BRIDGE} for the default network)
 * @param created RFC 3339 time
 * @param internal cut off from everything beyond its bridge (no NAT, no forwarding)
 * @param userSubnet the subnet was given by the user: only then may containers ask for an address
 * @param labels user metadata
 * @param options the driver options given at creation
 * @param endpoints by container id
 */
public record Network(String id, String name, String driver, Ipv4Subnet subnet, Ipv4Address gateway, String bridge,
                      String created, boolean internal, boolean userSubnet, Map<String, String> labels,
                      Map<String, String> options, Map<String, Endpoint> endpoints) {
    public static final String DRIVER = "bridge";
    /** The network containers join unless told otherwise; it exists implicitly and cannot be removed. */
    public static final String DEFAULT_NAME = "bridge";
    public static final String DEFAULT_BRIDGE = "vessel0";
    /** Names docker reserves for its predefined networks (Vessel has only {@value #DEFAULT_NAME} as a network). */
    public static final Set<String> PREDEFINED = Set.of("bridge", "host", "none");

    /** {@code -o} option: the bridge interface's name. */
    public static final String OPTION_BRIDGE_NAME = "com.docker.network.bridge.name";
    /** {@code -o} option: {@code false} leaves the subnet's outgoing traffic un-NATed (routed as is). */
    public static final String OPTION_MASQUERADE = "com.docker.network.bridge.enable_ip_masquerade";
    /** Set on the default network only, as docker does. */
    public static final String OPTION_DEFAULT_BRIDGE = "com.docker.network.bridge.default_bridge";
    /** The {@code -o} options Vessel honours; any other is refused rather than silently ignored. */
    public static final Set<String> OPTIONS = Set.of(OPTION_BRIDGE_NAME, OPTION_MASQUERADE);

    /** Network names: docker's pattern for names of objects. */
    static final Pattern NAME = Pattern.compile("[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}");
    /**
     * Bridge interface names: at most 15 bytes (IFNAMSIZ less its NUL), letters, digits and
     * {@code _.-}, not starting with {@code -} or {@code .} (never an option to a tool, never
     * {@code .} or {@code ..} in /sys/class/net).
     */
    static final Pattern BRIDGE_NAME = Pattern.compile("[a-zA-Z0-9_][a-zA-Z0-9_.-]{0,14}");
    /** A user network's bridge: {@code vb-} and the 12 digits of its short id, 15 bytes. */
    static final String BRIDGE_PREFIX = "vb-";

    public Network {
        labels = Collections.unmodifiableMap(new TreeMap<>(labels == null ? Map.of() : labels));
        options = Collections.unmodifiableMap(new TreeMap<>(options == null ? Map.of() : options));
        endpoints = Collections.unmodifiableMap(new LinkedHashMap<>(endpoints == null ? Map.of() : endpoints));
    }

    /** The first 12 digits of the id, as docker shows it. */
    public String shortId() {
        return id.substring(0, 12);
    }

    public boolean isDefault() {
        return DEFAULT_NAME.equals(name);
    }

    /** Whether the subnet's traffic leaving the bridge is masqueraded (NAT) to the host's address. */
    public boolean masquerade() {
        return !internal && !"false".equals(options.get(OPTION_MASQUERADE));
    }

    /** The same network with {@code endpoints} instead of its own. */
    public Network withEndpoints(Map<String, Endpoint> endpoints) {
        return new Network(id, name, driver, subnet, gateway, bridge, created, internal, userSubnet, labels, options,
                endpoints);
    }

    /** Docker's event of this network: its name and driver ({@code type}) among the attributes. */
    public Event event(String action, Map<String, String> attributes) {
        Map<String, String> a = new HashMap<>(attributes);
        a.put("name", name);
        a.put("type", driver);
        return Event.of(Event.NETWORK, action, id, a);
    }

    /** The bridge name for a user network of id {@code id}. */
    static String defaultBridgeName(String id) {
        return BRIDGE_PREFIX + id.substring(0, 12);
    }

    /** Whether {@code name} can name a bridge interface. */
    public static boolean validBridgeName(String name) {
        return name != null && BRIDGE_NAME.matcher(name).matches();
    }
}
