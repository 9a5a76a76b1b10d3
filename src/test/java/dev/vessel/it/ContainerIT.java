package dev.vessel.it;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Docker's workflow through the CLI, each container a real micro-VM booting the stock kernel
 * with vessel-agent as init and the built-in busybox image as its root filesystem.
 */
@ExtendWith(HelperMachineExtension.class)
class ContainerIT {
    private static final Duration T = Duration.ofMinutes(4);

    private static VesselCli.Result vessel(String... args) throws Exception {
        return VesselCli.run(T, null, args);
    }

    @Test
    void runPrintsAndExitStatusesAndStreamsPassThrough() throws Exception {
        VesselCli.Result hi = vessel("run", "--rm", "busybox", "echo", "hi");
        assertEquals(0, hi.status(), hi.toString());
        assertEquals("hi\n", hi.stdout(), hi.toString());

        VesselCli.Result r = vessel("run", "--rm", "busybox", "sh", "-c", "echo to-out; echo to-err >&2; exit 7");
        assertEquals(7, r.status(), r.toString());
        assertEquals("to-out\n", r.stdout(), r.toString());
        assertTrue(r.stderr().contains("to-err\n") && !r.stderr().contains("to-out"), r.toString());
        assertFalse(r.stdout().contains("to-err"), r.toString());

        VesselCli.Result notFound = vessel("run", "--rm", "busybox", "no-such-command");
        assertEquals(127, notFound.status(), notFound.toString());
    }

    @Test
    void stdinReachesTheProcess() throws Exception {
        byte[] input = "line one\nline two\n".getBytes(StandardCharsets.UTF_8);
        VesselCli.Result r = VesselCli.run(T, input, "run", "--rm", "-i", "busybox", "sh", "-c", "wc -l; echo done");
        assertEquals(0, r.status(), r.toString());
        assertEquals("2\ndone\n", r.stdout().replace(" ", ""), r.toString());
    }

    @Test
    void detachedLifecycleKeepsTheWritableLayerUntilRemoved() throws Exception {
        String name = "it-life-" + ProcessHandle.current().pid();
        VesselCli.Result run = vessel("run", "-d", "--name", name, "busybox", "sh", "-c",
                "echo started; trap 'echo got-term; exit 3' TERM; while true; do sleep 1; done");
        assertEquals(0, run.status(), run.toString());
        String id = run.stdout().strip();
        assertTrue(id.matches("[0-9a-f]{64}"), run.toString());
        try {
            VesselCli.Result ps = vessel("ps");
            assertTrue(ps.stdout().contains(id.substring(0, 12)) && ps.stdout().contains(name), ps.toString());

            VesselCli.Result dup = vessel("run", "-d", "--name", name, "busybox", "true");
            assertEquals(125, dup.status(), dup.toString());
            assertTrue(dup.stderr().contains("already in use"), dup.toString());

            VesselCli.Result ex = vessel("exec", name, "sh", "-c", "echo kept > /root/mark; hostname");
            assertEquals(0, ex.status(), ex.toString());
            assertEquals(id.substring(0, 12) + "\n", ex.stdout(), ex.toString());
            assertEquals(5, vessel("exec", name, "sh", "-c", "exit 5").status());

            VesselCli.Result top = vessel("top", name);
            assertTrue(top.stdout().startsWith("UID") && top.stdout().contains("sh -c echo started"), top.toString());
            VesselCli.Result stats = vessel("stats", "--no-stream", name);
            assertTrue(stats.stdout().lines().anyMatch(l -> l.contains(name) && l.contains("MiB / ")), stats.toString());

            // vessel cp: a tree in under a new name, then the container's file out.
            Path local = Files.createTempDirectory("it-cp");
            Files.createDirectories(local.resolve("tree/sub"));
            Files.writeString(local.resolve("tree/sub/f.txt"), "host file\n");
            VesselCli.Result cpIn = vessel("cp", local.resolve("tree").toString(), name + ":/tmp/copied");
            assertEquals(0, cpIn.status(), cpIn.toString());
            assertEquals("host file\n", vessel("exec", name, "cat", "/tmp/copied/sub/f.txt").stdout());
            VesselCli.Result cpOut = vessel("cp", name + ":/root/mark", local.resolve("mark.txt").toString());
            assertEquals(0, cpOut.status(), cpOut.toString());
            assertEquals("kept\n", Files.readString(local.resolve("mark.txt")));

            VesselCli.Result rmRunning = vessel("rm", name);
            assertEquals(1, rmRunning.status(), rmRunning.toString());
            assertTrue(rmRunning.stderr().contains("cannot remove a running container"), rmRunning.toString());

            VesselCli.Result stop = vessel("stop", "-t", "20", name);
            assertEquals(0, stop.status(), stop.toString());
            VesselCli.Result logs = vessel("logs", name);
            assertTrue(logs.stdout().contains("started\n") && logs.stdout().contains("got-term\n"), logs.toString());
            VesselCli.Result waited = vessel("wait", name);
            assertEquals("3\n", waited.stdout(), waited.toString());
            VesselCli.Result all = vessel("ps", "-a");
            assertTrue(all.stdout().contains("Exited (3)"), all.toString());

            assertEquals(0, vessel("start", name).status());
            VesselCli.Result after = vessel("exec", name, "cat", "/root/mark");
            assertEquals("kept\n", after.stdout(), "the writable layer did not survive stop/start\n" + after);

            assertEquals(0, vessel("restart", "-t", "20", name).status());
            assertEquals("kept\n", vessel("exec", name, "cat", "/root/mark").stdout());

            VesselCli.Result inspect = vessel("inspect", name);
            assertTrue(inspect.stdout().contains("\"Running\" : true") && inspect.stdout().contains("\"RestartCount\" : 2"),
                    inspect.toString());
        } finally {
            VesselCli.Result rm = vessel("rm", "-f", name);
            assertEquals(0, rm.status(), rm.toString());
        }
        Path dir = VesselCli.root().resolve("containers").resolve(id);
        assertFalse(Files.exists(dir), "rm left " + dir);
        assertEquals(1, vessel("logs", name).status());

        // A new container of the same name starts from the image again.
        VesselCli.Result fresh = vessel("run", "--rm", "--name", name, "busybox", "sh", "-c", "test -e /root/mark; echo $?");
        assertEquals("1\n", fresh.stdout(), fresh.toString());
    }

