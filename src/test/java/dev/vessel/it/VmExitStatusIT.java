package dev.vessel.it;

import dev.vessel.arch.x86.MinimalKernel;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Exit statuses of `vessel vm run`, from tiny guests that take one exit path each, and bad input. */
@ExtendWith(HelperMachineExtension.class)
class VmExitStatusIT {
    @TempDir
    Path dir;

    @Test
    void powerOffThroughTheAcpiPortIsStatus0() throws Exception {
        Path k = MinimalKernel.write(dir, "poweroff.bzImage", MinimalKernel.POWER_OFF);
        VesselCli.Result r = VesselCli.run("vm", "run", "--kernel", k.toString(), "--initrd", k.toString(), "--memory", "64M");
        assertEquals(0, r.status(), r.toString());
    }

    @Test
    void resetThroughTheAcpiPortIsStatus3() throws Exception {
        Path k = MinimalKernel.write(dir, "reset.bzImage", MinimalKernel.RESET);
        VesselCli.Result r = VesselCli.run("vm", "run", "--kernel", k.toString(), "--initrd", k.toString(), "--memory", "64M");
        assertEquals(3, r.status(), r.toString());
    }

    @Test
    void aTripleFaultIsStatus4() throws Exception {
        Path k = MinimalKernel.write(dir, "triple.bzImage", MinimalKernel.TRIPLE_FAULT);
        VesselCli.Result r = VesselCli.run("vm", "run", "--kernel", k.toString(), "--initrd", k.toString(), "--memory", "64M");
        assertEquals(4, r.status(), r.toString());
        assertTrue(r.stderr().contains("triple-faulted"), r.toString());
    }

    @Test
    void sigtermStopsTheVmAndLeavesNoProcessBehind() throws Exception {
        Path k = MinimalKernel.write(dir, "spin.bzImage", MinimalKernel.PRINT_AND_SPIN);
        // VESSEL_TIMING: on a failure, stderr tells which path ran the VM (a standby VMM or a fresh one).
        Process p = VesselCli.startIn(VesselCli.root(), java.util.Map.of("VESSEL_TIMING", "1"),
                List.of("vm", "run", "--kernel", k.toString(), "--initrd", k.toString(), "--memory", "64M"));
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread errPump = VesselCli.pump(p.getErrorStream(), err);
        p.getOutputStream().close();
        // The guest has run once its first serial output arrives.
        InputStream out = p.getInputStream();
        StringBuilder seen = new StringBuilder();
        int c;
        while (!seen.toString().contains("ready") && (c = out.read()) >= 0) {
            seen.append((char) c);
        }
        assertTrue(seen.toString().contains("ready"), "the guest never wrote to its console: " + seen + err);
        p.destroy(); // SIGTERM
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "vessel did not stop on SIGTERM");
        errPump.join();
        assertEquals(143, p.exitValue(), err.toString(StandardCharsets.UTF_8));
        if (!dev.vessel.host.HostCapabilities.hardwareVirtualization()) {
            // Nothing of that VM may be left in the helper machine.
            VesselCli.Result ps = VesselCli.run(Duration.ofMinutes(1), null, "machine", "exec", "--", "sh", "-c",
                    "for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done | grep -c '[s]pin[.]bzImage' || true");
            assertEquals("0", ps.stdout().strip(), "a VMM process survived in the helper machine\n" + ps);
        }
    }

    @Test
    void badInputGetsOneLineAndStatus2() throws Exception {
        Path notAKernel = Files.writeString(dir.resolve("notes.txt"), "hello\n".repeat(2000));
        VesselCli.Result r = VesselCli.run("vm", "run", "--kernel", notAKernel.toString());
        assertEquals(2, r.status(), r.toString());
        assertTrue(r.stderr().contains("not a Linux bzImage"), r.toString());

        r = VesselCli.run("vm", "run", "--kernel", dir.resolve("missing").toString());
        assertEquals(2, r.status(), r.toString());
        assertTrue(r.stderr().contains("no such file"), r.toString());

        r = VesselCli.run("vm", "run", "--memory", "lots");
        assertEquals(2, r.status(), r.toString());
        assertTrue(r.stderr().contains("not a size"), r.toString());

        r = VesselCli.run("vm", "run", "--memory", "64T");
        assertEquals(2, r.status(), r.toString());

        r = VesselCli.run("vm", "run", "--cpus", "0");
        assertEquals(2, r.status(), r.toString());

        Path tiny = MinimalKernel.write(dir, "poweroff.bzImage", MinimalKernel.POWER_OFF);
        r = VesselCli.run("vm", "run", "--kernel", tiny.toString(), "--initrd", tiny.toString(), "--memory", "16M");
        assertEquals(2, r.status(), r.toString());
    }
}
