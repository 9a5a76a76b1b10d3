package dev.vessel.it;

import dev.vessel.guest.agent.AgentBinary;
import dev.vessel.guest.Busybox;
import dev.vessel.guest.DebianKernel;
import dev.vessel.guest.DefaultInitramfs;
import dev.vessel.host.HostCapabilities;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * virtio-net end to end: a guest with `vm run --net tap=NAME,mac=MAC` sees eth0 with that MAC,
 * driven by virtio_net, and exchanges frames with the other end of its TAP (the VMM's host: the
 * helper machine on hosts without hardware virtualization). The addresses are private ones on a
 * link only this test makes; nothing leaves it.
 */
@ExtendWith(HelperMachineExtension.class)
class VirtioNetIT {
    private static final String TAP = "vit-net0";
    private static final String MAC = "02:56:45:53:53:01";

    private static DebianKernel.Release kernel;
    private static Path agent;

    @TempDir
    static Path work;

    @BeforeAll
    static void kernelAndAgent() throws IOException {
        kernel = new DebianKernel(VesselCli.root().resolve("kernels")).cached();
        assertTrue(kernel != null, "no cached kernel under " + VesselCli.root() + " (the machine start fetches it)");
        assertTrue(AgentBinary.isAvailable(), "this build has no vessel-agent (needs gcc and libc6-dev)");
        agent = AgentBinary.extractTo(Files.createDirectories(work.resolve("agent")));
    }

    private static String value(VesselCli.Result r, String key) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(key) + "=(.*?)\\r?$").matcher(r.stdout());
        assertTrue(m.find(), "the guest did not print " + key + "\n" + r);
        return m.group(1);
    }

    /** Runs {@code script} where the VMM runs: in the helper machine, or on this host. */
    private static VesselCli.Result onVmmHost(Duration timeout, String script) throws Exception {
        if (HostCapabilities.hardwareVirtualization()) {
            Process p = new ProcessBuilder("sh", "-c", script).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes());
            assertTrue(p.waitFor(timeout.toSeconds(), TimeUnit.SECONDS), script + " hung");
            return new VesselCli.Result(p.exitValue(), out, "");
        }
        return VesselCli.run(timeout, null, "machine", "exec", "--", "sh", "-c", script);
    }

    @Test
    void theGuestSeesItsMacAndPingsTheOtherEndOfItsTapWithSmallAndFragmentedPackets() throws Exception {
        String script = """
                echo "mac=$(cat /sys/class/net/eth0/address)"
                echo "driver=$(basename "$(readlink /sys/class/net/eth0/device/driver)")"
                ip link set eth0 up
                ip addr add 10.201.0.2/24 dev eth0
                # The other end is configured once the VMM has made the TAP: wait for its first answer.
                if ping -c 1 -w 150 10.201.0.1 >/dev/null; then echo ping=ok; else echo ping=failed; fi
                # 3000 bytes do not fit one 1500-byte frame: fragments both ways.
                echo "big=$(ping -c 3 -s 3000 -w 60 10.201.0.1 | sed -n 's/.* \\([0-9]*\\) packets received.*/\\1/p')"
                echo "rx=$(cat /sys/class/net/eth0/statistics/rx_packets) tx=$(cat /sys/class/net/eth0/statistics/tx_packets)"
                """;
        Path initrd = work.resolve("net.cpio");
        DefaultInitramfs.writeWithScript(initrd, Busybox.find(), kernel, script, Map.of("sbin/vessel-agent", agent));

        // The VMM makes the TAP when it builds the VM; its other end gets an address once it exists.
        CompletableFuture<VesselCli.Result> otherEnd = Background.run("tap-other-end", () ->
                onVmmHost(Duration.ofMinutes(4), "end=$(( $(date +%s) + 200 )); "
                        + "while [ ! -e /sys/class/net/" + TAP + " ] && [ $(date +%s) -lt $end ]; do sleep 0.2; done; "
                        + "ip addr add 10.201.0.1/24 dev " + TAP + " && ip link set " + TAP + " up && echo configured"));
        VesselCli.Result r = VesselCli.run(Duration.ofMinutes(5), null, "vm", "run", "--initrd", initrd.toString(),
                "--net", "tap=" + TAP + ",mac=" + MAC);
        VesselCli.Result configured = otherEnd.get(5, TimeUnit.MINUTES);
        assertTrue(configured.stdout().contains("configured"), "the TAP never appeared where the VMM runs\n" + configured);

        assertEquals(0, r.status(), r.toString());
        assertTrue(r.stdout().contains("vessel-run-status: 0"), "the guest's script failed\n" + r);
        assertEquals(MAC, value(r, "mac"));
        assertEquals("virtio_net", value(r, "driver"));
        assertEquals("ok", value(r, "ping"), r.toString());
        assertEquals("3", value(r, "big"), "fragmented pings were lost\n" + r);
        // The TAP the VMM made went with it.
        VesselCli.Result gone = onVmmHost(Duration.ofMinutes(2), "[ -e /sys/class/net/" + TAP + " ] && echo still-there || echo gone");
        assertEquals("gone", gone.stdout().strip(), gone.toString());
    }
}
