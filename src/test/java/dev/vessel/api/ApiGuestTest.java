package dev.vessel.api;

import dev.vessel.container.ContainerState;
import dev.vessel.container.ContainerStore;
import dev.vessel.guest.agent.AgentProcess;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * What reaches into a running container's guest, with the real docker CLI: {@code docker cp} both
 * ways (and the archive endpoints' errors), {@code docker top}, {@code docker stats}. The
 * container "runs" with the real vessel-agent on this host behind a stand-in for its VM's vsock
 * socket, so its files are a directory of the test's own and its /proc is this host's.
 */
class ApiGuestTest {
    @TempDir
    Path dir;
    ApiFixture fixture;
    DockerCli docker;
    AgentProcess agent;
    ServerSocketChannel vsock;
    Path files;

    @BeforeEach
    void runningContainer() throws Exception {
        fixture = new ApiFixture(dir);
        docker = new DockerCli(fixture.socket(), dir.resolve("docker-config"));
        agent = AgentProcess.start(Files.createDirectories(dir.resolve("agent")), Map.of());
        DockerCli.Result created = docker.run("create", "--name", "box", ApiFixture.IMAGE);
        assertEquals(0, created.exit(), created.toString());
        ContainerStore.Container c = fixture.containers.require("box");
        long started = agent.process.info().startInstant().orElseThrow().toEpochMilli();
        c.writeState(ContainerState.created().running(agent.process.pid(), started, false));
        vsock = hybridVsock(c.vsockSocket(), agent);
        files = Files.createDirectories(dir.resolve("files"));
    }

    @AfterEach
    void stop() throws IOException {
        if (vsock != null) {
            vsock.close();
        }
        agent.close();
        fixture.close();
    }

    /** Firecracker's hybrid vsock as the VMM serves it: "CONNECT port", "OK n", then the agent's bytes. */
    static ServerSocketChannel hybridVsock(Path socket, AgentProcess agent) throws IOException {
        Files.createDirectories(socket.getParent());
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
        Thread.ofVirtual().start(() -> {
            while (server.isOpen()) {
                try {
                    SocketChannel client = server.accept();
                    Thread.ofVirtual().start(() -> relay(client, agent));
                } catch (IOException closed) {
                    return;
                }
            }
        });
        return server;
    }

    private static void relay(SocketChannel client, AgentProcess agent) {
        try (client; Socket tcp = new Socket(agent.address().getAddress(), agent.address().getPort())) {
            InputStream in = Channels.newInputStream(client);
            OutputStream out = Channels.newOutputStream(client);
            int c;
            while ((c = in.read()) >= 0 && c != '\n') {
                // the CONNECT line
            }
            out.write("OK 1\n".getBytes(StandardCharsets.US_ASCII));
            Thread back = Thread.ofVirtual().start(() -> {
                try {
                    tcp.getInputStream().transferTo(out);
                    client.shutdownOutput();
                } catch (IOException ignored) {
                    // either side went away
                }
            });
            in.transferTo(tcp.getOutputStream());
            tcp.shutdownOutput();
            back.join();
        } catch (IOException | InterruptedException ignored) {
            // either side went away
        }
    }

    private DockerCli.Result ok(String... args) throws Exception {
        DockerCli.Result r = docker.run(args);
        assertEquals(0, r.exit(), () -> "docker " + String.join(" ", args) + ": " + r);
        return r;
    }

    @Test
    void dockerCpCopiesAFileAndATreeOutOfTheContainerAndBackIn() throws Exception {
        assumeTrue(ProcessHandle.current().info().user().orElse("").equals("root"),
                "copying in sets owners, as the agent does as root in a container");
        byte[] blob = new byte[3 << 20];
        new Random(7).nextBytes(blob);
        Files.createDirectories(files.resolve("app/conf"));
        Files.write(files.resolve("app/blob.bin"), blob);
        Files.writeString(files.resolve("app/conf/app.conf"), "port=8080\n");
        Files.createSymbolicLink(files.resolve("app/current"), Path.of("conf"));

        Path local = Files.createDirectories(dir.resolve("local"));
        ok("cp", "box:" + files.resolve("app/conf/app.conf"), local.resolve("copied.conf").toString());
        assertEquals("port=8080\n", Files.readString(local.resolve("copied.conf")));
        ok("cp", "box:" + files.resolve("app"), local.toString());
        assertArrayEquals(blob, Files.readAllBytes(local.resolve("app/blob.bin")), "3 MiB out, in chunks");
        assertEquals(Path.of("conf"), Files.readSymbolicLink(local.resolve("app/current")));

        Path in = Files.createDirectories(files.resolve("in"));
        ok("cp", local.resolve("app").toString(), "box:" + in);
        assertArrayEquals(blob, Files.readAllBytes(in.resolve("app/blob.bin")), "3 MiB in, streamed");
        assertEquals("port=8080\n", Files.readString(in.resolve("app/conf/app.conf")));
        ok("cp", local.resolve("copied.conf").toString(), "box:" + in.resolve("renamed.conf"));
        assertEquals("port=8080\n", Files.readString(in.resolve("renamed.conf")));
        assertEquals(0, Files.getAttribute(in.resolve("renamed.conf"), "unix:uid"), "root's, as docker cp without -a");

        DockerCli.Result missing = docker.run("cp", "box:" + files.resolve("nope"), local.toString());
        assertEquals(1, missing.exit(), missing.toString());
        assertTrue(missing.err().contains("Could not find the file " + files.resolve("nope") + " in container box"),
                missing.err());
    }

    @Test
    void headGivesThePathsStatAndBadRequestsChangeNothing() throws Exception {
        Files.writeString(files.resolve("hello.txt"), "hi\n");
        try (UnixHttp http = new UnixHttp(fixture.socket())) {
            UnixHttp.Response head = http.sendBytes("HEAD", "/v1.51/containers/box/archive?path=" + files.resolve("hello.txt"),
                    null, (byte[]) null);
            assertEquals(200, head.status(), head.toString());
            String stat = new String(Base64.getDecoder().decode(head.header("x-docker-container-path-stat")), StandardCharsets.UTF_8);
            assertTrue(stat.startsWith("{\"name\":\"hello.txt\",\"size\":3,\"mode\":"), stat);
        }
        try (UnixHttp http = new UnixHttp(fixture.socket())) {
            UnixHttp.Response none = http.get("/containers/box/archive");
            assertEquals(400, none.status());
            assertEquals("{\"message\":\"path cannot be empty\"}", none.body());
        }
        try (UnixHttp http = new UnixHttp(fixture.socket())) {
            UnixHttp.Response gone = http.get("/containers/nosuch/archive?path=/");
            assertEquals(404, gone.status(), gone.toString());
        }
        Path dest = Files.createDirectories(files.resolve("dest"));
        for (String bad : new String[] {"../escape.txt", "a/../../escape.txt"}) {
            try (UnixHttp http = new UnixHttp(fixture.socket())) {
                UnixHttp.Response put = http.sendBytes("PUT", "/v1.51/containers/box/archive?path=" + dest,
                        "application/x-tar", tar("fine.txt", "ok", bad, "evil"));
                assertEquals(400, put.status(), put.toString());
                assertTrue(put.body().contains("leads out of the destination"), put.body());
            }
        }
        try (UnixHttp http = new UnixHttp(fixture.socket())) {
            UnixHttp.Response put = http.sendBytes("PUT", "/v1.51/containers/box/archive?path=" + dest,
                    "application/x-tar", "not a tar".repeat(100).getBytes(StandardCharsets.US_ASCII));
            assertEquals(400, put.status(), put.toString());
        }
        try (var listing = Files.list(dest)) {
            assertEquals(0, listing.count(), "a refused tar left something behind");
        }
        assertFalse(Files.exists(files.resolve("escape.txt")));
    }

    @Test
    void topListsTheProcessesAndStatsReadsTheCounters() throws Exception {
        DockerCli.Result top = ok("top", "box");
        String header = top.out().lines().findFirst().orElse("");
        assertTrue(header.matches("UID\\s+PID\\s+PPID\\s+C\\s+STIME\\s+TTY\\s+TIME\\s+CMD\\s*"), top.out());
        // This host's /proc stands in for the guest's: the test's own JVM is among the processes.
        assertTrue(top.out().lines().anyMatch(l -> l.contains(" " + ProcessHandle.current().pid() + " ")), top.out());
        assertTrue(top.out().lines().noneMatch(l -> l.split("\\s+")[1].equals(Long.toString(agent.process.pid()))),
                "the agent's own processes are left out\n" + top.out());
        DockerCli.Result badArgs = docker.run("top", "box", "aux");
        assertEquals(1, badArgs.exit(), badArgs.toString());

        DockerCli.Result stats = ok("stats", "--no-stream", "--format", "{{.Name}} {{.MemUsage}} {{.PIDs}} {{.CPUPerc}}", "box");
        assertTrue(stats.out().matches("box \\S+ / \\S+ \\d+ \\d+\\.\\d+%\n"), stats.toString());
        try (UnixHttp http = new UnixHttp(fixture.socket())) {
            UnixHttp.Response once = http.get("/v1.51/containers/box/stats?stream=false&one-shot=true");
            assertEquals(200, once.status(), once.toString());
            assertTrue(once.body().contains("\"memory_stats\":{\"usage\":") && once.body().contains("\"online_cpus\":"),
                    once.body());
        }
        fixture.containers.require("box").writeState(ContainerState.created());
        DockerCli.Result stopped = docker.run("top", "box");
        assertEquals(1, stopped.exit(), stopped.toString());
        assertTrue(stopped.err().contains("is not running"), stopped.err());
    }

    private static byte[] tar(String... pairs) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (TarArchiveOutputStream out = new TarArchiveOutputStream(b)) {
            for (int i = 0; i < pairs.length; i += 2) {
                byte[] data = pairs[i + 1].getBytes(StandardCharsets.UTF_8);
                TarArchiveEntry e = new TarArchiveEntry(pairs[i], true);
                e.setSize(data.length);
                out.putArchiveEntry(e);
                out.write(data);
                out.closeArchiveEntry();
            }
        }
        return b.toByteArray();
    }
}
