package dev.vessel.api;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * The real docker CLI (version 28), pointed at an Engine API socket through {@code DOCKER_HOST}
 * with an empty {@code DOCKER_CONFIG}. A machine without it fails the test, saying so: these
 * tests exist to show that the CLI itself works against Vessel.
 */
public final class DockerCli {
    /** What a docker command did. */
    public record Result(int exit, String out, String err) {
        @Override
        public String toString() {
            return "exit " + exit + "\n--- stdout\n" + out + "--- stderr\n" + err;
        }
    }

    private static final long TIMEOUT_SECONDS = 60;

    private final Path binary;
    private final Path socket;
    private final Path config;

    /**
     * @param socket the Engine API's socket
     * @param config the CLI's configuration folder: an empty one keeps this host's user's contexts and credentials out
     */
    public DockerCli(Path socket, Path config) {
        this.binary = find();
        this.socket = socket;
        this.config = config;
    }

    /** docker on PATH (as {@code which docker} finds it), else /usr/local/bin/docker. */
    static Path find() {
        String path = System.getenv("PATH");
        if (path != null) {
            for (String d : path.split(File.pathSeparator)) {
                Path p = Path.of(d.isEmpty() ? "." : d, "docker");
                if (Files.isExecutable(p)) {
                    return p;
                }
            }
        }
        Path fallback = Path.of("/usr/local/bin/docker");
        if (Files.isExecutable(fallback)) {
            return fallback;
        }
        return fail("the docker CLI is not installed (not on PATH, not /usr/local/bin/docker): these tests run the real "
                + "docker 28 client against Vessel's Engine API; install docker-ce-cli");
    }

    /** Starts a docker command and leaves it running (stderr goes to this process's), for streams read as they come. */
    public Process start(String... args) throws IOException {
        return builder(args).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    private ProcessBuilder builder(String... args) throws IOException {
        List<String> argv = new ArrayList<>();
        argv.add(binary.toString());
        argv.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(argv).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        pb.environment().put("DOCKER_HOST", "unix://" + socket);
        pb.environment().put("DOCKER_CONFIG", Files.createDirectories(config).toString());
        pb.environment().remove("DOCKER_CONTEXT");
        pb.environment().remove("DOCKER_API_VERSION");
        return pb;
    }

    public Result run(String... args) throws IOException, InterruptedException {
        return run(null, Duration.ofSeconds(TIMEOUT_SECONDS), args);
    }

    /**
     * Runs a command to its end with {@code stdin} as its input (none: /dev/null); a command that
     * outlives {@code timeout} is killed and fails the test.
     */
    public Result run(byte[] stdin, Duration timeout, String... args) throws IOException, InterruptedException {
        ProcessBuilder pb = builder(args);
        if (stdin != null) {
            pb.redirectInput(ProcessBuilder.Redirect.PIPE);
        }
        Process p = pb.start();
        // Both streams are drained at once, so that neither fills its pipe and stops the CLI.
        CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()),
                r -> Thread.ofPlatform().daemon().start(r));
        CompletableFuture<byte[]> out = CompletableFuture.supplyAsync(() -> readAll(p.getInputStream()),
                r -> Thread.ofPlatform().daemon().start(r));
        if (stdin != null) {
            try (var in = p.getOutputStream()) {
                in.write(stdin);
            } catch (IOException e) {
                // it ended without reading its input: its status tells
            }
        }
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            p.destroyForcibly();
            fail("docker " + String.join(" ", args) + " did not finish in " + timeout.toSeconds() + " s");
        }
        return new Result(p.exitValue(), new String(out.join(), StandardCharsets.UTF_8), new String(err.join(), StandardCharsets.UTF_8));
    }

    private static byte[] readAll(java.io.InputStream in) {
        try {
            return in.readAllBytes();
        } catch (IOException e) {
            return new byte[0];
        }
    }
}
