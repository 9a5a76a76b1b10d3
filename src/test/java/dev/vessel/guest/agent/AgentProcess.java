package dev.vessel.guest.agent;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/** The real vessel-agent binary (from the classpath), running on 127.0.0.1 on a port it picked. */
public final class AgentProcess implements AutoCloseable {
    public final Process process;
    final int port;
    final Path log;

    private AgentProcess(Process process, int port, Path log) {
        this.process = process;
        this.port = port;
        this.log = log;
    }

    public static AgentProcess start(Path dir, Map<String, String> extraEnv, String... extraArgs) throws IOException {
        Path bin = dir.resolve(AgentBinary.FILE_NAME);
        if (!Files.isExecutable(bin)) {
            bin = AgentBinary.extractTo(dir);
        }
        List<String> cmd = new ArrayList<>(List.of(bin.toString(), "--listen", "tcp:127.0.0.1:0"));
        cmd.addAll(List.of(extraArgs));
        Path log = Files.createTempFile(dir, "agent", ".log");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectError(log.toFile());
        pb.environment().putAll(extraEnv);
        Process p = pb.start();
        p.getOutputStream().close();
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII));
        String line = r.readLine();
        if (line == null || !line.matches("\\d+")) {
            p.destroyForcibly();
            throw new IOException("vessel-agent did not print its port (got " + line + "): " + Files.readString(log));
        }
        return new AgentProcess(p, Integer.parseInt(line), log);
    }

    public InetSocketAddress address() {
        return new InetSocketAddress("127.0.0.1", port);
    }

    public String log() {
        try {
            return Files.readString(log);
        } catch (IOException e) {
            return "(no log: " + e + ")";
        }
    }

    @Override
    public void close() {
        process.destroy();
        try {
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            process.destroyForcibly();
            Thread.currentThread().interrupt();
        }
    }
}