    @Test
    void onFailureRestartsTheContainerUntilItsCountIsSpent() throws Exception {
        String name = "it-restart-" + ProcessHandle.current().pid();
        VesselCli.Result run = vessel("run", "-d", "--name", name, "--restart", "on-failure:2", "busybox",
                "sh", "-c", "echo ran; exit 3");
        assertEquals(0, run.status(), run.toString());
        try {
            // Each wait ends with an exit of the container; the third is the last, the count spent.
            String state = "";
            for (int i = 0; i < 3 && !state.equals("exited 2"); i++) {
                VesselCli.Result waited = vessel("wait", name);
                assertEquals("3\n", waited.stdout(), waited.toString());
                com.fasterxml.jackson.databind.JsonNode c = new com.fasterxml.jackson.databind.ObjectMapper()
                        .readTree(vessel("inspect", name).stdout()).path(0);
                state = c.path("State").path("Status").asText() + " " + c.path("RestartCount").asText();
            }
            assertEquals("exited 2", state, "two restarts, then it stays exited");
            VesselCli.Result logs = vessel("logs", name);
            assertEquals("ran\nran\nran\n", logs.stdout(), logs.toString());
        } finally {
            vessel("rm", "-f", name);
        }
    }

    @Test
    void aHealthCheckMakesTheContainerHealthy() throws Exception {
        String name = "it-health-" + ProcessHandle.current().pid();
        VesselCli.Result run = vessel("run", "-d", "--name", name, "--health-cmd", "test -e /tmp/ready",
                "--health-interval", "2s", "--health-retries", "1", "busybox", "sh", "-c", "touch /tmp/ready; exec sleep 600");
        assertEquals(0, run.status(), run.toString());
        Process events = VesselCli.start(List.of("events", "--since", "0", "--filter", "container=" + name,
                "--filter", "event=health_status"));
        try (var lines = new java.io.BufferedReader(new java.io.InputStreamReader(events.getInputStream(), StandardCharsets.UTF_8))) {
            String line = lines.readLine(); // the first health event: the check passed
            assertTrue(line != null && line.contains("health_status: healthy"), "no healthy event: " + line);
            VesselCli.Result ps = vessel("ps");
            assertTrue(ps.stdout().lines().anyMatch(l -> l.contains(name) && l.contains("(healthy)")), ps.toString());
        } finally {
            ProcessDeadline.killTree(events);
            vessel("rm", "-f", name);
        }
    }

    @Test
    void badInputGetsDockersStatuses() throws Exception {
        VesselCli.Result noImage = vessel("run", "--rm", "no-such-image-here", "true");
        assertEquals(125, noImage.status(), noImage.toString());
        assertTrue(noImage.stderr().contains("Unable to find image"), noImage.toString());
        VesselCli.Result noContainer = vessel("stop", "no-such-container");
        assertEquals(1, noContainer.status(), noContainer.toString());
        assertTrue(noContainer.stderr().contains("No such container"), noContainer.toString());
        VesselCli.Result badName = vessel("run", "--name", "-bad name", "busybox", "true");
        assertEquals(125, badName.status(), badName.toString());
    }

    @Test
    void ttyGivesThePrimaryProcessAPseudoTerminal() throws Exception {
        // util-linux `script` runs the CLI on a pseudo-terminal, as a person's shell would.
        assertTrue(Files.isExecutable(Path.of("/usr/bin/script")), "this test needs util-linux's script(1)");
        String cmd = String.join(" ", VesselCli.command(List.of("run", "--rm", "-i", "-t", "busybox", "sh", "-c",
                "tty; stty size; echo done")).stream().map(a -> "'" + a.replace("'", "'\\''") + "'").toList());
        Process p = new ProcessBuilder("/usr/bin/script", "-qefc", "stty cols 100 rows 30; " + cmd, "/dev/null")
                .redirectErrorStream(true).start();
        ProcessDeadline.after(T, p);
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(T.toSeconds(), TimeUnit.SECONDS), out);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("/dev/pts/"), "no pty in the container\n" + out);
        assertTrue(out.contains("30 100"), "the terminal size did not reach the container\n" + out);
        assertTrue(out.contains("done"), out);
    }
}
