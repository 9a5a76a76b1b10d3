package dev.vessel.it;

import dev.vessel.arch.x86.MinimalKernel;
import dev.vessel.host.HostCapabilities;
import dev.vessel.machine.FileHashes;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The helper machine's standby VMM: a `vm run` is taken by a VMM process of this jar that started
 * (and warmed up) before the command was issued, and behaves as a fresh one would. With
 * VESSEL_TIMING=1 a standby says so on stderr ("timing: standby pid N took this command ... no JVM
 * start-up in this run") and times its milestones from then ("timing: standby pid N, 12 ms after taking
 * the command: vm run: start"), where a fresh VMM times them from its JVM's start ("timing:   812 ms vm run: start").
 */
@ExtendWith(HelperMachineExtension.class)
class VmStandbyIT {
    private static final Pattern TOOK = Pattern.compile(
            "timing: standby pid (\\d+) took this command: its JVM started (\\d+) ms before, ready for (\\d+) ms");

    private static final Pattern FRESH_VMM = Pattern.compile("timing: +\\d+ ms vm run: start");

    @TempDir
    Path dir;

    static String socket;
    static String pidFile;

    @BeforeAll
    static void onlyInTheHelperMachine() throws Exception {
        Assumptions.assumeFalse(HostCapabilities.hardwareVirtualization(),
                "this host has hardware virtualization: VMs run here directly, without the machine's standby");
        String sha = FileHashes.sha256(VesselCli.jar()).substring(0, 16);
        socket = "/run/vessel/vmm-" + sha + ".sock";
        pidFile = "/run/vessel/vmm-" + sha + ".pid";
    }

    /** Runs `vessel vm run` with VESSEL_TIMING=1 (through the host, as a user would). */
    static Process startRun(List<String> args) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(VesselCli.command(args));
        pb.environment().put("VESSEL_TIMING", "1");
        return ProcessDeadline.after(ProcessDeadline.DEFAULT, pb.start());
    }

    static String machine(String script) throws Exception {
        VesselCli.Result r = VesselCli.run(Duration.ofMinutes(7), null, "machine", "exec", "--", "sh", "-c", script);
        assertEquals(0, r.status(), r.toString());
        return r.stdout().strip();
    }

    /** The pid of this jar's standby once one waits in the machine (a cold run started one, or a successor). */
    static long awaitStandby() throws Exception {
        // Bounded by the machine's clock, not by a count of polls: under emulation on a busy host
        // each poll (fork, exec) can take far longer than its sleep.
        String pid = machine("end=$(( $(date +%s) + 300 )); while [ $(date +%s) -lt $end ]; do "
                + "if [ -S " + socket + " ] && p=$(cat " + pidFile + " 2>/dev/null) && kill -0 \"$p\" 2>/dev/null; then "
                + "echo $p; exit 0; fi; sleep 0.5; done; echo none");
        assertNotEquals("none", pid, "no standby VMM became ready in the machine within 5 minutes");
        return Long.parseLong(pid);
    }

    @Test
    void aRunIsTakenByAStandbyThatStartedBeforeItAndItsSuccessorWaitsForTheNext() throws Exception {
        Path k = MinimalKernel.write(dir, "poweroff.bzImage", MinimalKernel.POWER_OFF);
        List<String> run = List.of("vm", "run", "--kernel", k.toString(), "--initrd", k.toString(), "--memory", "64M");
        // Any run of this jar leaves a standby behind (the first one, cold, starts it).
        assertEquals(0, VesselCli.run(run.toArray(String[]::new)).status());
        long standby = awaitStandby();

        VesselCli.Result r = finish(startRun(run));
        assertEquals(0, r.status(), r.toString());
        Matcher m = TOOK.matcher(r.stderr());
        assertTrue(m.find(), "the run did not come from a standby\n" + r);
        assertEquals(standby, Long.parseLong(m.group(1)), r.toString());
        assertFalse(FRESH_VMM.matcher(r.stderr()).find(), "a fresh VMM started as well\n" + r);

        // The standby took this one command only; its successor waits for the next.
        long next = awaitStandby();
        assertNotEquals(standby, next);
        assertEquals("gone", machine("for i in $(seq 50); do [ -e /proc/" + standby + " ] || { echo gone; exit 0; }; "
                + "sleep 0.2; done; cat /proc/" + standby + "/stat"), "the standby that ran the VM is still there");
    }

    @Test
    void sigtermThroughTheStandbyIs143AndLeavesNoVmmBehind() throws Exception {
        Path spin = MinimalKernel.write(dir, "spin.bzImage", MinimalKernel.PRINT_AND_SPIN);
        Path off = MinimalKernel.write(dir, "poweroff.bzImage", MinimalKernel.POWER_OFF);
        assertEquals(0, VesselCli.run("vm", "run", "--kernel", off.toString(), "--initrd", off.toString(), "--memory", "64M")
                .status());
        long standby = awaitStandby();

        Process p = startRun(List.of("vm", "run", "--kernel", spin.toString(), "--initrd", spin.toString(), "--memory", "64M"));
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread errPump = VesselCli.pump(p.getErrorStream(), err);
        p.getOutputStream().close();
        InputStream out = p.getInputStream();
        StringBuilder seen = new StringBuilder();
        int c;
        while (!seen.toString().contains("ready") && (c = out.read()) >= 0) {
            seen.append((char) c);
        }
        assertTrue(seen.toString().contains("ready"), "the guest never wrote to its console: " + seen + err);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!TOOK.matcher(err.toString(StandardCharsets.UTF_8)).find() && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        Matcher m = TOOK.matcher(err.toString(StandardCharsets.UTF_8));
        assertTrue(m.find(), "the run did not come from a standby: " + err);
        assertEquals(standby, Long.parseLong(m.group(1)));

        p.destroy(); // SIGTERM
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "vessel did not stop on SIGTERM");
        errPump.join();
        assertEquals(143, p.exitValue(), err.toString(StandardCharsets.UTF_8));
        // Neither the VMM (the standby that took the command) nor the client is left in the machine.
        assertEquals("gone", machine("for i in $(seq 50); do [ -e /proc/" + standby + " ] || { echo gone; exit 0; }; "
                + "sleep 0.2; done; cat /proc/" + standby + "/stat"), "the VMM survived SIGTERM");
        assertEquals("0", machine("for p in /proc/[0-9]*; do tr '\\0' ' ' < $p/cmdline 2>/dev/null; echo; done "
                + "| grep -c '[v]mm-client' || true"), "a vessel-agent --vmm-client survived");
    }

    static VesselCli.Result finish(Process p) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread o = VesselCli.pump(p.getInputStream(), out);
        Thread e = VesselCli.pump(p.getErrorStream(), err);
        p.getOutputStream().close();
        if (!p.waitFor(3, TimeUnit.MINUTES)) {
            ProcessDeadline.killTree(p);
            p.waitFor();
        }
        ProcessDeadline.join(o, Duration.ofMinutes(1));
        ProcessDeadline.join(e, Duration.ofMinutes(1));
        return new VesselCli.Result(p.isAlive() ? -1 : p.exitValue(), out.toString(StandardCharsets.UTF_8),
                err.toString(StandardCharsets.UTF_8));
    }
}
