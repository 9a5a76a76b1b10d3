package dev.vessel.it;

import dev.vessel.api.DockerCli;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
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
 * The real docker CLI drives micro-VMs through {@code vessel system service}: run with its output,
 * exit status and input, a terminal's raw stream, detached containers with exec, logs, stop, wait
 * and rm. The service is the packaged jar on the integration tests' state root, as a user runs it.
 */
@ExtendWith(HelperMachineExtension.class)
class DockerApiIT {
    private static final Duration T = Duration.ofMinutes(4);
    private static Path dir;
    private static Process service;
    private static DockerCli docker;

    @BeforeAll
    static void serve() throws Exception {
        dir = Files.createTempDirectory("vessel-api-it");
        Path socket = dir.resolve("docker.sock");
        service = VesselCli.start(Duration.ofMinutes(40), List.of("system", "service", "--socket", socket.toString(), "--time", "0"));
        Background.run("api-service-stderr", () -> service.getErrorStream().transferTo(System.err));
        BufferedReader out = new BufferedReader(new InputStreamReader(service.getInputStream(), StandardCharsets.UTF_8));
        String first = out.readLine();
        assertTrue(first != null && first.startsWith("Serving the Docker Engine API"), "the service did not start: " + first);
        Background.run("api-service-stdout", () -> out.transferTo(java.io.Writer.nullWriter()));
        docker = new DockerCli(socket, dir.resolve("config"));
    }

    @AfterAll
    static void stop() throws Exception {
        if (service != null) {
            service.destroy(); // SIGTERM: it closes its socket and ends
            assertTrue(service.waitFor(30, TimeUnit.SECONDS), "the service did not end on SIGTERM");
        }
        if (dir != null) {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    private static DockerCli.Result docker(String... args) throws IOException, InterruptedException {
        return docker.run(null, T, args);
    }

    @Test
    void runShowsTheOutputAndEndsWithTheExitStatus() throws Exception {
        DockerCli.Result hi = docker("run", "--rm", "busybox", "echo", "hi");
        assertEquals(0, hi.exit(), hi.toString());
        assertEquals("hi\n", hi.out(), hi.toString());

        DockerCli.Result r = docker("run", "--rm", "--name", "api-it-status", "busybox", "sh", "-c",
                "echo to-out; echo to-err >&2; exit 3");
        assertEquals(3, r.exit(), r.toString());
        assertEquals("to-out\n", r.out(), r.toString());
        assertTrue(r.err().contains("to-err\n"), r.toString());
        assertFalse(docker("ps", "-a", "--format", "{{.Names}}").out().contains("api-it-status"), "--rm removed it");
    }

    @Test
    void inputReachesTheProcessAndItsEndClosesIt() throws Exception {
        DockerCli.Result r = docker.run("line one\nline two\n".getBytes(StandardCharsets.UTF_8), T,
                "run", "--rm", "-i", "busybox", "sh", "-c", "wc -l; echo done");
        assertEquals(0, r.exit(), r.toString());
        assertEquals("2\ndone\n", r.out().replace(" ", ""), r.toString());
    }

    @Test
    void aTerminalComesAsOneRawStream() throws Exception {
        DockerCli.Result r = docker("run", "--rm", "-t", "busybox", "sh", "-c", "test -t 1 && echo is-a-tty; echo err >&2; exit 4");
        assertEquals(4, r.exit(), r.toString());
        assertEquals("is-a-tty\r\nerr\r\n", r.out(), "stdout and stderr through the terminal, as docker shows them\n" + r);
    }

    @Test
    void aDetachedContainerIsExecutedInLoggedStoppedWaitedForAndRemoved() throws Exception {
        String name = "api-it-life-" + ProcessHandle.current().pid();
        DockerCli.Result run = docker("run", "-d", "--name", name, "busybox", "sh", "-c",
                "echo started; trap 'echo got-term; exit 3' TERM; while true; do sleep 1; done");
        assertEquals(0, run.exit(), run.toString());
        String id = run.out().strip();
        assertTrue(id.matches("[0-9a-f]{64}"), run.toString());
        try {
            assertEquals(name + "\n", docker("ps", "--format", "{{.Names}}", "--filter", "name=" + name).out());

            DockerCli.Result ex = docker("exec", name, "sh", "-c", "echo in-exec; echo exec-err >&2; exit 5");
            assertEquals(5, ex.exit(), ex.toString());
            assertEquals("in-exec\n", ex.out(), ex.toString());
            assertEquals("exec-err\n", ex.err(), ex.toString());
            DockerCli.Result input = docker.run("a\nb\nc\n".getBytes(StandardCharsets.UTF_8), T, "exec", "-i", name, "wc", "-l");
            assertEquals("3", input.out().strip(), input.toString());
            DockerCli.Result missing = docker("exec", name, "no-such-command");
            assertEquals(127, missing.exit(), missing.toString());

            // docker cp both ways: a file in, checked by the container; a file the container wrote, out.
            java.nio.file.Path local = java.nio.file.Files.createTempDirectory("api-it-cp");
            java.nio.file.Files.writeString(local.resolve("in.txt"), "from the host\n");
            DockerCli.Result in = docker("cp", local.resolve("in.txt").toString(), name + ":/tmp/");
            assertEquals(0, in.exit(), in.toString());
            assertEquals("from the host\n", docker("exec", name, "cat", "/tmp/in.txt").out());
            assertEquals(0, docker("exec", name, "sh", "-c", "mkdir -p /tmp/made && echo made-inside > /tmp/made/out.txt").exit());
            DockerCli.Result out = docker("cp", name + ":/tmp/made", local.toString());
            assertEquals(0, out.exit(), out.toString());
            assertEquals("made-inside\n", java.nio.file.Files.readString(local.resolve("made/out.txt")));
            DockerCli.Result absent = docker("cp", name + ":/no/such/file", local.toString());
            assertEquals(1, absent.exit(), absent.toString());
            assertTrue(absent.err().contains("Could not find the file /no/such/file in container " + name), absent.toString());

            DockerCli.Result stop = docker("stop", "-t", "20", name);
            assertEquals(0, stop.exit(), stop.toString());
            assertEquals(name + "\n", stop.out());
            assertEquals("3\n", docker("wait", name).out(), "the status the TERM trap exited with");
            DockerCli.Result logs = docker("logs", name);
            assertEquals("started\ngot-term\n", logs.out(), logs.toString());
            assertEquals("exited", docker("inspect", "-f", "{{.State.Status}}", name).out().strip());
        } finally {
            DockerCli.Result rm = docker("rm", "-f", name);
            assertEquals(0, rm.exit(), rm.toString());
        }
    }
}
