package dev.vessel.container;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.devices.virtio.net.MacAddress;
import dev.vessel.network.Endpoint;
import dev.vessel.network.Ipv4Address;
import dev.vessel.network.Ipv4Subnet;
import dev.vessel.network.Network;
import dev.vessel.vmm.NetConfig;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/** What a container's VM is told about its network, on the kernel command line its init reads. */
class GuestNetworkTest {
    static final String ID = "0123456789abcdef".repeat(4);

    static ContainerConfig config(ContainerNetworking net) {
        return ContainerStoreTest.config(ID, "web", "2026-01-01T00:00:00Z").withNetworking(net);
    }

    static Network network(String name, String subnet, String gateway, boolean internal, String bridge) {
        Ipv4Subnet s = Ipv4Subnet.parse(subnet);
        Ipv4Address a = s.network().plus(2);
        return new Network("ab".repeat(32), name, "bridge", s, Ipv4Address.parse(gateway), bridge, "2026-01-01T00:00:00Z",
                internal, true, Map.of(), Map.of(), Map.of(ID, new Endpoint("ef".repeat(32), "web", a, Endpoint.macFor(a))));
    }

    static ContainerNetworking on(String mode, List<String> dns, List<String> search, List<String> options, List<String> hosts) {
        return new ContainerNetworking(mode, List.of("ab".repeat(32)), dns, search, options, hosts, List.of());
    }

    /** The decoded value of a base64 vessel.KEY on the command line. */
    static String file(String cmdline, String key) {
        Matcher m = Pattern.compile(" vessel\\." + key + "=([A-Za-z0-9+/]*)(?: |$)").matcher(cmdline);
        assertTrue(m.find(), key + " in " + cmdline);
        return new String(Base64.getDecoder().decode(m.group(1)), StandardCharsets.UTF_8);
    }

    @Test
    void aCardPerNetworkPluggedIntoItsBridgeWithItsAddressAndDefaultRoute() throws Exception {
        Network n = network("front", "172.20.0.0/16", "172.20.0.1", false, "vb-abababababab");
        GuestNetwork g = GuestNetwork.plan(config(on("front", List.of(), List.of(), List.of(), List.of())), List.of(n), null);
        assertEquals(List.of(new NetConfig("vt0123456789a0", MacAddress.parse("02:42:ac:14:00:02"), "vb-abababababab")),
                g.nets());
        String cmdline = g.cmdline("console=ttyS0");
        assertTrue(cmdline.startsWith("console=ttyS0 vessel.net0=02:42:ac:14:00:02,172.20.0.2/16 vessel.gw=172.20.0.1 "),
                cmdline);
        assertEquals("nameserver 172.20.0.1\n", file(cmdline, "resolv"), "the network's resolver on its gateway");
        String hosts = file(cmdline, "hosts");
        assertTrue(hosts.startsWith("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"), hosts);
        assertTrue(hosts.endsWith("172.20.0.2\t0123456789ab\n"), "its own address under its hostname\n" + hosts);
    }

    @Test
    void resolverSettingsAndExtraHostsAsDockerWritesThem() throws Exception {
        Network n = network("front", "10.1.0.0/24", "10.1.0.1", false, "vb-abababababab");
        ContainerNetworking net = on("front", List.of("10.1.0.53", "10.9.9.9"), List.of("example.test", "corp.test"),
                List.of("ndots:2", "timeout:1"), List.of("db:10.1.0.7", "host.docker.internal:host-gateway"));
        String cmdline = GuestNetwork.plan(config(net), List.of(n), Ipv4Address.parse("10.0.2.2")).cmdline("");
        assertEquals("nameserver 10.1.0.53\nnameserver 10.9.9.9\nsearch example.test corp.test\noptions ndots:2 timeout:1\n",
                file(cmdline, "resolv"));
        String hosts = file(cmdline, "hosts");
        assertTrue(hosts.contains("\n10.1.0.7\tdb\n10.0.2.2\thost.docker.internal\n10.1.0.2\t0123456789ab\n"), hosts);
    }

    @Test
    void anInternalNetworkHasNoDefaultRoute() throws Exception {
        Network n = network("back", "10.2.0.0/24", "10.2.0.1", true, "vb-abababababab");
        GuestNetwork g = GuestNetwork.plan(config(on("back", List.of(), List.of(), List.of(), List.of())), List.of(n), null);
        assertNull(g.gateway());
        assertTrue(!g.cmdline("").contains("vessel.gw="), g.cmdline(""));
    }

    @Test
    void noneHasNoCardButStillItsFiles() throws Exception {
        GuestNetwork g = GuestNetwork.plan(config(ContainerNetworking.NONE), List.of(), null);
        assertEquals(List.of(), g.nets());
        String cmdline = g.cmdline("");
        assertTrue(!cmdline.contains("vessel.net0") && !cmdline.contains("vessel.gw"), cmdline);
        assertEquals("", file(cmdline, "resolv"));
        assertTrue(file(cmdline, "hosts").startsWith("127.0.0.1\tlocalhost\n"));
        ContainerNetworking gw = new ContainerNetworking("none", List.of(), List.of(), List.of(), List.of(),
                List.of("h:host-gateway"), List.of());
        ContainerException e = assertThrows(ContainerException.class, () -> GuestNetwork.plan(config(gw), List.of(), null));
        assertEquals(ContainerException.Kind.INVALID, e.kind());
    }

    @Test
    void aCommandLineTheKernelWouldCutIsRefused() throws Exception {
        Network n = network("front", "10.1.0.0/24", "10.1.0.1", false, "vb-abababababab");
        List<String> many = Collections.nCopies(60, "some-rather-long-host-name.example.test:10.1.0.9");
        GuestNetwork g = GuestNetwork.plan(config(on("front", List.of(), List.of(), List.of(), many)), List.of(n), null);
        ContainerException e = assertThrows(ContainerException.class, () -> g.cmdline("console=ttyS0"));
        assertEquals(ContainerException.Kind.INVALID, e.kind());
        assertTrue(e.getMessage().contains("at most 2047"), e.getMessage());
    }

    @Test
    void aContainerWithoutItsEndpointFailsClearly() {
        Network n = network("front", "10.1.0.0/24", "10.1.0.1", false, "vb-abababababab").withEndpoints(Map.of());
        ContainerException e = assertThrows(ContainerException.class,
                () -> GuestNetwork.plan(config(on("front", List.of(), List.of(), List.of(), List.of())), List.of(n), null));
        assertEquals("container web has no address on network front", e.getMessage());
    }
}
