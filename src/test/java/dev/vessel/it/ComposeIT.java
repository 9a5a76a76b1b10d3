package dev.vessel.it;

import dev.vessel.api.DockerCli;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * docker-compose (Debian's, 1.29) brings a project of two services up through Vessel's Engine
 * API: each service a micro-VM on the project's network, one reaching the other by its service
 * name, one publishing a port the host fetches from; then ps, logs, exec and down, after which
 * nothing of the project is left.
 */
@ExtendWith(HelperMachineExtension.class)
class ComposeIT {
    private static final Duration T = Duration.ofMinutes(6);
    private static Path dir;
    private static Path socket;
    private static Process service;

    @BeforeAll
    static void serve() throws Exception {
        dir = Files.createTempDirectory("vessel-compose-it");
        socket = dir.resolve("docker.sock");
        service = VesselCli.start(Duration.ofMinutes(40), List.of("system", "service", "--socket", socket.toString(), "--time", "0"));
        Background.run("compose-service-stderr", () -> service.getErrorStream().transferTo(System.err));
        BufferedReader out = new BufferedReader(new InputStreamReader(service.getInputStream(), StandardCharsets.UTF_8));
        String first = out.readLine();
        assertTrue(first != null && first.startsWith("Serving the Docker Engine API"), "the service did not start: " + first);
        Background.run("compose-service-stdout", () -> out.transferTo(java.io.Writer.nullWriter()));
    }

    @AfterAll
    static void stop() throws Exception {
        if (service != null) {
            service.destroy();
            assertTrue(service.waitFor(30, TimeUnit.SECONDS), "the service did not end on SIGTERM");
        }
        if (dir != null) {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }

    /** docker-compose in the project's folder, against the service; its output whole. */
    private static DockerCli.Result compose(Path project, String... args) throws Exception {
        Path binary = Path.of("/usr/bin/docker-compose");
        if (!Files.isExecutable(binary)) {
            fail("this test runs Debian's docker-compose (package docker-compose, in scripts/packages.sh), which is missing");
        }
        List<String> argv = new ArrayList<>(List.of(binary.toString(), "--ansi", "never"));
        argv.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(argv).directory(project.toFile())
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        pb.environment().put("DOCKER_HOST", "unix://" + socket);
        pb.environment().put("DOCKER_CONFIG", Files.createDirectories(dir.resolve("docker-config")).toString());
        pb.environment().put("COMPOSE_INTERACTIVE_NO_CLI", "1");
        Process p = ProcessDeadline.after(ProcessDeadline.DEFAULT, pb.start());
        CompletableFuture<byte[]> err = Background.run("compose-stderr", () -> p.getErrorStream().readAllBytes());
        CompletableFuture<byte[]> out = Background.run("compose-stdout", () -> p.getInputStream().readAllBytes());
        if (!p.waitFor(T.toSeconds(), TimeUnit.SECONDS)) {
            p.destroyForcibly();
            fail("docker-compose " + String.join(" ", args) + " did not finish in " + T.toSeconds() + " s");
        }
        return new DockerCli.Result(p.exitValue(), new String(out.join(), StandardCharsets.UTF_8),
                new String(err.join(), StandardCharsets.UTF_8));
    }

    /** Follows a container's log until {@code line} appears in it. */
    private static void awaitLog(String container, String line) throws Exception {
        Process logs = new DockerCli(socket, dir.resolve("docker-config")).start("logs", "-f", container);
        try {
            CompletableFuture<Boolean> seen = Background.run("compose-logs", () -> {
                BufferedReader r = new BufferedReader(new InputStreamReader(logs.getInputStream(), StandardCharsets.UTF_8));
                String l;
                while ((l = r.readLine()) != null) {
                    if (l.contains(line)) {
                        return true;
                    }
                }
                return false;
            });
            assertTrue(seen.get(T.toSeconds(), TimeUnit.SECONDS), container + "'s log ended without " + line);
        } finally {
            logs.destroy();
        }
    }

    private static int freePort() throws Exception {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    @Test
    void aTwoServiceProjectComesUpReachesItselfByNameServesTheHostAndGoesDown() throws Exception {
        Path project = Files.createDirectories(dir.resolve("shop"));
        int port = freePort();
        Files.writeString(project.resolve("docker-compose.yml"), """
                version: "3"
                services:
                  web:
                    image: busybox
                    command: sh -c "mkdir /www && echo hello-compose > /www/index.html && httpd -p 80 -h /www && echo web-started && exec sleep 3600"
                    ports:
                      - "127.0.0.1:%d:80"
                  client:
                    image: busybox
                    command: sh -c "echo client-started && exec sleep 3600"
                """.formatted(port));
        compose(project, "down"); // what a first attempt on a machine that died left
        try {
            DockerCli.Result up = compose(project, "up", "-d");
            assertEquals(0, up.exit(), up.toString());

            DockerCli.Result ps = compose(project, "ps");
            assertEquals(0, ps.exit(), ps.toString());
            assertTrue(ps.out().contains("shop_web_1") && ps.out().contains("shop_client_1"), ps.toString());
            assertTrue(ps.out().lines().filter(l -> l.startsWith("shop_")).allMatch(l -> l.contains(" Up ")), ps.toString());

            // httpd without -f goes to the background once it listens: its "web-started" means it does.
            awaitLog("shop_web_1", "web-started");
            try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(30)).build()) {
                HttpResponse<String> page = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/index.html"))
                        .timeout(Duration.ofMinutes(1)).build(), HttpResponse.BodyHandlers.ofString());
                assertEquals("hello-compose\n", page.body(), "the host reaches the published port");
            }

            DockerCli.Result byName = compose(project, "exec", "-T", "client", "wget", "-q", "-O", "-", "http://web/index.html");
            assertEquals(0, byName.exit(), byName.toString());
            assertEquals("hello-compose\n", byName.out(), "the client reaches the web service by its name");

            DockerCli.Result logs = compose(project, "logs", "--no-color", "web");
            assertTrue(logs.out().contains("web-started"), logs.toString());
        } finally {
            DockerCli.Result down = compose(project, "down");
            assertEquals(0, down.exit(), down.toString());
        }
        DockerCli docker = new DockerCli(socket, dir.resolve("docker-config"));
        assertEquals("", docker.run("ps", "-aq", "--filter", "label=com.docker.compose.project=shop").out(), "down removed the containers");
        assertTrue(!docker.run("network", "ls", "--format", "{{.Name}}").out().contains("shop_default"), "and the project's network");
    }
}
