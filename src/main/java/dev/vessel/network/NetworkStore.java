package dev.vessel.network;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import dev.vessel.devices.virtio.net.MacAddress;
import dev.vessel.host.PrivateFiles;
import dev.vessel.host.StateRoot;
import dev.vessel.host.StoreLock;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;

/**
 * The networks of a state root and their address allocations, in one JSON document
 * {@code ROOT/networks/networks.json}, replaced atomically (temp file, fsync, rename) so that a
 * crash leaves the old or the new one. Every change reads, changes and writes it under the store's
 * lock (a lock file locked with fcntl for other processes and a lock per file for this process's
 * threads), so names, subnets and addresses stay unique between concurrent CLIs.
 *
 * <p>The store records networks; making their bridges is {@link NetworkHost}'s job, and
 * {@link NetworkService} does both.
 */
public final class NetworkStore {
    static final ObjectMapper JSON = JsonMapper.builder()
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
            .enable(SerializationFeature.INDENT_OUTPUT)
            .build();
    static final String FILE = "networks.json";
    /** The store's document is small; anything larger is not one of ours. */
    static final int MAX_DOCUMENT = 16 << 20;

    private final Path dir;

    private NetworkStore(Path dir) {
        this.dir = dir;
    }

    public static NetworkStore open(StateRoot root) throws IOException {
        return new NetworkStore(root.dir("networks"));
    }

    public static NetworkStore open(Path dir) throws IOException {
        PrivateFiles.createDirectories(dir);
        return new NetworkStore(dir.toAbsolutePath().normalize());
    }

    /** The store's folder. */
    public Path dir() {
        return dir;
    }

    /** The stored document. */
    record Document(List<Network> networks) {
        Document {
            networks = networks == null ? List.of() : List.copyOf(networks);
        }
    }

    /**
     * A container's request for an address on a network.
     *
     * @param address the address asked for ({@code --ip}), or null for the network's choice
     * @param macAddress the MAC asked for ({@code --mac-address}), or null for the network's choice
     * @param aliases other names it answers to there ({@code --network-alias})
     */
    public record EndpointRequest(String containerId, String containerName, Ipv4Address address, String macAddress,
                                  List<String> aliases) {
        public EndpointRequest {
            aliases = aliases == null ? List.of() : List.copyOf(aliases);
        }

        /** An address and MAC of the network's choosing. */
        public static EndpointRequest of(String containerId, String containerName) {
            return new EndpointRequest(containerId, containerName, null, null, List.of());
        }
    }

    /** Every network, by name (the default network is there once something has {@linkplain #ensureDefault made} it). */
    public List<Network> list() throws IOException {
        List<Network> all = new ArrayList<>(read().networks());
        all.sort(Comparator.comparing(Network::name));
        return all;
    }

    /** By full id, name, or unique id prefix (docker's lookup order). */
    public Optional<Network> find(String ref) throws IOException, NetworkException {
        return find(read().networks(), ref);
    }

    /** {@link #find}, failing with docker's message when there is none. */
    public Network require(String ref) throws IOException, NetworkException {
        return find(ref).orElseThrow(() -> NetworkException.notFound(ref));
    }

    /**
     * The default network, {@value Network#DEFAULT_NAME}, made on first use: bridge
     * {@value Network#DEFAULT_BRIDGE}, the first default pool free of other networks and of
     * {@code routes} (the routes of the host where its bridge will live).
     */
    public Network ensureDefault(Collection<Ipv4Subnet> routes) throws IOException, NetworkException {
        try (Locked l = lock()) {
            Document doc = read();
            for (Network n : doc.networks()) {
                if (n.isDefault()) {
                    return n;
                }
            }
            Ipv4Subnet subnet = SubnetPools.choose(subnets(doc), routes).orElseThrow(NetworkStore::noPool);
            Network n = new Network(newId(doc), Network.DEFAULT_NAME, Network.DRIVER, subnet, subnet.network().plus(1),
                    Network.DEFAULT_BRIDGE, Instant.now().toString(), false, false, Map.of(),
                    Map.of(Network.OPTION_DEFAULT_BRIDGE, "true", Network.OPTION_BRIDGE_NAME, Network.DEFAULT_BRIDGE),
                    Map.of());
            write(with(doc, n));
            return n;
        }
    }

