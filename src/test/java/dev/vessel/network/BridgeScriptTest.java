package dev.vessel.network;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The bridge script's command lines carry only checked values, as arguments; the script is valid
 * sh and refuses bad arguments itself before it runs any tool (these tests never let it reach one:
 * they run on the build host).
 */
class BridgeScriptTest {
    private static final String ID = "0123456789ab" + "c".repeat(52);

    private static Network network(String id, String bridge, boolean internal, Map<String, String> options) {
        return new Network(id, "web", "bridge", Ipv4Subnet.parse("172.20.0.0/16"), Ipv4Address.parse("172.20.0.1"),
                bridge, "2025-01-01T00:00:00Z", internal, false, Map.of(), options, Map.of());
    }

    @Test
    void theCommandLineIsTheScriptAndItsArguments() {
        List<String> argv = BridgeScript.ensure(network(ID, "vb-0123456789ab", false, Map.of()));
        assertEquals(List.of("/bin/sh", "-c"), argv.subList(0, 2));
        assertEquals(BridgeScript.script(), argv.get(2));
        assertEquals(List.of("vessel-network", "ensure", "0123456789ab", "vb-0123456789ab", "172.20.0.0/16", "172.20.0.1/16", "nat"),
                argv.subList(3, argv.size()));
        assertEquals("remove", BridgeScript.remove(network(ID, "vb-0123456789ab", false, Map.of())).get(4));
        assertEquals("internal", BridgeScript.ensure(network(ID, "x", true, Map.of())).getLast());
        assertEquals("routed", BridgeScript.ensure(network(ID, "x", false, Map.of(Network.OPTION_MASQUERADE, "false"))).getLast());
        assertFalse(BridgeScript.script().contains("\n#"), "comment lines are not sent");
    }

    @Test
    void aRecordWithBadValuesNeverBecomesACommand() {
        for (String bridge : List.of("a;reboot", "-x", "much-too-long-name", "", "a b", "..", "$(x)")) {
            assertThrows(IllegalArgumentException.class, () -> BridgeScript.ensure(network(ID, bridge, false, Map.of())), bridge);
        }
        for (String id : List.of("0123", "G".repeat(64), ID + "0")) {
            assertThrows(IllegalArgumentException.class, () -> BridgeScript.remove(network(id, "x", false, Map.of())), id);
        }
        Network wrongGateway = new Network(ID, "w", "bridge", Ipv4Subnet.parse("10.0.0.0/24"), Ipv4Address.parse("10.0.1.1"),
                "x", "t", false, false, Map.of(), Map.of(), Map.of());
        assertThrows(IllegalArgumentException.class, () -> BridgeScript.ensure(wrongGateway));
    }

    private static ProcessResult sh(List<String> args) throws Exception {
        List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c", BridgeScript.script(), "vessel-network"));
        argv.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(argv).redirectErrorStream(true);
        // Should a check fail to stop the script, it must find no tool to run.
        pb.environment().put("PATH", "/nonexistent");
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        return new ProcessResult(p.exitValue(), out);
    }

    record ProcessResult(int status, String output) {}

    @Test
    void theScriptIsValidSh() throws Exception {
        Process p = new ProcessBuilder("/bin/sh", "-n", "-c", BridgeScript.script()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
    }

    @Test
    void theScriptRefusesBadArgumentsBeforeRunningAnything() throws Exception {
        List<List<String>> bad = List.of(
                List.of("ensure", "0123456789ab", "vb-x", "10.0.0.0/24", "10.0.0.1/24"),
                List.of("create", "0123456789ab", "vb-x", "10.0.0.0/24", "10.0.0.1/24", "nat"),
                List.of("ensure", "0123456789aZ", "vb-x", "10.0.0.0/24", "10.0.0.1/24", "nat"),
                List.of("ensure", "0123456789a", "vb-x", "10.0.0.0/24", "10.0.0.1/24", "nat"),
                List.of("ensure", "0123456789ab", "vb;x", "10.0.0.0/24", "10.0.0.1/24", "nat"),
                List.of("ensure", "0123456789ab", "-x", "10.0.0.0/24", "10.0.0.1/24", "nat"),
                List.of("ensure", "0123456789ab", "vb-0123456789abc", "10.0.0.0/24", "10.0.0.1/24", "nat"),
                List.of("ensure", "0123456789ab", "vb-x", "10.0.0.0/24;", "10.0.0.1/24", "nat"),
                List.of("ensure", "0123456789ab", "vb-x", "10.0.0.0", "10.0.0.1/24", "nat"),
                List.of("ensure", "0123456789ab", "vb-x", "10.0.0.0/24", "10.0.0.1/24/1", "nat"),
                List.of("remove", "0123456789ab", "vb-x", "10.0.0.0/24", "10.0.0.1/24", "masq"));
        for (List<String> args : bad) {
            ProcessResult r = sh(args);
            assertEquals(1, r.status(), args + ": " + r.output());
            assertTrue(r.output().startsWith("vessel-network: "), args + ": " + r.output());
            assertFalse(r.output().contains("not found"), "no tool was looked for: " + r.output());
        }
    }
}
