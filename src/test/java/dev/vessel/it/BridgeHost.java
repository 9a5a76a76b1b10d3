package dev.vessel.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.host.HostCapabilities;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/** Where the networks' bridges live, for the tests that look at them: the helper machine, or this host. */
final class BridgeHost {
    private BridgeHost() {}

    /** Runs {@code script} with sh there; its status and output (stdout and stderr together on this host). */
    static VesselCli.Result run(String script) throws Exception {
        if (HostCapabilities.hardwareVirtualization()) {
            Process p = new ProcessBuilder("sh", "-c", script).redirectErrorStream(true).start();
            p.getOutputStream().close();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(1, TimeUnit.MINUTES), script + " hung");
            return new VesselCli.Result(p.exitValue(), out, "");
        }
        return VesselCli.run(Duration.ofMinutes(2), null, "machine", "exec", "--", "sh", "-c", script);
    }
}
