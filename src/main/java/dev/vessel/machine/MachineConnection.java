package dev.vessel.machine;

import dev.vessel.guest.agent.AgentClient;
import dev.vessel.guest.agent.ExecRequest;
import dev.vessel.guest.agent.ExecSession;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

/**
 * Talks to the helper machine's agent: every command is its own agent connection (one exec per
 * connection), authenticated with the machine's token.
 */
public final class MachineConnection implements AutoCloseable {
    /** Where the machine keeps files sent from the host, named by content hash. */
    public static final String HOST_FILES = "/var/lib/vessel/host-files";
    static final Map<String, String> BASE_ENV = Map.of(
            "PATH", "/sbin:/bin:/usr/sbin:/usr/bin",
            "HOME", "/root",
            "VESSEL_ROOT", "/var/lib/vessel",
            "LANG", "C.UTF-8");

    private final HelperMachine.Endpoint endpoint;

    private MachineConnection(HelperMachine.Endpoint endpoint) {
        this.endpoint = endpoint;
    }

    public static MachineConnection open(HelperMachine.Endpoint endpoint) {
        return new MachineConnection(endpoint);
    }

    /** The machine this connection talks to. */
    public HelperMachine.Endpoint endpoint() {
        return endpoint;
    }

    /** Starts {@code request} in the machine; the caller waits on the session and closes it. */
    public ExecSession start(ExecRequest request, InputStream stdin, OutputStream stdout, OutputStream stderr)
            throws IOException {
        AgentClient client = AgentClient.connect(
                new InetSocketAddress(InetAddress.getLoopbackAddress(), endpoint.port()),
                endpoint.token().getBytes(StandardCharsets.US_ASCII), Duration.ofSeconds(30));
        return client.exec(request, stdin, stdout, stderr);
    }

    /** Runs a command to completion with no input, discarding its output; returns its status. */
    public int runQuietly(List<String> argv) throws IOException, MachineException {
        return run(argv, null, OutputStream.nullOutputStream(), OutputStream.nullOutputStream());
    }

    public int run(List<String> argv, InputStream stdin, OutputStream stdout, OutputStream stderr)
            throws IOException, MachineException {
        try (ExecSession s = start(ExecRequest.of(argv).withEnv(BASE_ENV), stdin, stdout, stderr)) {
            return s.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new MachineException("interrupted while running " + argv.get(0) + " in the helper machine");
        }
    }

    /**
     * {@link #sendFile} for several files with one round trip to learn which the machine lacks
     * (each exec session costs a few hundred ms under emulation); returns the paths in order.
     */
    public List<String> sendFiles(List<Path> files) throws IOException, MachineException {
        List<String> remote = new java.util.ArrayList<>();
        for (Path f : files) {
            String sha = FileHashes.sha256(f);
            remote.add(HOST_FILES + "/" + sha + "/" + f.getFileName().toString().replaceAll("[^A-Za-z0-9._-]", "_"));
        }
        List<String> argv = new java.util.ArrayList<>(List.of("/bin/sh", "-c",
                "for f in \"$@\"; do [ -f \"$f\" ] || echo \"$f\"; done", "sh"));
        argv.addAll(remote);
        java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
        if (run(argv, null, out, OutputStream.nullOutputStream()) != 0) {
            throw new MachineException("could not list the helper machine's files");
        }
        java.util.Set<String> missing = new java.util.HashSet<>(List.of(out.toString(StandardCharsets.UTF_8).split("\n")));
        for (int i = 0; i < files.size(); i++) {
            if (missing.contains(remote.get(i))) {
                sendFile(files.get(i));
            }
        }
        return remote;
    }

    /**
     * Makes a host file available in the machine, sending it only if the machine does not have
     * these exact bytes yet; returns its path inside the machine.
     */
    public String sendFile(Path file) throws IOException, MachineException {
        String sha = FileHashes.sha256(file);
        String name = file.getFileName().toString().replaceAll("[^A-Za-z0-9._-]", "_");
        String remote = HOST_FILES + "/" + sha + "/" + name;
        if (runQuietly(List.of("/bin/test", "-f", remote)) == 0) {
            return remote;
        }
        String script = "set -e; d=${1%/*}; mkdir -p \"$d\"; t=\"$1.$$.part\"; cat > \"$t\"; "
                + "echo \"$2  $t\" | sha256sum -c -s; mv \"$t\" \"$1\"";
        java.io.ByteArrayOutputStream err = new java.io.ByteArrayOutputStream();
        int status;
        try (InputStream in = Files.newInputStream(file)) {
            status = run(List.of("/bin/sh", "-c", script, "sh", remote, sha), in, OutputStream.nullOutputStream(), err);
        }
        if (status != 0) {
            throw new MachineException("could not copy " + file + " into the helper machine: "
                    + err.toString(StandardCharsets.UTF_8).strip());
        }
        return remote;
    }

    @Override
    public void close() {
        // Connections are per command; nothing is held open.
    }
}