    /**
     * Records a new network. Its subnet is the request's, which must not overlap another network's,
     * or the first default pool free of other networks and of {@code routes}; its gateway the
     * request's (inside the subnet) or the subnet's first address.
     *
     * @throws NetworkException INVALID for a bad name, driver, subnet, gateway, label or option;
     *     CONFLICT for a name, bridge or subnet in use, or no free default pool
     */
    public Network create(CreateRequest request, Collection<Ipv4Subnet> routes) throws IOException, NetworkException {
        String name = request.name();
        if (name == null || !Network.NAME.matcher(name).matches()) {
            throw NetworkException.invalid("invalid network name \"" + name + "\": only [a-zA-Z0-9][a-zA-Z0-9_.-] "
                    + "are allowed, at most 128 characters");
        }
        if (request.driver() != null && !request.driver().equals(Network.DRIVER)) {
            throw NetworkException.invalid("plugin \"" + request.driver() + "\" not found (Vessel has the "
                    + Network.DRIVER + " driver only)");
        }
        Ipv4Subnet subnet = null;
        if (request.subnet() != null) {
            subnet = parseSubnet(request.subnet());
        }
        Ipv4Address gateway = null;
        if (request.gateway() != null) {
            if (subnet == null) {
                throw NetworkException.invalid("every ip-range or gateway must have a corresponding subnet");
            }
            gateway = parseGateway(request.gateway(), subnet);
        }
        Map<String, String> labels = new TreeMap<>();
        for (Map.Entry<String, String> e : request.labels().entrySet()) {
            if (e.getKey() == null || e.getKey().isEmpty() || e.getValue() == null) {
                throw NetworkException.invalid("invalid label '" + e.getKey() + "': a label needs a key");
            }
            labels.put(e.getKey(), e.getValue());
        }
        Map<String, String> options = options(request.options());

        try (Locked l = lock()) {
            Document doc = read();
            if (Network.PREDEFINED.contains(name) && !name.equals(Network.DEFAULT_NAME)) {
                throw new NetworkException(NetworkException.Kind.FORBIDDEN, "network name " + name
                        + " is reserved: docker predefines it, and Vessel has no " + name + " network");
            }
            for (Network n : doc.networks()) {
                if (n.name().equals(name)) {
                    throw NetworkException.conflict("network with name " + name + " already exists");
                }
            }
            if (name.equals(Network.DEFAULT_NAME)) {
                // The default network is made on first use, so it may not be in the store yet.
                throw NetworkException.conflict("network with name " + name + " already exists");
            }
            if (subnet != null) {
                for (Network n : doc.networks()) {
                    if (n.subnet().overlaps(subnet)) {
                        throw NetworkException.conflict("invalid pool request: Pool overlaps with other one on this address space");
                    }
                }
            } else {
                subnet = SubnetPools.choose(subnets(doc), routes).orElseThrow(NetworkStore::noPool);
            }
            String id = newId(doc);
            String bridge = options.getOrDefault(Network.OPTION_BRIDGE_NAME, Network.defaultBridgeName(id));
            if (bridge.equals(Network.DEFAULT_BRIDGE)) {
                throw NetworkException.conflict("bridge name " + bridge + " belongs to the default network");
            }
            for (Network n : doc.networks()) {
                if (n.bridge().equals(bridge)) {
                    throw NetworkException.conflict("bridge name " + bridge + " is already used by network " + n.name());
                }
            }
            Network n = new Network(id, name, Network.DRIVER, subnet, gateway != null ? gateway : subnet.network().plus(1),
                    bridge, Instant.now().toString(), request.internal(), request.subnet() != null, labels, options, Map.of());
            write(with(doc, n));
            return n;
        }
    }

    /**
     * Removes a network that no container is on; returns it.
     *
     * @throws NetworkException NOT_FOUND; FORBIDDEN for the default network; CONFLICT while it has endpoints
     */
    public Network remove(String ref) throws IOException, NetworkException {
        try (Locked l = lock()) {
            Document doc = read();
            Network n = find(doc.networks(), ref).orElseThrow(() -> NetworkException.notFound(ref));
            checkRemovable(n);
            List<Network> rest = new ArrayList<>(doc.networks());
            rest.removeIf(x -> x.id().equals(n.id()));
            write(new Document(rest));
            return n;
        }
    }

