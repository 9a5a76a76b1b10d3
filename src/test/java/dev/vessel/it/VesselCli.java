package dev.vessel.it;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs the real `vessel` CLI (the packaged jar) as a separate process, as a user would, against the
 * integration-test state root.
 */
final class VesselCli {
    /** Everything a finished command left behind. */
    record Result(int status, String stdout, String stderr) {
        @Override
        public String toString() {
            return "exit " + status + "\n--- stdout ---\n" + stdout + "\n--- stderr ---\n" + stderr;
        }
    }

    static Path jar() {
        String p = System.getProperty("vessel.jar");
        if (p == null || !Files.isRegularFile(Path.of(p))) {
            throw new IllegalStateException("integration tests need the packaged jar (system property vessel.jar, set by "
                    + "failsafe); got " + p + " — run them with ./mvnw verify");
        }
        return Path.of(p);
    }

    static Path root() {
        return Path.of(System.getProperty("vessel.it.root", "/var/tmp/vessel-it"));
    }

    static List<String> command(List<String> args) {
        return command(root(), args);
    }

    /** The command line against another state root (tests that want a store of their own). */
    static List<String> command(Path root, List<String> args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-jar", jar().toString(), "--root", root.toString()));
        cmd.addAll(args);
        return cmd;
    }

    /** Starts a command that {@link ProcessDeadline#DEFAULT} ends if nothing else did. */
    static Process start(List<String> args) throws IOException {
        return start(ProcessDeadline.DEFAULT, args);
    }

    /** Starts a command that is killed after {@code limit} (a service that lives as long as its test class). */
    static Process start(Duration limit, List<String> args) throws IOException {
        return ProcessDeadline.after(limit, new ProcessBuilder(command(args)).start());
    }

    static Result run(Duration timeout, byte[] stdin, String... args) throws IOException, InterruptedException {
        return finish(start(List.of(args)), timeout, stdin, args);
    }

    /** Runs {@code args} against {@code root} with {@code env} added to the environment. */
    static Result runIn(Path root, java.util.Map<String, String> env, byte[] stdin, String... args) throws IOException, InterruptedException {
        return finish(startIn(root, env, List.of(args)), Duration.ofMinutes(3), stdin, args);
    }

    static Process startIn(Path root, java.util.Map<String, String> env, List<String> args) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command(root, args));
        pb.environment().putAll(env);
        return ProcessDeadline.after(ProcessDeadline.DEFAULT, pb.start());
    }

    static Result finish(Process p, Duration timeout, byte[] stdin, String... args) throws IOException, InterruptedException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread o = pump(p.getInputStream(), out);
        Thread e = pump(p.getErrorStream(), err);
        try (OutputStream in = p.getOutputStream()) {
            if (stdin != null) {
                in.write(stdin);
            }
        }
        if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            String machineState = args.length > 0 && args[0].equals("vm") ? machineThreadDumps() : "";
            ProcessDeadline.killTree(p);
            p.waitFor();
            ProcessDeadline.join(o, Duration.ofSeconds(10));
            ProcessDeadline.join(e, Duration.ofSeconds(10));
            throw new AssertionError("vessel " + String.join(" ", args) + " did not finish within " + timeout
                    + "\n" + new Result(-1, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8))
                    + machineState);
        }
        ProcessDeadline.join(o, Duration.ofMinutes(1));
        ProcessDeadline.join(e, Duration.ofMinutes(1));
        if (o.isAlive() || e.isAlive()) {
            throw new AssertionError("vessel " + String.join(" ", args) + " exited " + p.exitValue()
                    + ", but a process it left behind still holds its output open\n"
                    + new Result(p.exitValue(), out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8)));
        }
        return new Result(p.exitValue(), out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
    }

    /**
     * For a `vm` command that hangs in the helper machine (docs/helper-machine.md): the machine's
     * Vessel processes with their threads' states, and a thread dump of each VMM (SIGQUIT: the JVM
     * prints it on its stdout, which the hung command's output carries back here).
     */
    private static String machineThreadDumps() {
        if (dev.vessel.host.HostCapabilities.hardwareVirtualization()) {
            return "";
        }
        try {
            Process m = new ProcessBuilder(command(List.of("machine", "exec", "--", "sh", "-c",
                    "for d in /proc/[0-9]*; do c=$(tr '\\0' ' ' < $d/cmdline 2>/dev/null); case \"$c\" in *vessel.jar*)"
                            + " echo \"== ${d#/proc/}: $(echo \"$c\" | cut -c1-300)\";"
                            + " for t in $d/task/*; do echo \"  $(cat $t/comm) $(cut -d' ' -f3 $t/stat) $(cat $t/wchan)\"; done;"
                            + " case \"$c\" in *' vm run '*|*' vm standby '*) kill -QUIT ${d#/proc/} ;; esac ;; esac; done; sleep 3")))
                    .redirectErrorStream(true).start();
            m.getOutputStream().close();
            ByteArrayOutputStream b = new ByteArrayOutputStream();
            Thread pump = pump(m.getInputStream(), b);
            // The machine that made the command hang may not answer this either.
            if (!m.waitFor(1, TimeUnit.MINUTES)) {
                ProcessDeadline.killTree(m);
                m.waitFor();
                ProcessDeadline.join(pump, Duration.ofSeconds(10));
                return "\n(the helper machine did not list its processes within a minute: it may be mute)\n" + b;
            }
            ProcessDeadline.join(pump, Duration.ofSeconds(10));
            return "\n--- Vessel processes in the helper machine (thread dumps of `vm run` VMMs are in stdout above) ---\n"
                    + b.toString(StandardCharsets.UTF_8);
        } catch (IOException | InterruptedException e) {
            return "\n(could not read the helper machine's processes: " + e + ")";
        }
    }

    static Result run(String... args) throws IOException, InterruptedException {
        return run(Duration.ofMinutes(3), null, args);
    }

    static Thread pump(InputStream in, OutputStream out) {
        return Thread.ofPlatform().daemon(true).start(() -> {
            try (in) {
                in.transferTo(out);
            } catch (IOException ignored) {
                // The process went away.
            }
        });
    }
}
