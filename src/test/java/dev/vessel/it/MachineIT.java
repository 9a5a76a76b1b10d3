package dev.vessel.it;

import dev.vessel.host.HostCapabilities;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.charset.StandardCharsets;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The helper machine itself: status, command execution with stdio and exit status, real KVM inside. */
@ExtendWith(HelperMachineExtension.class)
class MachineIT {
    @BeforeAll
    static void onlyWithoutHardwareVirtualization() {
        // On a host with VMX/SVM there is no helper machine to test; say so instead of passing.
        Assumptions.assumeFalse(HostCapabilities.hardwareVirtualization(),
                "this host has hardware virtualization: the helper machine is not used here");
    }

    @Test
    void statusSaysRunning() throws Exception {
        VesselCli.Result r = VesselCli.run("machine", "status");
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.stdout().startsWith("running"), r.toString());
    }

    @Test
    void execPassesStdinStdoutStderrAndStatus() throws Exception {
        VesselCli.Result r = VesselCli.run(Duration.ofMinutes(1), "hello machine\n".getBytes(StandardCharsets.UTF_8),
                "machine", "exec", "--", "sh", "-c", "cat; echo to-stderr >&2; exit 7");
        assertEquals(7, r.status(), r.toString());
        assertEquals("hello machine\n", r.stdout());
        assertTrue(r.stderr().contains("to-stderr"), r.toString());
    }

    @Test
    void theMachineHasRealKvm() throws Exception {
        VesselCli.Result r = VesselCli.run("machine", "exec", "--", "sh", "-c",
                "test -c /dev/kvm && grep -c -w svm /proc/cpuinfo");
        assertEquals(0, r.status(), r.toString());
        assertTrue(Integer.parseInt(r.stdout().strip()) >= 1, r.toString());
    }
}