    /**
     * Whether {@code n} may be removed now, with docker's reasons when not.
     *
     * @throws NetworkException FORBIDDEN for the default network; CONFLICT while it has endpoints
     */
    public static void checkRemovable(Network n) throws NetworkException {
        if (n.isDefault()) {
            throw new NetworkException(NetworkException.Kind.FORBIDDEN,
                    n.name() + " is a pre-defined network and cannot be removed");
        }
        if (!n.endpoints().isEmpty()) {
            throw NetworkException.conflict("error while removing network: network " + n.name() + " id " + n.id()
                    + " has active endpoints");
        }
    }

    /**
     * Allocates an address on a network for a container: the one it asks for (only on a network
     * whose subnet the user gave, as docker), else the lowest free one; never the subnet's network,
     * broadcast or gateway address. Its MAC is the one asked for, else {@link Endpoint#macFor}.
     *
     * @throws NetworkException NOT_FOUND; INVALID for an address or MAC that cannot be had;
     *     CONFLICT when the container is on the network already, the address or MAC is taken, or
     *     the subnet is full
     */
    public Endpoint allocate(String ref, EndpointRequest request) throws IOException, NetworkException {
        if (request.containerId() == null || !request.containerId().matches("[0-9a-f]{64}")) {
            throw NetworkException.invalid("invalid container id: " + request.containerId());
        }
        String mac = null;
        if (request.macAddress() != null) {
            try {
                mac = MacAddress.parse(request.macAddress()).toString().toLowerCase(Locale.ROOT);
            } catch (IllegalArgumentException e) {
                throw NetworkException.invalid("invalid MAC address: " + e.getMessage());
            }
        }
        try (Locked l = lock()) {
            Document doc = read();
            Network n = find(doc.networks(), ref).orElseThrow(() -> NetworkException.notFound(ref));
            String containerName = request.containerName() == null ? "" : request.containerName();
            if (n.endpoints().containsKey(request.containerId())) {
                throw NetworkException.conflict("endpoint with name " + containerName + " already exists in network "
                        + n.name());
            }
            Set<Ipv4Address> used = new HashSet<>();
            Set<String> macs = new HashSet<>();
            for (Endpoint e : n.endpoints().values()) {
                used.add(e.address());
                macs.add(e.macAddress());
            }
            Ipv4Address address = request.address() != null ? requested(n, request.address(), used) : lowestFree(n, used);
            if (mac == null) {
                mac = Endpoint.macFor(address);
            }
            if (macs.contains(mac)) {
                throw NetworkException.conflict("MAC address " + mac + " is already in use on network " + n.name());
            }
            Endpoint e = new Endpoint(randomHex(), containerName, address, mac, request.aliases());
            Map<String, Endpoint> endpoints = new LinkedHashMap<>(n.endpoints());
            endpoints.put(request.containerId(), e);
            write(with(doc, n.withEndpoints(endpoints)));
            return e;
        }
    }

    /** Gives back a container's address on a network; false if it had none there. */
    public boolean release(String ref, String containerId) throws IOException, NetworkException {
        try (Locked l = lock()) {
            Document doc = read();
            Network n = find(doc.networks(), ref).orElseThrow(() -> NetworkException.notFound(ref));
            if (!n.endpoints().containsKey(containerId)) {
                return false;
            }
            Map<String, Endpoint> endpoints = new LinkedHashMap<>(n.endpoints());
            endpoints.remove(containerId);
            write(with(doc, n.withEndpoints(endpoints)));
            return true;
        }
    }

    /** Gives back a container's addresses on every network (a removed container); returns those networks. */
    public List<Network> releaseAll(String containerId) throws IOException {
        return changeEndpoints(containerId, e -> null);
    }

    /**
     * Records a container's new name on every network it is on (a rename), so that its resolvers
     * answer that name from now on; returns the networks where it changed, as they are now.
     */
    public List<Network> renameEndpoints(String containerId, String name) throws IOException {
        return changeEndpoints(containerId, e -> new Endpoint(e.id(), name, e.address(), e.macAddress(), e.aliases()));
    }

