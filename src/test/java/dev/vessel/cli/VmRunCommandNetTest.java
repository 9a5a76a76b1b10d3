package dev.vessel.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.devices.virtio.net.MacAddress;
import dev.vessel.vmm.NetConfig;

import java.util.List;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** `vessel vm run --net tap=NAME[,mac=MAC]`. */
class VmRunCommandNetTest {
    @Test
    void aTapAndOptionallyAMac() throws Exception {
        assertEquals(new NetConfig("tap0", MacAddress.parse("02:00:00:00:00:01")),
                VmRunCommand.parseNet("tap=tap0,mac=02:00:00:00:00:01"));
        assertEquals(new NetConfig("tap0", MacAddress.parse("02:00:00:00:00:01")),
                VmRunCommand.parseNet("mac=02-00-00-00-00-01,tap=tap0"));
        NetConfig random = VmRunCommand.parseNet("tap=vessel0");
        assertEquals("vessel0", random.tap());
        assertEquals(0x02, random.mac().octets()[0], "a locally administered default");
        assertEquals(null, random.bridge());
        assertEquals(new NetConfig("vt0", MacAddress.parse("02:42:0a:00:00:02"), "vessel0"),
                VmRunCommand.parseNet("tap=vt0,bridge=vessel0,mac=02:42:0a:00:00:02"));
    }

    @Test
    void mistakesAreOneLineUserErrors() {
        String[][] cases = {
            {"", "tap=NAME"},
            {"tap0", "expected tap=NAME"},
            {"tap=", "expected tap=NAME"},
            {"mac=02:00:00:00:00:01", "tap=NAME is missing"},
            {"tap=a,tap=b", "twice"},
            {"tap=a,mac=02:00:00:00:00:01,mac=02:00:00:00:00:02", "twice"},
            {"tap=a,mtu=9000", "unknown option 'mtu'"},
            {"tap=a,mac=01:00:5e:00:00:01", "multicast"},
            {"tap=a,mac=zz:00:00:00:00:01", "not a MAC address"},
            {"tap=a%d", "character"},
            {"tap=averyveryverylongname", "longer than 15"},
            {"tap=a,", "expected tap=NAME"},
            {"tap=a,bridge=b,bridge=c", "twice"},
            {"tap=a,bridge=-x;y", "not a usable interface name"},
            {"tap=a,bridge=", "expected tap=NAME"},
        };
        for (String[] c : cases) {
            UserError e = assertThrows(UserError.class, () -> VmRunCommand.parseNet(c[0]), c[0]);
            assertTrue(e.getMessage().startsWith("--net " + c[0] + ": "), e.getMessage());
            assertTrue(e.getMessage().contains(c[1]), c[0] + " -> " + e.getMessage());
            assertEquals(2, e.status(), "a bad command line");
            assertTrue(!e.getMessage().contains("\n"));
        }
    }

    @Test
    void repeatableInOrder() throws Exception {
        VmRunCommand run = new VmRunCommand();
        new CommandLine(run).setCaseInsensitiveEnumValuesAllowed(true).parseArgs("--net", "tap=tap0,mac=02:00:00:00:00:01", "--net", "tap=tap1");
        List<NetConfig> nets = run.parseNets();
        assertEquals(2, nets.size());
        assertEquals("tap0", nets.get(0).tap());
        assertEquals("tap1", nets.get(1).tap());
        assertEquals(MacAddress.parse("02:00:00:00:00:01"), nets.get(0).mac());
    }
}
