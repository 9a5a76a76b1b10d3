package dev.vessel.network;

import dev.vessel.host.PrivateFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NetworkStoreTest {
    @TempDir
    Path tmp;

    private static final String C1 = "1".repeat(64);
    private static final String C2 = "2".repeat(64);

    private NetworkStore store() throws Exception {
        return NetworkStore.open(tmp.resolve("networks"));
    }

    private static NetworkException fails(NetworkException.Kind kind, ThrowingAction a) {
        NetworkException e = assertThrows(NetworkException.class, a::run);
        assertEquals(kind, e.kind(), e.getMessage());
        return e;
    }

    interface ThrowingAction {
        void run() throws Exception;
    }

    @Test
    void aCreatedNetworkIsFoundByNameIdAndPrefixAndSurvivesReopening() throws Exception {
        NetworkStore s = store();
        Network n = s.create(CreateRequest.named("web"), List.of());
        assertTrue(n.id().matches("[0-9a-f]{64}"));
        assertEquals("vb-" + n.id().substring(0, 12), n.bridge());
        assertTrue(n.bridge().length() <= 15);
        assertEquals("172.17.0.0/16", n.subnet().toString());
        assertEquals("172.17.0.1", n.gateway().toString());
        assertFalse(n.userSubnet());
        NetworkStore again = store();
        assertEquals(n, again.require("web"));
        assertEquals(n, again.require(n.id()));
        assertEquals(n, again.require(n.id().substring(0, 5)));
        assertEquals("network nope not found", fails(NetworkException.Kind.NOT_FOUND, () -> again.require("nope")).getMessage());
    }

    @Test
    void theStoreIsPrivateToItsOwner() throws Exception {
        NetworkStore s = store();
        s.create(CreateRequest.named("web"), List.of());
        assertTrue(PrivateFiles.isPrivate(s.dir()));
        assertTrue(PrivateFiles.isPrivate(s.dir().resolve(NetworkStore.FILE)));
    }

    @Test
    void theDefaultNetworkIsMadeOnceAndCannotBeRemoved() throws Exception {
        NetworkStore s = store();
        Network d = s.ensureDefault(List.of(Ipv4Subnet.parse("172.17.0.0/16")));
        assertEquals(Network.DEFAULT_NAME, d.name());
        assertEquals(Network.DEFAULT_BRIDGE, d.bridge());
        assertEquals("172.18.0.0/16", d.subnet().toString(), "a route of the host is avoided");
        assertEquals(d, s.ensureDefault(List.of()));
        assertEquals("bridge is a pre-defined network and cannot be removed",
                fails(NetworkException.Kind.FORBIDDEN, () -> s.remove("bridge")).getMessage());
        assertEquals("network with name bridge already exists",
                fails(NetworkException.Kind.CONFLICT, () -> s.create(CreateRequest.named("bridge"), List.of())).getMessage());
    }

    @Test
    void theDefaultNameIsTakenEvenBeforeTheDefaultNetworkIsMade() throws Exception {
        NetworkStore s = store();
        fails(NetworkException.Kind.CONFLICT, () -> s.create(CreateRequest.named("bridge"), List.of()));
        fails(NetworkException.Kind.FORBIDDEN, () -> s.create(CreateRequest.named("host"), List.of()));
        fails(NetworkException.Kind.FORBIDDEN, () -> s.create(CreateRequest.named("none"), List.of()));
        assertEquals(List.of(), s.list());
    }

    @Test
    void namesAndSubnetsAreUnique() throws Exception {
        NetworkStore s = store();
        s.create(CreateRequest.named("a").withSubnet("10.10.0.0/16", null), List.of());
        assertEquals("network with name a already exists",
                fails(NetworkException.Kind.CONFLICT, () -> s.create(CreateRequest.named("a"), List.of())).getMessage());
        NetworkException overlap = fails(NetworkException.Kind.CONFLICT,
                () -> s.create(CreateRequest.named("b").withSubnet("10.10.5.0/24", null), List.of()));
        assertTrue(overlap.getMessage().contains("Pool overlaps with other one on this address space"), overlap.getMessage());
        fails(NetworkException.Kind.CONFLICT, () -> s.create(CreateRequest.named("c").withSubnet("10.0.0.0/8", null), List.of()));
        // Chosen subnets skip given ones, and the next choice skips the previous one.
        Network d = s.create(CreateRequest.named("d"), List.of());
        Network e = s.create(CreateRequest.named("e"), List.of());
        assertEquals("172.17.0.0/16", d.subnet().toString());
        assertEquals("172.18.0.0/16", e.subnet().toString());
    }

    @Test
    void aGivenSubnetMayOverlapARouteAsDockerAllowsButAChosenOneMayNot() throws Exception {
        NetworkStore s = store();
        List<Ipv4Subnet> routes = List.of(Ipv4Subnet.parse("172.16.0.0/12"));
        assertEquals("172.20.0.0/16", s.create(CreateRequest.named("given").withSubnet("172.20.0.0/16", null), routes)
                .subnet().toString());
        assertEquals("192.168.0.0/20", s.create(CreateRequest.named("chosen"), routes).subnet().toString());
    }

    @Test
    void whenEveryPoolIsTakenDockersMessage() throws Exception {
        NetworkStore s = store();
        List<Ipv4Subnet> everything = List.of(Ipv4Subnet.parse("172.16.0.0/12"), Ipv4Subnet.parse("192.168.0.0/16"));
        assertEquals("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network",
                fails(NetworkException.Kind.CONFLICT, () -> s.create(CreateRequest.named("x"), everything)).getMessage());
    }

    @Test
    void gatewaysAreCheckedAgainstTheSubnet() throws Exception {
        NetworkStore s = store();
        Network n = s.create(CreateRequest.named("g").withSubnet("10.5.0.0/24", "10.5.0.254"), List.of());
        assertEquals("10.5.0.254", n.gateway().toString());
        assertTrue(n.userSubnet());
        assertEquals("no matching subnet for gateway 10.6.0.1", fails(NetworkException.Kind.INVALID,
                () -> s.create(CreateRequest.named("h").withSubnet("10.6.1.0/24", "10.6.0.1"), List.of())).getMessage());
        fails(NetworkException.Kind.INVALID, () -> s.create(CreateRequest.named("h").withSubnet("10.6.1.0/24", "10.6.1.0"), List.of()));
        fails(NetworkException.Kind.INVALID, () -> s.create(CreateRequest.named("h").withSubnet("10.6.1.0/24", "10.6.1.255"), List.of()));
        fails(NetworkException.Kind.INVALID, () -> s.create(CreateRequest.named("h").withSubnet("10.6.1.0/24", "10.6.1.x"), List.of()));
        assertEquals("every ip-range or gateway must have a corresponding subnet", fails(NetworkException.Kind.INVALID,
                () -> s.create(CreateRequest.named("h").withSubnet(null, "10.6.1.1"), List.of())).getMessage());
        assertEquals(List.of("g"), s.list().stream().map(Network::name).toList(), "nothing half-made");
    }

    @Test
    void badNamesSubnetsDriversAndOptionsAreRefused() throws Exception {
        NetworkStore s = store();
        for (String name : new String[] {"", "-x", ".x", "a b", "a/b", "a;b", "x".repeat(129), "é"}) {
            fails(NetworkException.Kind.INVALID, () -> s.create(CreateRequest.named(name), List.of()));
        }
        assertEquals("invalid network config: invalid subnet 10.1.2.3/24: it should be 10.1.2.0/24", fails(
                NetworkException.Kind.INVALID, () -> s.create(CreateRequest.named("x").withSubnet("10.1.2.3/24", null), List.of()))
                .getMessage());
        for (String subnet : new String[] {"10.0.0.0", "10.0.0.0/31", "10.0.0.0/32", "fd00::/64", "10.0.0.0/24; reboot"}) {
            fails(NetworkException.Kind.INVALID, () -> s.create(CreateRequest.named("x").withSubnet(subnet, null), List.of()));
        }
        fails(NetworkException.Kind.INVALID, () -> s.create(
                new CreateRequest("x", "overlay", null, null, Map.of(), Map.of(), false), List.of()));
        for (Map<String, String> o : List.of(Map.of("com.docker.network.driver.mtu", "1400"),
                Map.of(Network.OPTION_BRIDGE_NAME, "much-too-long-name"), Map.of(Network.OPTION_BRIDGE_NAME, "-x"),
                Map.of(Network.OPTION_BRIDGE_NAME, "a b"), Map.of(Network.OPTION_BRIDGE_NAME, "a;b"),
                Map.of(Network.OPTION_BRIDGE_NAME, ""), Map.of(Network.OPTION_MASQUERADE, "maybe"))) {
            fails(NetworkException.Kind.INVALID, () -> s.create(new CreateRequest("x", null, null, null, Map.of(), o, false), List.of()));
        }
        fails(NetworkException.Kind.INVALID, () -> s.create(
                new CreateRequest("x", null, null, null, Map.of("", "v"), Map.of(), false), List.of()));
        assertEquals(List.of(), s.list());
    }

    @Test
    void optionsAndLabelsAreKept() throws Exception {
        NetworkStore s = store();
        Network n = s.create(new CreateRequest("o", "bridge", null, null, Map.of("team", "web", "empty", ""),
                Map.of(Network.OPTION_BRIDGE_NAME, "br-o", Network.OPTION_MASQUERADE, "FALSE"), true), List.of());
        assertEquals("br-o", n.bridge());
        assertEquals("false", n.options().get(Network.OPTION_MASQUERADE));
        assertTrue(n.internal());
        assertFalse(n.masquerade());
        assertEquals(Map.of("team", "web", "empty", ""), store().require("o").labels());
        assertEquals("bridge name br-o is already used by network o", fails(NetworkException.Kind.CONFLICT, () -> s.create(
                new CreateRequest("p", null, null, null, Map.of(), Map.of(Network.OPTION_BRIDGE_NAME, "br-o"), false), List.of()))
                .getMessage());
        fails(NetworkException.Kind.CONFLICT, () -> s.create(new CreateRequest("p", null, null, null, Map.of(),
                Map.of(Network.OPTION_BRIDGE_NAME, Network.DEFAULT_BRIDGE), false), List.of()));
    }

    @Test
    void aNetworkWithEndpointsIsNotRemovedUntilTheyAreReleased() throws Exception {
        NetworkStore s = store();
        Network n = s.create(CreateRequest.named("busy"), List.of());
        Endpoint e = s.allocate("busy", NetworkStore.EndpointRequest.of(C1, "web"));
        assertEquals("172.17.0.2", e.address().toString());
        assertEquals("02:42:ac:11:00:02", e.macAddress());
        assertEquals("error while removing network: network busy id " + n.id() + " has active endpoints",
                fails(NetworkException.Kind.CONFLICT, () -> s.remove("busy")).getMessage());
        assertTrue(s.release("busy", C1));
        assertFalse(s.release("busy", C1));
        assertEquals(n.id(), s.remove("busy").id());
        assertEquals(List.of(), s.list());
    }

    @Test
    void releaseAllFreesAContainerEverywhere() throws Exception {
        NetworkStore s = store();
        s.create(CreateRequest.named("a"), List.of());
        s.create(CreateRequest.named("b"), List.of());
        s.allocate("a", NetworkStore.EndpointRequest.of(C1, "one"));
        s.allocate("b", NetworkStore.EndpointRequest.of(C1, "one"));
        s.allocate("b", NetworkStore.EndpointRequest.of(C2, "two"));
        assertEquals(List.of("a", "b"), s.releaseAll(C1).stream().map(Network::name).toList());
        assertTrue(s.require("a").endpoints().isEmpty());
        assertEquals(List.of(C2), List.copyOf(s.require("b").endpoints().keySet()));
        assertEquals(List.of(), s.releaseAll(C1));
    }

    @Test
    void anAmbiguousIdPrefixIsRefused() throws Exception {
        NetworkStore s = store();
        // Sixteen networks share at least one first hex digit with another.
        for (int i = 0; i < 17; i++) {
            s.create(CreateRequest.named("n" + i).withSubnet("10." + i + ".0.0/16", null), List.of());
        }
        String shared = null;
        java.util.Map<Character, Integer> count = new java.util.HashMap<>();
        for (Network n : s.list()) {
            if (count.merge(n.id().charAt(0), 1, Integer::sum) > 1) {
                shared = String.valueOf(n.id().charAt(0));
            }
        }
        String prefix = shared;
        assertTrue(fails(NetworkException.Kind.INVALID, () -> s.find(prefix)).getMessage()
                .startsWith("network " + prefix + " is ambiguous ("));
    }

    @Test
    void aDocumentFromAnotherVersionWithMoreFieldsIsRead() throws Exception {
        NetworkStore s = store();
        Network n = s.create(CreateRequest.named("x"), List.of());
        Path f = s.dir().resolve(NetworkStore.FILE);
        Files.writeString(f, Files.readString(f).replace("\"name\"", "\"future\" : 1, \"name\""));
        assertEquals(n, store().require("x"));
    }
}
