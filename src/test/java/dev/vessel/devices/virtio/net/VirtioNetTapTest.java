package dev.vessel.devices.virtio.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The device on a real TAP: {@link TapNamespaceProbe} runs in a child JVM in a network namespace
 * of its own (unshare -n), so the interfaces, addresses and traffic it makes exist only there and
 * vanish with it. Needs root (or CAP_SYS_ADMIN and CAP_NET_ADMIN), unshare, ip and /dev/net/tun.
 */
class VirtioNetTapTest {
    static boolean works(String... command) {
        try {
            Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
            p.getInputStream().readAllBytes();
            return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
        } catch (IOException e) {
            return false;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    @Test
    void framesCrossARealTapBothWays() throws Exception {
        assumeTrue(Files.exists(Path.of("/dev/net/tun")), "no /dev/net/tun on this host (tun module not loaded)");
        assumeTrue(works("unshare", "-n", "true"),
                "cannot make a network namespace here (unshare -n needs root or CAP_SYS_ADMIN)");
        assumeTrue(works("unshare", "-n", "ip", "link", "show", "lo"), "no ip command (iproute2)");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder("unshare", "-n", java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), TapNamespaceProbe.class.getName())
                .redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), out);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("link: tun type tap pi off vnet_hdr on\n"), "IFF_TAP | IFF_NO_PI | IFF_VNET_HDR\n" + out);
        assertTrue(out.contains("offloads set\n"), out);
        assertTrue(out.contains("second open: TAP interface vprobe0 is in use by another process\n"), out);
        assertTrue(out.contains("after close: gone\n"), "a TAP Vessel created goes with its descriptor\n" + out);
        assertTrue(out.contains("joined: master true up true\n"), "plugged into the bridge and up\n" + out);
        assertTrue(out.contains("join vnobridge: there is no bridge vnobridge to plug vprobe1 into\n"), out);
        assertTrue(out.contains("join lo: lo is not a bridge: cannot plug vprobe1 into it\n"), out);
        assertTrue(out.contains("bridge ports after close: ''\n"), "the port went with the TAP\n" + out);
        assertTrue(out.contains("tx used true\n"), out);
        assertTrue(out.contains("host received 'ping from the guest' from /10.77.0.2:4000\n"),
                "a guest frame with a checksum left to the host arrived\n" + out);
        assertTrue(out.contains("guest received 'pong from the host' num_buffers 1 gso 0"), out);
        assertTrue(out.contains("counters tx 1 dropped 0\n"), out);
        assertTrue(out.contains("probe: ok\n"), out);
    }
}
