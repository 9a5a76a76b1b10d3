package dev.vessel.network;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.lifecycle.AfterTry;
import net.jqwik.api.lifecycle.BeforeTry;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Address allocation: every address handed out is inside the subnet, never its network, broadcast
 * or gateway address, and never held by two containers; released addresses come back; a full
 * subnet says so in docker's words; an address asked for is had exactly when it is free.
 */
class IpamProperties {
    private Path dir;

    @BeforeTry
    void freshStore() throws Exception {
        dir = Files.createTempDirectory("vessel-ipam");
    }

    @AfterTry
    void removeStore() throws Exception {
        try (var files = Files.walk(dir)) {
            for (Path p : files.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    static String container(int i) {
        return String.format("%064x", i + 1);
    }

    /** A network on {@code 10.B.C.0/prefix} (inside 10.0.0.0/8) with its gateway at {@code gatewayIndex} (0: the default). */
    private Network network(NetworkStore store, int base, int prefix, int gatewayIndex) throws Exception {
        Ipv4Subnet subnet = Ipv4Subnet.containing(new Ipv4Address((10 << 24) | (base << 8)), prefix);
        String gateway = gatewayIndex == 0 ? null : subnet.network().plus(1 + gatewayIndex % (subnet.size() - 2)).toString();
        return store.create(CreateRequest.named("n").withSubnet(subnet.toString(), gateway), List.of());
    }

    @Property(tries = 40)
    void allocationsAreUniqueInsideAndNeverReservedUntilTheSubnetIsFull(
            @ForAll @IntRange(min = 0, max = 0xffff) int base, @ForAll @IntRange(min = 26, max = 30) int prefix,
            @ForAll @IntRange(min = 0, max = 100) int gatewayIndex) throws Exception {
        NetworkStore store = NetworkStore.open(dir);
        Network n = network(store, base, prefix, gatewayIndex);
        Set<Ipv4Address> seen = new HashSet<>();
        long usable = n.subnet().size() - 3;
        for (int i = 0; i < usable; i++) {
            Ipv4Address a = store.allocate("n", NetworkStore.EndpointRequest.of(container(i), "c" + i)).address();
            assertTrue(n.subnet().contains(a), a + " outside " + n.subnet());
            assertNotEquals(n.subnet().network(), a);
            assertNotEquals(n.subnet().broadcast(), a);
            assertNotEquals(n.gateway(), a);
            assertTrue(seen.add(a), a + " handed out twice");
        }
        NetworkException full = assertThrows(NetworkException.class,
                () -> store.allocate("n", NetworkStore.EndpointRequest.of(container((int) usable), "last")));
        assertEquals("no available IPv4 addresses on this network's address pools: n (" + n.id() + ")", full.getMessage());
        assertEquals(NetworkException.Kind.CONFLICT, full.kind());
        // What the store says after a restart is what it handed out.
        Set<Ipv4Address> stored = new HashSet<>();
        NetworkStore.open(dir).require("n").endpoints().values().forEach(e -> stored.add(e.address()));
        assertEquals(seen, stored);
    }

    @Property(tries = 60)
    void releasedAddressesComeBackLowestFirst(@ForAll("operations") List<Integer> ops) throws Exception {
        NetworkStore store = NetworkStore.open(dir);
        Network n = network(store, 7, 28, 0);
        // The model: container -> address; allocation takes the lowest free address.
        Map<Integer, Ipv4Address> model = new LinkedHashMap<>();
        TreeSet<Ipv4Address> free = new TreeSet<>();
        for (long i = 2; i < n.subnet().size() - 1; i++) {
            free.add(n.subnet().network().plus(i));
        }
        for (int op : ops) {
            int c = Math.abs(op) % 16;
            if (op >= 0 && !model.containsKey(c) && !free.isEmpty()) {
                Ipv4Address a = store.allocate("n", NetworkStore.EndpointRequest.of(container(c), "c")).address();
                assertEquals(free.pollFirst(), a);
                model.put(c, a);
            } else if (op < 0) {
                boolean had = model.containsKey(c);
                assertEquals(had, store.release("n", container(c)));
                if (had) {
                    free.add(model.remove(c));
                }
            }
            Map<String, Endpoint> stored = store.require("n").endpoints();
            assertEquals(model.size(), stored.size());
            model.forEach((k, v) -> assertEquals(v, stored.get(container(k)).address()));
        }
    }

    @Provide
    Arbitrary<List<Integer>> operations() {
        return Arbitraries.integers().between(-15, 15).list().ofMaxSize(40);
    }

    @Property(tries = 60)
    void anAddressAskedForIsHadExactlyWhenItIsFreeAndInside(@ForAll @IntRange(min = 0, max = 40) int taken,
                                                            @ForAll @IntRange(min = 0, max = 70) int wanted) throws Exception {
        NetworkStore store = NetworkStore.open(dir);
        Network n = network(store, 9, 27, 0); // 10.0.9.0/27: .0 network, .1 gateway, .31 broadcast
        for (int i = 0; i < taken % 30; i++) {
            store.allocate("n", NetworkStore.EndpointRequest.of(container(i), "c"));
        }
        Set<Ipv4Address> used = new HashSet<>();
        store.require("n").endpoints().values().forEach(e -> used.add(e.address()));
        Ipv4Address want = n.subnet().network().plus(wanted);
        NetworkStore.EndpointRequest request = new NetworkStore.EndpointRequest(container(99), "asker", want, null, null);
        boolean free = wanted >= 2 && wanted <= 30 && !used.contains(want);
        if (free) {
            assertEquals(want, store.allocate("n", request).address());
        } else {
            NetworkException e = assertThrows(NetworkException.class, () -> store.allocate("n", request));
            String expected = wanted >= 32 ? "no configured subnet or ip-range contain the IP address " + want
                    : wanted == 0 || wanted == 31 ? "invalid address " + want + ": it is the network or broadcast address of " + n.subnet()
                    : "Address already in use";
            assertEquals(expected, e.getMessage());
            assertFalse(store.require("n").endpoints().containsKey(container(99)), "nothing half-made");
        }
    }

    @Property(tries = 5)
    void askingIsOnlyForNetworksWithAGivenSubnet(@ForAll @IntRange(min = 2, max = 200) int host) throws Exception {
        NetworkStore store = NetworkStore.open(dir);
        Network d = store.ensureDefault(List.of());
        Network chosen = store.create(CreateRequest.named("chosen"), List.of());
        NetworkException onDefault = assertThrows(NetworkException.class, () -> store.allocate("bridge",
                new NetworkStore.EndpointRequest(container(1), "c", d.subnet().network().plus(host), null, null)));
        assertEquals("user specified IP address is supported on user defined networks only", onDefault.getMessage());
        NetworkException onChosen = assertThrows(NetworkException.class, () -> store.allocate("chosen",
                new NetworkStore.EndpointRequest(container(1), "c", chosen.subnet().network().plus(host), null, null)));
        assertEquals("user specified IP address is supported only when connecting to networks with user configured subnets",
                onChosen.getMessage());
    }

    @Property(tries = 10)
    void macAddressesAreDockersOrTheOneAskedForAndUniqueInTheNetwork(@ForAll @IntRange(min = 1, max = 250) int octet)
            throws Exception {
        NetworkStore store = NetworkStore.open(dir);
        store.create(CreateRequest.named("n").withSubnet("192.168.77.0/24", null), List.of());
        String mac = String.format("02:00:00:00:00:%02x", octet);
        Endpoint asked = store.allocate("n", new NetworkStore.EndpointRequest(container(1), "a", null, mac.toUpperCase(), null));
        assertEquals(mac, asked.macAddress());
        Endpoint derived = store.allocate("n", NetworkStore.EndpointRequest.of(container(2), "b"));
        assertEquals("02:42:c0:a8:4d:03", derived.macAddress());
        assertEquals(NetworkException.Kind.CONFLICT, assertThrows(NetworkException.class,
                () -> store.allocate("n", new NetworkStore.EndpointRequest(container(3), "c", null, mac, null))).kind());
        assertEquals(NetworkException.Kind.INVALID, assertThrows(NetworkException.class,
                () -> store.allocate("n", new NetworkStore.EndpointRequest(container(3), "c", null, "01:00:00:00:00:01", null))).kind());
        assertEquals("endpoint with name a already exists in network n", assertThrows(NetworkException.class,
                () -> store.allocate("n", NetworkStore.EndpointRequest.of(container(1), "a"))).getMessage());
        List<String> ids = new ArrayList<>(store.require("n").endpoints().keySet());
        assertEquals(List.of(container(1), container(2)), ids);
    }
}
