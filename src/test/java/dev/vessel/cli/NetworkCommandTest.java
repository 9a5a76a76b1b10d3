package dev.vessel.cli;

import dev.vessel.network.Ipv4Address;
import dev.vessel.network.Ipv4Subnet;
import dev.vessel.network.Network;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * `vessel network`: docker's table, its exit statuses and messages. Only commands that never reach
 * the host where bridges live run here (no create that succeeds: that would start the helper
 * machine or change this host's network).
 */
class NetworkCommandTest {
    @TempDir
    Path root;

    record Run(int status, String out, String err) {}

    private Run vessel(String... args) {
        VesselCli.Result r = VesselCli.run(root.resolve("state"), "", args);
        return new Run(r.status(), r.outText(), r.err());
    }

    private static Network network(String id, String name) {
        return new Network(id, name, "bridge", Ipv4Subnet.parse("10.0.0.0/24"), Ipv4Address.parse("10.0.0.1"), "x",
                "t", false, false, Map.of(), Map.of(), Map.of());
    }

    @Test
    void lsIsDockersTable() {
        List<Network> ns = List.of(network("a".repeat(64), "bridge"), network("b".repeat(64), "a-longer-name"));
        assertEquals("""
                NETWORK ID     NAME            DRIVER    SCOPE
                aaaaaaaaaaaa   bridge          bridge    local
                bbbbbbbbbbbb   a-longer-name   bridge    local
                """, NetworkCommand.Ls.table(ns, false, false));
        assertEquals("a".repeat(64) + "\n" + "b".repeat(64) + "\n", NetworkCommand.Ls.table(ns, true, true));
    }

    @Test
    void theDefaultNetworkIsListedAndInspectedFromTheStart() {
        Run ls = vessel("network", "ls");
        assertEquals(0, ls.status(), ls.toString());
        assertTrue(ls.out().startsWith("NETWORK ID     NAME      DRIVER    SCOPE\n"), ls.out());
        assertTrue(ls.out().matches("(?s).*\n[0-9a-f]{12}   bridge    bridge    local\n"), ls.out());
        Run inspect = vessel("network", "inspect", "bridge");
        assertEquals(0, inspect.status(), inspect.toString());
        assertTrue(inspect.out().contains("\"com.docker.network.bridge.name\" : \"vessel0\""), inspect.out());
    }

    @Test
    void failuresAreDockersLinesWithStatusOne() {
        Run rmDefault = vessel("network", "rm", "bridge");
        assertEquals(new Run(1, "", "Error response from daemon: bridge is a pre-defined network and cannot be removed\n"),
                rmDefault);
        assertEquals(new Run(1, "", "Error response from daemon: network nope not found\n"), vessel("network", "rm", "nope"));
        assertEquals(new Run(0, "", ""), vessel("network", "rm", "-f", "nope"));
        Run inspect = vessel("network", "inspect", "bridge", "nope");
        assertEquals(1, inspect.status());
        assertTrue(inspect.out().contains("\"Name\" : \"bridge\""), "the networks found are shown: " + inspect.out());
        assertEquals("Error response from daemon: network nope not found\n", inspect.err());
        // Inside the default network's subnet, whichever pool it got on this host (a host with
        // docker's own docker0 has 172.17.0.0/16 taken, and the default network moves on).
        java.util.regex.Matcher subnet = java.util.regex.Pattern.compile("\"Subnet\" : \"([0-9]+\\.[0-9]+\\.[0-9]+)\\.0/")
                .matcher(vessel("network", "inspect", "bridge").out());
        assertTrue(subnet.find(), "the default network's subnet");
        Run overlap = vessel("network", "create", "--subnet", subnet.group(1) + ".0/24", "x");
        assertEquals(1, overlap.status());
        assertTrue(overlap.err().contains("Pool overlaps with other one on this address space"), overlap.err());
        Run badSubnet = vessel("network", "create", "--subnet", "10.1.2.3/24", "x");
        assertEquals(new Run(1, "", "Error response from daemon: invalid network config: invalid subnet 10.1.2.3/24: "
                + "it should be 10.1.2.0/24\n"), badSubnet);
    }

    @Test
    void aBadCommandLineIsStatusTwo() {
        assertEquals(2, vessel("network", "create", "-o", "novalue", "x").status());
        assertEquals(2, vessel("network", "create").status());
        assertEquals(2, vessel("network", "create", "--subnet", "10.0.0.0/24", "--subnet", "10.1.0.0/24", "x").status());
        assertEquals(2, vessel("network", "rm").status());
    }

    @Test
    void keyValuePairs() throws Exception {
        assertEquals(Map.of("a", "b=c", "k", ""), NetworkCommand.pairs(List.of("a=b=c", "k"), "label", true));
        assertEquals(Map.of("k", ""), NetworkCommand.pairs(List.of("k="), "driver option", false));
        assertThrows(UserError.class, () -> NetworkCommand.pairs(List.of("k"), "driver option", false));
        assertThrows(UserError.class, () -> NetworkCommand.pairs(List.of("=v"), "label", true));
    }

    @Test
    void everyVerbHasHelp() {
        for (String verb : List.of("create", "ls", "inspect", "rm", "prune")) {
            Run help = vessel("network", verb, "--help");
            assertEquals(0, help.status(), verb);
            assertTrue(help.out().startsWith("Usage: vessel network " + verb), help.out());
        }
    }
}
