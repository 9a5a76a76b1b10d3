package dev.vessel.host;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/** Runs a host program to completion and fails with its own error text when it fails. */
public final class HostCommand {
    private HostCommand() {}

    /** Runs {@code command} in {@code dir}; returns its stdout. Stderr is captured for the error message. */
    public static String run(Path dir, List<String> command) throws IOException {
        return runCapturing(dir, command).out();
    }

    /** What a program that succeeded printed. */
    public record Output(String out, String err) {}

    /**
     * {@link #run}, returning stderr too: for programs that report a failed step there and still
     * exit 0 (debugfs running a command file).
     */
    public static Output runCapturing(Path dir, List<String> command) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        if (dir != null) {
            pb.directory(dir.toFile());
        }
        Process p;
        try {
            p = pb.start();
        } catch (IOException e) {
            throw new IOException(command.get(0) + " cannot be run (is it installed?): " + e.getMessage(), e);
        }
        try {
            byte[][] errBytes = new byte[1][];
            Thread err = Thread.ofVirtual().start(() -> {
                try {
                    errBytes[0] = p.getErrorStream().readAllBytes();
                } catch (IOException e) {
                    errBytes[0] = new byte[0];
                }
            });
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int status = p.waitFor();
            err.join();
            if (status != 0) {
                String msg = new String(errBytes[0], StandardCharsets.UTF_8).strip();
                int nl = msg.lastIndexOf('\n');
                throw new IOException(String.join(" ", command) + " failed (exit " + status + ")"
                        + (msg.isEmpty() ? "" : ": " + (nl >= 0 ? msg.substring(nl + 1) : msg)));
            }
            return new Output(out, new String(errBytes[0], StandardCharsets.UTF_8));
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running " + command.get(0), e);
        }
    }

    /** Whether {@code program} is on PATH. */
    public static boolean available(String program) {
        String path = System.getenv().getOrDefault("PATH", "/usr/sbin:/usr/bin:/sbin:/bin");
        for (String dir : path.split(":")) {
            if (!dir.isEmpty() && java.nio.file.Files.isExecutable(Path.of(dir, program))) {
                return true;
            }
        }
        return false;
    }
}
