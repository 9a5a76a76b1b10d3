package dev.vessel.cli;

import dev.vessel.api.DockerCli;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code vessel system service}: serves the docker CLI on the socket it is given, and ends when idle. */
class SystemServiceCommandTest {
    @TempDir
    Path dir;

    @Test
    void servesTheDockerCliUntilIdleThenRemovesItsSocket() throws Exception {
        Path sockets = Files.createDirectories(dir.resolve("run"));
        Path socket = sockets.resolve("docker.sock");
        try (WatchService watch = FileSystems.getDefault().newWatchService()) {
            sockets.register(watch, StandardWatchEventKinds.ENTRY_CREATE);
            CompletableFuture<Integer> service = CompletableFuture.supplyAsync(
                    () -> Main.run("--root", dir.resolve("root").toString(), "system", "service", "--socket", socket.toString(),
                            "--time", "2"),
                    r -> Thread.ofPlatform().daemon().start(r));
            WatchKey created = watch.poll(60, TimeUnit.SECONDS);
            assertNotNull(created, "the socket did not appear");

            DockerCli.Result ps = new DockerCli(socket, dir.resolve("docker-config")).run("ps", "-a");
            assertEquals(0, ps.exit(), ps.toString());
            assertTrue(ps.out().startsWith("CONTAINER ID"), ps.out());

            assertEquals(0, service.get(60, TimeUnit.SECONDS), "the service ends once idle for --time");
            assertTrue(Files.notExists(socket), "and takes its socket with it");
        }
    }

    @Test
    void servesTheSocketSystemdPassesAndLeavesItsFile() throws Exception {
        Path activate = Path.of("/usr/bin/systemd-socket-activate");
        assertTrue(Files.isExecutable(activate), "this test runs the service as systemd's socket activation does, with "
                + activate + " (Debian's systemd package), which is missing");
        Path sockets = Files.createDirectories(dir.resolve("run"));
        Path socket = sockets.resolve("activated.sock");
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        try (WatchService watch = FileSystems.getDefault().newWatchService()) {
            sockets.register(watch, StandardWatchEventKinds.ENTRY_CREATE);
            Process service = new ProcessBuilder(activate.toString(), "-l", socket.toString(), java.toString(),
                    "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                    "--root", dir.resolve("root").toString(), "system", "service").redirectErrorStream(true).start();
            try {
                CompletableFuture<String> output = CompletableFuture.supplyAsync(() -> {
                    try {
                        return new String(service.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                    } catch (java.io.IOException e) {
                        return e.toString();
                    }
                }, r -> Thread.ofPlatform().daemon().start(r));
                assertNotNull(watch.poll(60, TimeUnit.SECONDS), "systemd-socket-activate did not make the socket");

                // The first client makes systemd-socket-activate start the service on the socket it holds.
                DockerCli.Result ps = new DockerCli(socket, dir.resolve("docker-config")).run("ps", "-a");
                assertEquals(0, ps.exit(), ps.toString());
                assertTrue(ps.out().startsWith("CONTAINER ID"), ps.out());

                service.destroy();
                assertTrue(service.waitFor(30, TimeUnit.SECONDS), "the service ends on SIGTERM");
                assertTrue(output.get(30, TimeUnit.SECONDS).contains("on the socket systemd passed (descriptor 3)"), output.join());
            } finally {
                service.destroyForcibly();
            }
        }
    }

    @Test
    void servesTcpOnlyWhenAskedAndWarnsThatItIsOpen() throws Exception {
        Path javaBin = Path.of(System.getProperty("java.home"), "bin", "java");
        Process service = new ProcessBuilder(javaBin.toString(), "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), Main.class.getName(), "--root", dir.resolve("root").toString(),
                "system", "service", "--host", "tcp://127.0.0.1:0", "--time", "3")
                .redirectError(dir.resolve("service.err").toFile()).start();
        try (var out = new java.io.BufferedReader(new java.io.InputStreamReader(service.getInputStream(), StandardCharsets.UTF_8))) {
            String first = out.readLine();
            java.util.regex.Matcher m = java.util.regex.Pattern.compile(" on tcp://127\\.0\\.0\\.1:(\\d+)$").matcher(
                    first == null ? "" : first);
            assertTrue(m.find(), "the service says where it listens: " + first);
            try (java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient()) {
                var ping = http.send(java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://127.0.0.1:" + m.group(1) + "/_ping")).build(),
                        java.net.http.HttpResponse.BodyHandlers.ofString());
                assertEquals(200, ping.statusCode());
                assertEquals("OK", ping.body());
            }
            assertTrue(service.waitFor(60, TimeUnit.SECONDS), "the service ends once idle for --time");
            assertTrue(Files.readString(dir.resolve("service.err")).startsWith("WARNING: the Engine API on tcp://127.0.0.1:0 has "
                    + "no TLS and no authentication"), Files.readString(dir.resolve("service.err")));
        } finally {
            service.destroyForcibly();
        }
        SystemCommand.Service s = new SystemCommand.Service();
        for (String bad : new String[] {"http://127.0.0.1:2375", "tcp://127.0.0.1", "tcp://127.0.0.1:99999", "unix://relative"}) {
            UserError e = org.junit.jupiter.api.Assertions.assertThrows(UserError.class, () -> s.tcpAddress(bad), bad);
            assertEquals(125, e.status());
            assertTrue(e.getMessage().startsWith("invalid bind address (" + bad + ")"), e.getMessage());
        }
        assertEquals(null, s.tcpAddress("unix:///run/other.sock"));
        assertEquals(Path.of("/run/other.sock"), s.socket);
    }

    @Test
    void onlyTheDescriptorsMeantForThisProcessAreTaken() {
        assertEquals(3, SystemCommand.Service.systemdSocket("42", "1", 42));
        assertEquals(-1, SystemCommand.Service.systemdSocket("41", "1", 42), "another process's (a parent's) descriptors");
        assertEquals(-1, SystemCommand.Service.systemdSocket("42", "0", 42));
        assertEquals(-1, SystemCommand.Service.systemdSocket(null, "1", 42));
        assertEquals(-1, SystemCommand.Service.systemdSocket("x", "1", 42));
    }

    @Test
    void aNegativeTimeIsRefusedAndHelpSaysWhatItDoes() {
        PrintStream err = System.err;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setErr(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            assertEquals(2, Main.run("--root", dir.toString(), "system", "service", "--time", "-1"));
        } finally {
            System.setErr(err);
        }
        assertTrue(captured.toString(StandardCharsets.UTF_8).contains("--time must be 0 or more seconds"), captured.toString());

        PrintStream out = System.out;
        ByteArrayOutputStream help = new ByteArrayOutputStream();
        System.setOut(new PrintStream(help, true, StandardCharsets.UTF_8));
        try {
            assertEquals(0, Main.run("system", "service", "--help"));
        } finally {
            System.setOut(out);
        }
        String text = help.toString(StandardCharsets.UTF_8);
        assertTrue(text.contains("--socket=PATH") && text.contains("--time=SECONDS") && text.contains("/run/vessel/docker.sock"), text);
    }
}
