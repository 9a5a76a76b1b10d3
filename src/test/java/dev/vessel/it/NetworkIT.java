package dev.vessel.it;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * `vessel network create` makes a bridge with the gateway address and Vessel's NAT rules where the
 * VMs run (the helper machine, or this host), and `network rm` takes them away again, each
 * network's own and nothing else. No traffic is sent. The networks' subnets are Vessel's choice,
 * which avoids the routes of that host; what the test makes, it removes.
 */
@ExtendWith(HelperMachineExtension.class)
class NetworkIT {
    private static final String IP = "/usr/sbin/ip";
    private static final List<String> NAMES = List.of("vit-net-a", "vit-net-b");

    private static String ok(VesselCli.Result r) {
        assertEquals(0, r.status(), r.toString());
        return r.stdout();
    }

    /** What a network looks like to the test: its inspect output and the bridge derived from its id. */
    record Made(String id, String subnet, String gateway, String bridge) {
        String chainSuffix() {
            return id.substring(0, 12);
        }

        int prefix() {
            return Integer.parseInt(subnet.substring(subnet.indexOf('/') + 1));
        }
    }

    private static Made create(String name) throws Exception {
        String id = ok(VesselCli.run(Duration.ofMinutes(6), null, "network", "create", name)).strip();
        assertTrue(id.matches("[0-9a-f]{64}"), id);
        JsonNode inspect = new ObjectMapper().readTree(ok(VesselCli.run("network", "inspect", name)));
        assertEquals(1, inspect.size());
        assertEquals(id, inspect.get(0).get("Id").asText());
        return new Made(id, inspect.at("/0/IPAM/Config/0/Subnet").asText(), inspect.at("/0/IPAM/Config/0/Gateway").asText(),
                "vb-" + id.substring(0, 12));
    }

    @BeforeEach
    @AfterEach
    void removeTestNetworks() throws Exception {
        for (String name : NAMES) {
            VesselCli.run("network", "rm", "-f", name);
        }
    }

    private static void assertBridgeAndRules(Made n) throws Exception {
        String link = ok(BridgeHost.run(IP + " -d link show dev " + n.bridge()));
        assertTrue(link.contains("\n    bridge "), "not a bridge: " + link);
        assertTrue(link.matches("(?s)^[0-9]+: " + n.bridge() + ": <[^>]*\\bUP\\b[^>]*>.*"), "not up: " + link);
        assertTrue(link.contains("alias vessel network " + n.chainSuffix()), "not marked as Vessel's: " + link);
        String addr = ok(BridgeHost.run(IP + " -4 -o addr show dev " + n.bridge()));
        assertTrue(addr.contains(" inet " + n.gateway() + "/" + n.prefix() + " "), addr);
        String nat = ok(BridgeHost.run("nft list chain ip vessel nat_" + n.chainSuffix()));
        assertTrue(nat.contains("type nat hook postrouting priority srcnat; policy accept;"), nat);
        assertTrue(nat.contains("ip saddr " + n.subnet() + " oifname != \"" + n.bridge() + "\" masquerade"), nat);
        String fwd = ok(BridgeHost.run("nft list chain ip vessel fwd_" + n.chainSuffix()));
        assertTrue(fwd.contains("type filter hook forward priority filter; policy accept;"), fwd);
        assertTrue(fwd.contains("iifname \"" + n.bridge() + "\" oifname != \"" + n.bridge() + "\" accept"), fwd);
        assertTrue(fwd.contains("oifname \"" + n.bridge() + "\" ct state established,related accept"), fwd);
        assertEquals("1", ok(BridgeHost.run("cat /proc/sys/net/ipv4/ip_forward")).strip());
        // Its resolver: dnsmasq, bound to the gateway address only.
        String resolver = ok(BridgeHost.run("p=$(cat /run/vessel/dns/" + n.chainSuffix() + ".pid) && cat /proc/$p/comm "
                + "&& tr '\\0' ' ' < /proc/$p/cmdline"));
        assertTrue(resolver.startsWith("dnsmasq\n"), resolver);
        assertTrue(resolver.contains("--listen-address=" + n.gateway() + " "), resolver);
    }

    private static void assertGone(Made n) throws Exception {
        assertNotEquals(0, BridgeHost.run(IP + " link show dev " + n.bridge()).status(), "the bridge " + n.bridge() + " is left");
        String ruleset = ok(BridgeHost.run("nft list ruleset"));
        assertFalse(ruleset.contains(n.chainSuffix()), "a chain of the removed network is left:\n" + ruleset);
        assertFalse(ruleset.contains(n.subnet()), "a rule of the removed network is left:\n" + ruleset);
        String dns = ok(BridgeHost.run("ls /run/vessel/dns/ 2>/dev/null; for c in /proc/[0-9]*/cmdline; do "
                + "tr '\\0' ' ' < $c 2>/dev/null; echo; done"));
        assertFalse(dns.contains(n.chainSuffix()), "the resolver of the removed network is left:\n" + dns);
    }

    @Test
    void twoNetworksGetTheirOwnSubnetsBridgesAndRulesAndLeaveNothingWhenRemoved() throws Exception {
        Made a = create("vit-net-a");
        assertBridgeAndRules(a);
        VesselCli.Result again = VesselCli.run("network", "create", "vit-net-a");
        assertEquals(1, again.status(), again.toString());
        assertEquals("Error response from daemon: network with name vit-net-a already exists\n", again.stderr());

        Made b = create("vit-net-b");
        assertNotEquals(a.subnet(), b.subnet());
        assertNotEquals(a.bridge(), b.bridge());
        assertBridgeAndRules(b);
        assertTrue(ok(VesselCli.run("network", "ls")).contains(" vit-net-b "));

        // Removing one network touches only its own bridge and rules.
        assertEquals("vit-net-a\n", ok(VesselCli.run("network", "rm", "vit-net-a")));
        assertGone(a);
        assertBridgeAndRules(b);

        assertEquals("vit-net-b\n", ok(VesselCli.run("network", "rm", "vit-net-b")));
        assertGone(b);
        // Vessel's table goes with its last chain (other networks of this host may still have theirs).
        VesselCli.Result table = BridgeHost.run("nft list table ip vessel");
        assertTrue(table.status() != 0 || table.stdout().contains("\tchain "), "an empty table is left:\n" + table);
        assertFalse(ok(VesselCli.run("network", "ls")).contains("vit-net-"));
    }
}