    /**
     * Replaces a container's endpoint on every network it is on by what {@code change} makes of it
     * (null: removes it), in one write under the lock; returns the networks that changed.
     */
    private List<Network> changeEndpoints(String containerId, java.util.function.UnaryOperator<Endpoint> change)
            throws IOException {
        try (Locked l = lock()) {
            Document doc = read();
            List<Network> out = new ArrayList<>();
            List<Network> next = new ArrayList<>();
            for (Network n : doc.networks()) {
                Endpoint e = n.endpoints().get(containerId);
                Endpoint changed = e == null ? null : change.apply(e);
                if (e != null && !e.equals(changed)) {
                    Map<String, Endpoint> endpoints = new LinkedHashMap<>(n.endpoints());
                    if (changed == null) {
                        endpoints.remove(containerId);
                    } else {
                        endpoints.put(containerId, changed);
                    }
                    n = n.withEndpoints(endpoints);
                    out.add(n);
                }
                next.add(n);
            }
            if (!out.isEmpty()) {
                write(new Document(next));
            }
            return out;
        }
    }

    private static Ipv4Address requested(Network n, Ipv4Address a, Set<Ipv4Address> used) throws NetworkException {
        if (n.isDefault()) {
            throw NetworkException.invalid("user specified IP address is supported on user defined networks only");
        }
        if (!n.userSubnet()) {
            throw NetworkException.invalid("user specified IP address is supported only when connecting to networks "
                    + "with user configured subnets");
        }
        if (!n.subnet().contains(a)) {
            throw NetworkException.invalid("no configured subnet or ip-range contain the IP address " + a);
        }
        if (a.equals(n.subnet().network()) || a.equals(n.subnet().broadcast())) {
            throw NetworkException.invalid("invalid address " + a + ": it is the network or broadcast address of "
                    + n.subnet());
        }
        if (a.equals(n.gateway()) || used.contains(a)) {
            throw NetworkException.conflict("Address already in use");
        }
        return a;
    }

    private static Ipv4Address lowestFree(Network n, Set<Ipv4Address> used) throws NetworkException {
        Ipv4Subnet s = n.subnet();
        for (long i = 1; i < s.size() - 1; i++) {
            Ipv4Address a = s.network().plus(i);
            if (!a.equals(n.gateway()) && !used.contains(a)) {
                return a;
            }
        }
        throw NetworkException.conflict("no available IPv4 addresses on this network's address pools: " + n.name()
                + " (" + n.id() + ")");
    }

    static Ipv4Subnet parseSubnet(String text) throws NetworkException {
        Ipv4Subnet subnet;
        try {
            subnet = Ipv4Subnet.parse(text);
        } catch (IllegalArgumentException e) {
            throw NetworkException.invalid("invalid network config: " + e.getMessage());
        }
        if (subnet.prefix() > 30) {
            throw NetworkException.invalid("invalid network config: subnet " + subnet + " is too small: a bridge network "
                    + "needs a prefix of /30 or shorter (network, gateway, a container, broadcast)");
        }
        return subnet;
    }

    static Ipv4Address parseGateway(String text, Ipv4Subnet subnet) throws NetworkException {
        Ipv4Address gateway;
        try {
            gateway = Ipv4Address.parse(text);
        } catch (IllegalArgumentException e) {
            throw NetworkException.invalid("invalid network config: invalid gateway: " + e.getMessage());
        }
        if (!subnet.contains(gateway)) {
            throw NetworkException.invalid("no matching subnet for gateway " + gateway);
        }
        if (gateway.equals(subnet.network()) || gateway.equals(subnet.broadcast())) {
            throw NetworkException.invalid("invalid network config: gateway " + gateway
                    + " is the network or broadcast address of " + subnet);
        }
        return gateway;
    }

