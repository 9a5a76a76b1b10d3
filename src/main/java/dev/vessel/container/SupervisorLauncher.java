package dev.vessel.container;

import dev.vessel.host.HostCommand;
import dev.vessel.host.PrivateFiles;
import dev.vessel.host.StateRoot;
import dev.vessel.host.VesselJar;

import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Starts a container's supervisor ({@link SupervisorProcess}): Vessel's own jar in a JVM of its
 * own ({@code container-shim ID}), detached from the caller (its own session, stdin on
 * /dev/null, its diagnostics in the container's console log). It says "ready" on its stdout once
 * its socket listens; {@link #start} returns then.
 */
public final class SupervisorLauncher {
    /** The hidden command of Vessel's CLI that runs {@link SupervisorProcess}. */
    public static final String COMMAND = "container-shim";
    /** The line the supervisor prints once its socket listens. */
    static final String READY = "ready";
    /** What the supervisor prints instead, followed by why, when the container cannot start. */
    public static final String FAILED = "failed: ";

    /**
     * The supervisor idles beside its VM for the container's life: a small young generation keeps
     * its resident heap small (it allocates little after start).
     */
    static final List<String> JVM_OPTIONS = List.of("--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1", "-Xss512k", "-Xmn4m", "-XX:-UsePerfData");

    private final StateRoot root;

    public SupervisorLauncher(StateRoot root) {
        this.root = root;
    }

    /**
     * Starts the supervisor of {@code c} and returns once its socket listens.
     *
     * @param waitForAttach the main process starts once a client attached (or after 30 s without one)
     * @param restart the container ran before (its restart count goes up)
     */
    public void start(ContainerStore.Container c, boolean waitForAttach, boolean restart)
            throws IOException, ContainerException {
        Path jar;
        try {
            jar = VesselJar.require("a container's supervisor");
        } catch (IOException e) {
            throw ContainerException.failed(e.getMessage());
        }
        Path java = Path.of(System.getProperty("java.home"), "bin", "java");
        List<String> archive = classDataArchive(root.dir("cache").resolve("jvm"), jar);
        List<String> cmd = command(java, jar, archive, root.path(), c.config().id(), waitForAttach, restart,
                HostCommand.available("setsid"));
        PrivateFiles.ensureFile(c.consoleLog()); // the supervisor's stderr, and its VM's console
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.PIPE)
                .redirectError(ProcessBuilder.Redirect.appendTo(c.consoleLog().toFile()));
        Process p = pb.start();
        String line;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII))) {
            line = r.readLine();
        }
        if (line != null && line.startsWith(FAILED)) {
            throw ContainerException.failed(line.substring(FAILED.length()));
        }
        if (!READY.equals(line)) {
            // What it said instead (a JVM's fatal error banner goes to its stdout), and whether it still runs.
            String said = line == null ? "it closed its output without a word" : "it said \"" + line + "\"";
            boolean ended;
            try {
                ended = line == null && p.waitFor(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                ended = false;
            }
            String state = ended || !p.isAlive() ? "it exited with " + p.exitValue() : "it still runs";
            throw ContainerException.failed("the container's supervisor did not start (" + said + "; " + state + "; see "
                    + c.consoleLog() + "): " + lastLines(c.consoleLog(), 5));
        }
    }

    /** The supervisor's command line. */
    static List<String> command(Path java, Path jar, List<String> archiveOptions, Path stateRoot, String id,
                                boolean waitForAttach, boolean restart, boolean setsid) {
        List<String> cmd = new ArrayList<>();
        if (setsid) {
            cmd.add("setsid"); // no SIGINT/SIGHUP from the caller's terminal
        }
        cmd.add(java.toString());
        cmd.addAll(JVM_OPTIONS);
        cmd.addAll(archiveOptions);
        cmd.addAll(List.of("-jar", jar.toString(), "--root", stateRoot.toString(), COMMAND, id));
        if (waitForAttach) {
            cmd.add("--wait-attach");
        }
        if (restart) {
            cmd.add("--restart");
        }
        return cmd;
    }

    /**
     * The supervisor's class-data archive: the JVM writes it at the exit of the first supervisor of
     * this jar and maps it in every later one (its start-up drops by about a third: docs/
     * benchmarks.md, issue 4). Named by the jar's size and time, so another build gets its own;
     * archives of builds untouched for two weeks are deleted. Without a writable folder: none.
     */
    static List<String> classDataArchive(Path dir, Path jar) {
        try {
            PrivateFiles.createDirectories(dir);
            var a = Files.readAttributes(jar, BasicFileAttributes.class);
            String name = COMMAND + "-" + Long.toHexString(a.size()) + "-"
                    + Long.toHexString(a.lastModifiedTime().toMillis()) + ".jsa";
            Instant stale = Instant.now().minus(Duration.ofDays(14));
            try (var old = Files.newDirectoryStream(dir, COMMAND + "-*.jsa")) {
                for (Path p : old) {
                    if (!p.getFileName().toString().equals(name)
                            && Files.getLastModifiedTime(p).toInstant().isBefore(stale)) {
                        Files.deleteIfExists(p);
                    } else {
                        PrivateFiles.restrict(p); // the JVM writes it readable by all
                    }
                }
            }
            return List.of("-XX:+AutoCreateSharedArchive", "-XX:SharedArchiveFile=" + dir.resolve(name),
                    "-Xlog:cds=off", "-Xlog:cds+dynamic=off");
        } catch (IOException e) {
            return List.of(); // a slower start, nothing worse
        }
    }

    static String lastLines(Path file, int n) {
        try {
            List<String> l = Files.readAllLines(file, StandardCharsets.UTF_8);
            return String.join(" | ", l.subList(Math.max(0, l.size() - n), l.size()));
        } catch (IOException e) {
            return "";
        }
    }
}
