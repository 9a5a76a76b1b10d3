package dev.vessel.it;

import dev.vessel.host.HostCapabilities;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The helper machine's substrate for container networks: Debian's ip, nft and dnsmasq run in it,
 * and its kernel has the modules for a bridge with TAP ports and NAT. Everything here uses private
 * addresses inside the machine and sends nothing out of it; what a test makes, it removes.
 *
 * <p>Scripts name ip by its path: busybox's sh runs its own ip applet for the bare name.
 */
@ExtendWith(HelperMachineExtension.class)
class MachineNetworkToolsIT {
    private static final String IP = "/usr/sbin/ip";
    private static final String BRIDGE = "vtest-br";
    private static final String TAP = "vtest-tap";
    private static final String TABLE = "vessel-test";
    private static final String DNS_BRIDGE = "vtest-dns-br";
    private static final String DNS_PID = "/run/vtest-dnsmasq.pid";

    @BeforeAll
    static void onlyWithoutHardwareVirtualization() {
        Assumptions.assumeFalse(HostCapabilities.hardwareVirtualization(),
                "this host has hardware virtualization: the helper machine is not used here");
    }

    private static VesselCli.Result sh(String script) throws Exception {
        return VesselCli.run("machine", "exec", "--", "sh", "-c", script);
    }

    private static String ok(VesselCli.Result r) {
        assertEquals(0, r.status(), r.toString());
        return r.stdout();
    }

    @Test
    void theToolsAreDebiansAndFoundOnPath() throws Exception {
        // Run by the agent through PATH, as the machine's programs run them.
        assertTrue(ok(VesselCli.run("machine", "exec", "--", "ip", "-V")).contains("iproute2"));
        assertTrue(ok(VesselCli.run("machine", "exec", "--", "nft", "--version")).startsWith("nftables v"));
        assertTrue(ok(VesselCli.run("machine", "exec", "--", "dnsmasq", "--version")).startsWith("Dnsmasq version"));
        assertTrue(ok(sh(IP + " -V")).contains("iproute2"));
    }

    @Test
    void theNetworkModulesAreLoaded() throws Exception {
        String modules = ok(sh("cut -d' ' -f1 /proc/modules"));
        List<String> loaded = List.of(modules.split("\n"));
        for (String m : List.of("tun", "bridge", "nf_tables", "nf_conntrack", "nf_nat", "nft_chain_nat", "nft_ct",
                "nft_nat", "nft_masq")) {
            assertTrue(loaded.contains(m), m + " is not loaded: " + loaded);
        }
        assertFalse(loaded.contains("br_netfilter"), "bridged frames must not pass the IP hooks: " + loaded);
    }

    @Test
    void aBridgeWithATapPortAndAMasqueradeRuleAreMadeAndRemoved() throws Exception {
        sh(remove(false)); // what an interrupted run may have left
        try {
            ok(sh("set -e; " + IP + " link add " + BRIDGE + " type bridge; "
                    + IP + " addr add 10.200.0.1/24 dev " + BRIDGE + "; " + IP + " link set " + BRIDGE + " up; "
                    + IP + " tuntap add dev " + TAP + " mode tap vnet_hdr; " + IP + " link set " + TAP + " master " + BRIDGE + " up; "
                    + "nft add table ip " + TABLE + "; "
                    + "nft add chain ip " + TABLE + " post '{ type nat hook postrouting priority 100; }'; "
                    + "nft add rule ip " + TABLE + " post ip saddr 10.200.0.0/24 masquerade"));

            assertTrue(ok(sh(IP + " -d link show " + BRIDGE)).contains("\n    bridge "));
            assertTrue(ok(sh(IP + " -br addr show dev " + BRIDGE)).contains(" 10.200.0.1/24"));
            String tap = ok(sh(IP + " -d link show " + TAP));
            assertTrue(tap.contains(" master " + BRIDGE + " "), tap);
            assertTrue(tap.contains("tun type tap ") && tap.contains(" vnet_hdr on "), tap);
            assertTrue(tap.contains("bridge_slave "), tap);
            assertTrue(ok(sh(IP + " -o link show master " + BRIDGE)).contains(": " + TAP + ": "));
            String table = ok(sh("nft list table ip " + TABLE));
            assertTrue(table.contains("type nat hook postrouting priority srcnat;"), table);
            assertTrue(table.contains("ip saddr 10.200.0.0/24 masquerade"), table);
            assertTrue(ok(sh("nft list ruleset")).contains("table ip " + TABLE + " {"));

            ok(sh(remove(true)));
            assertNotEquals(0, sh(IP + " link show " + BRIDGE).status(), "the bridge is still there");
            assertNotEquals(0, sh(IP + " link show " + TAP).status(), "the tap is still there");
            assertFalse(ok(sh("nft list tables")).contains(TABLE));
        } finally {
            sh(remove(false));
        }
    }

    @Test
    void dnsmasqAnswersForANameOnABridgeAddress() throws Exception {
        String stop = "kill $(cat " + DNS_PID + " 2>/dev/null) 2>/dev/null; rm -f " + DNS_PID + "; "
                + IP + " link del " + DNS_BRIDGE + " 2>/dev/null; true";
        sh(stop);
        try {
            // Daemonized, dnsmasq returns once it listens (or with its error); it runs as nobody.
            String out = ok(sh("set -e; " + IP + " link add " + DNS_BRIDGE + " type bridge; "
                    + IP + " addr add 10.201.0.1/24 dev " + DNS_BRIDGE + "; " + IP + " link set " + DNS_BRIDGE + " up; "
                    + "dnsmasq --no-resolv --no-hosts --bind-interfaces --listen-address=10.201.0.1 --except-interface=lo"
                    + " --host-record=web.vtest,10.201.0.5 --pid-file=" + DNS_PID + "; "
                    + "nslookup -type=a web.vtest 10.201.0.1"));
            assertTrue(out.contains("Address: 10.201.0.5"), out);
            assertEquals("nobody", ok(sh("ps -o user,pid | grep -w $(cat " + DNS_PID + ") | cut -d' ' -f1")).strip());
        } finally {
            sh(stop);
        }
    }

    /**
     * Removes what {@link #aBridgeWithATapPortAndAMasqueradeRuleAreMadeAndRemoved} makes: strictly
     * (each step must succeed), or whatever of it is there.
     */
    private static String remove(boolean strict) {
        List<String> steps = List.of(IP + " link del " + TAP, IP + " link del " + BRIDGE, "nft delete table ip " + TABLE);
        return strict ? "set -e; " + String.join("; ", steps)
                : String.join(" 2>/dev/null; ", steps) + " 2>/dev/null; true";
    }
}
