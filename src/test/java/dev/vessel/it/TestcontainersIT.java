package dev.vessel.it;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.testcontainers.containers.Container;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.utility.DockerImageName;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Testcontainers, unchanged, on Vessel: a {@link GenericContainer} with an exposed port and a
 * log-message wait strategy; the test fetches from the mapped port, runs a command in the
 * container, reads its logs, and stops it. The Engine API is served by the packaged jar at the
 * {@code DOCKER_HOST} the build gives this test (Ryuk, the reaper, is off: it bind-mounts the
 * engine's socket, and Vessel has no bind mounts yet).
 */
@ExtendWith(HelperMachineExtension.class)
class TestcontainersIT {
    private static Process service;

    @BeforeAll
    static void serve() throws Exception {
        String host = System.getenv("DOCKER_HOST");
        assertTrue(host != null && host.startsWith("unix://"), "the build sets DOCKER_HOST to the socket this test serves; got " + host);
        Path socket = Path.of(host.substring("unix://".length()));
        Files.createDirectories(socket.getParent());
        service = VesselCli.start(Duration.ofMinutes(40), List.of("system", "service", "--socket", socket.toString(), "--time", "0"));
        Background.run("testcontainers-service-stderr", () -> service.getErrorStream().transferTo(System.err));
        BufferedReader out = new BufferedReader(new InputStreamReader(service.getInputStream(), StandardCharsets.UTF_8));
        String first = out.readLine();
        assertTrue(first != null && first.startsWith("Serving the Docker Engine API"), "the service did not start: " + first);
        Background.run("testcontainers-service-stdout", () -> out.transferTo(java.io.Writer.nullWriter()));
    }

    @AfterAll
    static void stop() throws Exception {
        if (service != null) {
            service.destroy();
            assertTrue(service.waitFor(30, TimeUnit.SECONDS), "the service did not end on SIGTERM");
        }
    }

    @Test
    void aGenericContainerServesOnItsMappedPortRunsCommandsAndLogs() throws Exception {
        try (GenericContainer<?> web = new GenericContainer<>(DockerImageName.parse("busybox:latest"))
                // httpd without -f goes to the background once it listens: "serving" means it does.
                // Copied in between create and start, as Testcontainers does it.
                .withCopyToContainer(org.testcontainers.images.builder.Transferable.of("copied before the start\n"),
                        "/www/before.txt")
                .withCommand("sh", "-c", "mkdir -p /www && echo hello-from-vessel > /www/index.html"
                        + " && httpd -p 8080 -h /www && echo serving && exec sleep 3600")
                .withExposedPorts(8080)
                .waitingFor(Wait.forLogMessage(".*serving.*\\n", 1))
                .withStartupTimeout(Duration.ofMinutes(4))) {
            web.start();

            URI uri = URI.create("http://" + web.getHost() + ":" + web.getMappedPort(8080) + "/index.html");
            try (HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(30)).build()) {
                HttpResponse<String> page = http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(1)).build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(200, page.statusCode());
                assertEquals("hello-from-vessel\n", page.body());
            }

            Container.ExecResult exec = web.execInContainer("sh", "-c", "echo out-$((40+2)); echo err >&2; exit 3");
            assertEquals(3, exec.getExitCode(), exec.toString());
            assertEquals("out-42\n", exec.getStdout());
            assertEquals("err\n", exec.getStderr());

            assertEquals("copied before the start\n", web.execInContainer("cat", "/www/before.txt").getStdout());
            web.copyFileToContainer(org.testcontainers.images.builder.Transferable.of("copied by testcontainers\n"),
                    "/www/copied.txt");
            assertEquals("copied by testcontainers\n", web.execInContainer("cat", "/www/copied.txt").getStdout());
            assertEquals("hello-from-vessel\n", web.copyFileFromContainer("/www/index.html",
                    in -> new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8)));

            assertTrue(web.getLogs().contains("serving\n"), web.getLogs());
            String id = web.getContainerId();
            web.stop();
            assertTrue(web.getDockerClient().listContainersCmd().withShowAll(true).exec().stream()
                    .noneMatch(c -> c.getId().equals(id)), "stop removes the container, as Testcontainers expects");
        }
    }
}