    /** The {@code -o} options, checked and in their stored form. */
    static Map<String, String> options(Map<String, String> given) throws NetworkException {
        Map<String, String> out = new TreeMap<>();
        for (Map.Entry<String, String> e : given.entrySet()) {
            String k = e.getKey();
            String v = e.getValue() == null ? "" : e.getValue();
            if (!Network.OPTIONS.contains(k)) {
                throw NetworkException.invalid("unsupported bridge driver option " + k + " (Vessel supports "
                        + String.join(", ", new java.util.TreeSet<>(Network.OPTIONS)) + ")");
            }
            if (k.equals(Network.OPTION_BRIDGE_NAME) && !Network.validBridgeName(v)) {
                throw NetworkException.invalid("invalid bridge name \"" + v + "\": 1 to 15 of [a-zA-Z0-9_.-], "
                        + "not starting with . or -");
            }
            if (k.equals(Network.OPTION_MASQUERADE)) {
                String b = v.toLowerCase(Locale.ROOT);
                if (!b.equals("true") && !b.equals("false")) {
                    throw NetworkException.invalid("invalid value for " + k + ": \"" + v + "\" (true or false)");
                }
                v = b;
            }
            out.put(k, v);
        }
        return out;
    }

    private static NetworkException noPool() {
        return NetworkException.conflict("could not find an available, non-overlapping IPv4 address pool among the "
                + "defaults to assign to the network");
    }

    private static List<Ipv4Subnet> subnets(Document doc) {
        return doc.networks().stream().map(Network::subnet).toList();
    }

    private static Document with(Document doc, Network n) {
        List<Network> next = new ArrayList<>();
        boolean replaced = false;
        for (Network x : doc.networks()) {
            if (x.id().equals(n.id())) {
                next.add(n);
                replaced = true;
            } else {
                next.add(x);
            }
        }
        if (!replaced) {
            next.add(n);
        }
        return new Document(next);
    }

    static Optional<Network> find(List<Network> all, String ref) throws NetworkException {
        if (ref == null || ref.isEmpty()) {
            return Optional.empty();
        }
        for (Network n : all) {
            if (n.id().equals(ref)) {
                return Optional.of(n);
            }
        }
        for (Network n : all) {
            if (n.name().equals(ref)) {
                return Optional.of(n);
            }
        }
        if (!ref.matches("[0-9a-f]+")) {
            return Optional.empty();
        }
        List<Network> byPrefix = all.stream().filter(n -> n.id().startsWith(ref)).toList();
        if (byPrefix.size() > 1) {
            throw NetworkException.invalid("network " + ref + " is ambiguous (" + byPrefix.size()
                    + " matches found based on ID prefix)");
        }
        return byPrefix.stream().findFirst();
    }

    /** A fresh id whose short form no other network has (bridge names are made from it). */
    private static String newId(Document doc) {
        while (true) {
            String id = randomHex();
            if (doc.networks().stream().noneMatch(n -> n.shortId().equals(id.substring(0, 12)))) {
                return id;
            }
        }
    }

    private static String randomHex() {
        byte[] b = new byte[32];
        new SecureRandom().nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    // --- the document and its lock ---

    private Document read() throws IOException {
        Path f = dir.resolve(FILE);
        byte[] bytes;
        try {
            if (Files.size(f) > MAX_DOCUMENT) {
                throw new IOException(f + " is larger than a network store can be");
            }
            bytes = Files.readAllBytes(f);
        } catch (NoSuchFileException e) {
            return new Document(List.of());
        }
        Document doc = JSON.readValue(bytes, Document.class);
        return doc == null ? new Document(List.of()) : doc;
    }

    private void write(Document doc) throws IOException {
        Path target = dir.resolve(FILE);
        Path tmp = dir.resolve("." + FILE + "." + ProcessHandle.current().pid() + "." + Thread.currentThread().threadId()
                + ".tmp");
        try {
            try (FileChannel ch = PrivateFiles.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                    StandardOpenOption.WRITE)) {
                ByteBuffer b = ByteBuffer.wrap(JSON.writeValueAsBytes(doc));
                while (b.hasRemaining()) {
                    ch.write(b);
                }
                ch.force(true);
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (AtomicMoveNotSupportedException e) {
            throw new IOException("cannot replace " + target + " atomically", e);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }

    /** The store's lock, held until closed. */
    interface Locked extends AutoCloseable {
        @Override
        void close() throws IOException;
    }

    /** Takes the store's lock ({@link StoreLock}: between this process's threads and other processes). */
    Locked lock() throws IOException {
        return lock(dir.resolve(".lock"));
    }

    /** {@link #lock()} on another lock file of the store (see {@link NetworkService}). */
    Locked lock(Path file) throws IOException {
        return StoreLock.acquire(file)::close;
    }
}
