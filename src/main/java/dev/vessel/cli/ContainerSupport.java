package dev.vessel.cli;

import dev.vessel.container.ContainerException;
import dev.vessel.container.ContainerState;
import dev.vessel.container.ContainerStore;
import dev.vessel.container.ShimProtocol;
import dev.vessel.guest.agent.AgentProtocol;
import dev.vessel.host.HostCommand;
import dev.vessel.host.Timing;
import dev.vessel.host.VesselJar;
import dev.vessel.sys.Terminal;
import sun.misc.Signal;

import java.io.BufferedReader;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** What the container commands share: starting a supervisor, attaching to it, docker's wording. */
final class ContainerSupport {
    private ContainerSupport() {}

    static ContainerStore store(Main main) throws IOException {
        return ContainerStore.open(main.stateRoot());
    }

    /** Turns the container layer's errors into the CLI's (docker's exit statuses). */
    static UserError error(ContainerException e) {
        return new UserError(e.getMessage(), e.status());
    }

    /**
     * Starts the container's supervisor, detached (its own session, stdin on /dev/null, its
     * diagnostics in the container's console log), and returns once its socket listens.
     */
    static void startShim(Main main, ContainerStore.Container c, boolean waitForAttach, boolean restart)
            throws IOException, UserError {
        Path jar;
        try {
            jar = VesselJar.require("a container's supervisor");
        } catch (IOException e) {
            throw new UserError(e.getMessage(), 125);
        }
        List<String> cmd = new ArrayList<>();
        if (HostCommand.available("setsid")) {
            cmd.add("setsid"); // no SIGINT/SIGHUP from the CLI's terminal
        }
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        // The supervisor idles beside its VM for the container's life: a small young generation
        // keeps its resident heap small (it allocates little after start).
        cmd.addAll(List.of("--enable-native-access=ALL-UNNAMED", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Xss512k", "-Xmn4m", "-XX:-UsePerfData"));
        cmd.addAll(classDataArchive(main, jar));
        cmd.addAll(List.of("-jar", jar.toString(),
                "--root", main.stateRoot().path().toString(), "container-shim", c.config().id()));
        if (waitForAttach) {
            cmd.add("--wait-attach");
        }
        if (restart) {
            cmd.add("--restart");
        }
        ProcessBuilder pb = new ProcessBuilder(cmd)
                .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.PIPE)
                .redirectError(ProcessBuilder.Redirect.appendTo(c.consoleLog().toFile()));
        Timing.mark("supervisor starting");
        Process p = pb.start();
        String line;
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.US_ASCII))) {
            line = r.readLine();
        }
        Timing.mark("supervisor ready");
        if (!"ready".equals(line)) {
            throw new UserError("the container's supervisor did not start (see " + c.consoleLog() + "): "
                    + lastLines(c.consoleLog(), 5), 125);
        }
    }

    /**
     * The supervisor's class-data archive: the JVM writes it at the exit of the first supervisor of
     * this jar and maps it in every later one (its start-up drops by about a third: docs/
     * benchmarks.md, issue 4). Named by the jar's size and time, so another build gets its own;
     * archives of builds untouched for two weeks are deleted. Without a writable folder: none.
     */
    static List<String> classDataArchive(Main main, Path jar) {
        try {
            Path dir = main.stateRoot().dir("cache").resolve("jvm");
            Files.createDirectories(dir);
            var a = Files.readAttributes(jar, java.nio.file.attribute.BasicFileAttributes.class);
            String name = "container-shim-" + Long.toHexString(a.size()) + "-"
                    + Long.toHexString(a.lastModifiedTime().toMillis()) + ".jsa";
            Instant stale = Instant.now().minus(Duration.ofDays(14));
            try (var old = Files.newDirectoryStream(dir, "container-shim-*.jsa")) {
                for (Path p : old) {
                    if (!p.getFileName().toString().equals(name)
                            && Files.getLastModifiedTime(p).toInstant().isBefore(stale)) {
                        Files.deleteIfExists(p);
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

    /**
     * Attaches this terminal (or pipes) to a running container until it ends; returns its exit
     * status. With a tty: raw mode, window size, and {@code detachKeys} (e.g. ctrl-p,ctrl-q) to
     * leave it running (status 0 then). Without: INT/TERM/HUP go to the container's process.
     */
    static int attach(ContainerStore.Container c, boolean stdin, boolean tty, String detachKeys) throws IOException, UserError {
        SocketChannel ch;
        try {
            ch = ShimProtocol.connect(c.shimSocket());
        } catch (IOException e) {
            throw new UserError("You cannot attach to a stopped container, start it first", 1);
        }
        byte[] keys = tty ? detachSequence(detachKeys) : new byte[0];
        Terminal raw = tty && Terminal.isTerminal(0) ? Terminal.makeRaw(0) : null;
        Thread restore = new Thread(() -> {
            if (raw != null) {
                raw.close();
            }
        });
        Runtime.getRuntime().addShutdownHook(restore);
        Object writeLock = new Object();
        try (ch) {
            int[] size = tty ? Terminal.windowSize(1) : null;
            ByteBuffer attach = ByteBuffer.allocate(size != null ? 5 : 1).put((byte) (stdin ? ShimProtocol.ATTACH_STDIN : 0));
            if (size != null) {
                attach.putShort((short) size[0]).putShort((short) size[1]);
            }
            AgentProtocol.write(ch, ShimProtocol.ATTACH, attach.array());
            if (tty) {
                sendSize(ch, writeLock);
                Signal.handle(new Signal("WINCH"), s -> sendSize(ch, writeLock));
            } else {
                for (String name : new String[] {"INT", "TERM", "HUP"}) {
                    Signal.handle(new Signal(name), s -> {
                        try {
                            ShimProtocol.signal(c.shimSocket(), s.getNumber());
                        } catch (IOException e) {
                            // ended
                        }
                    });
                }
            }
            boolean[] detached = {false};
            if (stdin) {
                Thread.ofPlatform().daemon(true).name("attach-stdin").start(() -> pumpStdin(ch, writeLock, keys, detached));
            }
            OutputStream out = new FileOutputStream(FileDescriptor.out);
            OutputStream err = new FileOutputStream(FileDescriptor.err);
            while (true) {
                AgentProtocol.Frame f;
                try {
                    f = AgentProtocol.read(ch, ShimProtocol.SHIM_TYPES);
                } catch (IOException e) {
                    if (detached[0]) {
                        return 0;
                    }
                    throw e;
                }
                if (f == null) {
                    if (detached[0]) {
                        return 0;
                    }
                    throw new UserError("lost the connection to the container's supervisor", 125);
                }
                switch (f.type()) {
                    case AgentProtocol.STDOUT -> {
                        out.write(f.payload());
                        out.flush();
                    }
                    case AgentProtocol.STDERR -> {
                        err.write(f.payload());
                        err.flush();
                    }
                    case AgentProtocol.EXIT -> {
                        return ByteBuffer.wrap(f.payload()).getInt();
                    }
                    case AgentProtocol.FAILURE -> throw new UserError(ShimProtocol.failureMessage(f.payload()), 125);
                    default -> { }
                }
            }
        } finally {
            if (raw != null) {
                raw.close();
            }
        }
    }

    private static void sendSize(SocketChannel ch, Object lock) {
        int[] size = Terminal.windowSize(1);
        if (size == null) {
            return;
        }
        byte[] p = ByteBuffer.allocate(4).putShort((short) size[0]).putShort((short) size[1]).array();
        synchronized (lock) {
            try {
                AgentProtocol.write(ch, AgentProtocol.RESIZE, p);
            } catch (IOException e) {
                // ended
            }
        }
    }

    private static void pumpStdin(SocketChannel ch, Object lock, byte[] keys, boolean[] detached) {
        InputStream in = new FileInputStream(FileDescriptor.in);
        byte[] buf = new byte[8192];
        int matched = 0;
        try {
            int n;
            while ((n = in.read(buf)) > 0) {
                int start = 0;
                if (keys.length > 0) {
                    for (int i = 0; i < n; i++) {
                        if (buf[i] == keys[matched]) {
                            matched++;
                            if (matched == keys.length) {
                                detached[0] = true;
                                System.err.print("\r\nread escape sequence\r\n");
                                ch.close();
                                return;
                            }
                        } else {
                            matched = buf[i] == keys[0] ? 1 : 0;
                        }
                    }
                }
                synchronized (lock) {
                    AgentProtocol.write(ch, AgentProtocol.STDIN, buf, start, n - start);
                }
            }
            synchronized (lock) {
                AgentProtocol.write(ch, AgentProtocol.STDIN, new byte[0]);
            }
        } catch (IOException e) {
            // the container ended
        }
    }

    /** Docker's --detach-keys syntax: comma-separated "ctrl-X" or single characters. */
    static byte[] detachSequence(String spec) throws UserError {
        if (spec == null || spec.isEmpty()) {
            return new byte[0];
        }
        String[] parts = spec.split(",");
        byte[] out = new byte[parts.length];
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i].strip();
            if (p.length() == 1) {
                out[i] = (byte) p.charAt(0);
            } else if (p.startsWith("ctrl-") && p.length() == 6) {
                char k = Character.toLowerCase(p.charAt(5));
                if (k >= 'a' && k <= 'z') {
                    out[i] = (byte) (k - 'a' + 1);
                } else if ("@[\\]^_".indexOf(k) >= 0) {
                    out[i] = (byte) ("@[\\]^_".indexOf(k) == 0 ? 0 : 27 + "@[\\]^_".indexOf(k) - 1);
                } else {
                    throw new UserError("invalid detach keys: " + spec, 125);
                }
            } else {
                throw new UserError("invalid detach keys: " + spec, 125);
            }
        }
        return out;
    }

    /** "Up 5 seconds", "Exited (0) 3 minutes ago", "Created": docker ps's STATUS. */
    static String status(ContainerState s) {
        ContainerState o = s.observed();
        return switch (o.status()) {
            case ContainerState.RUNNING -> "Up " + human(since(o.startedAt()));
            case ContainerState.EXITED -> "Exited (" + o.exitCode() + ") " + human(since(o.finishedAt())) + " ago";
            default -> "Created";
        };
    }

    static Duration since(String rfc3339) {
        try {
            return Duration.between(Instant.parse(rfc3339), Instant.now());
        } catch (RuntimeException e) {
            return Duration.ZERO;
        }
    }

    /** Docker's go-units HumanDuration. */
    static String human(Duration d) {
        long s = Math.max(0, d.toSeconds());
        if (s < 1) {
            return "Less than a second";
        } else if (s == 1) {
            return "1 second";
        } else if (s < 60) {
            return s + " seconds";
        }
        long m = d.toMinutes();
        if (m == 1) {
            return "About a minute";
        } else if (m < 60) {
            return m + " minutes";
        }
        long h = Math.round(d.toSeconds() / 3600.0);
        if (h == 1) {
            return "About an hour";
        } else if (h < 48) {
            return h + " hours";
        } else if (h < 24 * 7 * 2) {
            return h / 24 + " days";
        } else if (h < 24 * 30 * 2) {
            return h / 24 / 7 + " weeks";
        } else if (h < 24 * 365 * 2) {
            return h / 24 / 30 + " months";
        }
        return h / 24 / 365 + " years";
    }
}
