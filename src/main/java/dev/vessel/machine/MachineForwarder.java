package dev.vessel.machine;

import dev.vessel.guest.agent.ExecRequest;
import dev.vessel.guest.agent.ExecSession;
import dev.vessel.guest.agent.SessionSignals;
import dev.vessel.sys.ErrnoException;
import dev.vessel.sys.Terminal;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs a command in the helper machine as if it ran here: this process's stdin, stdout and stderr,
 * its terminal (raw, with its size and resizes), its SIGINT, SIGTERM and SIGHUP, and the command's
 * exit status.
 */
public final class MachineForwarder {
    private MachineForwarder() {}

    /** How long a lost connection waits for QEMU to be gone before blaming something else. */
    static final java.time.Duration MACHINE_EXIT_GRACE = java.time.Duration.ofSeconds(3);

    /** Exit status when the machine's agent could not start the command at all. */
    public static final int CANNOT_RUN = 125;

    /** This process's variables that reach the command: the terminal type and Vessel's diagnostics. */
    static final List<String> PASSED_ENV = List.of("TERM", "VESSEL_STATS", "VESSEL_TIMING", "VESSEL_DEBUG",
            "VESSEL_TRACE_IO");

    /**
     * Runs {@code argv} in {@code helper} over {@code machine} with this process's stdio; with {@code interactive}, on a
     * pseudo-terminal of this terminal's size, with this terminal raw meanwhile. Returns the
     * command's exit status, or {@link #CANNOT_RUN} (saying why on stderr) when it could not start.
     *
     * @throws ErrnoException when this terminal cannot be made raw
     * @throws MachineException when the connection to the machine is lost
     */
    public static int forward(HelperMachine helper, MachineConnection machine, List<String> argv, boolean interactive)
            throws ErrnoException, MachineException, InterruptedException {
        ExecRequest request = ExecRequest.of(argv).withEnv(environment(System.getenv()));
        if (interactive) {
            int[] size = Terminal.windowSize(1);
            request = request.withTty(size != null ? size[0] : 24, size != null ? size[1] : 80);
        }
        OutputStream out = new FileOutputStream(FileDescriptor.out);
        OutputStream err = new FileOutputStream(FileDescriptor.err);
        Terminal raw = interactive ? Terminal.makeRaw(0) : null;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (raw != null) {
                raw.close();
            }
        }));
        try (ExecSession session = machine.start(request, new FileInputStream(FileDescriptor.in), out, err)) {
            SessionSignals.forward(session, interactive);
            int status = session.waitFor();
            if (session.failure().isPresent()) {
                err.write(("vessel: cannot run Vessel in the helper machine: " + session.failure().get().message() + "\n")
                        .getBytes(StandardCharsets.UTF_8));
                return CANNOT_RUN;
            }
            return status;
        } catch (IOException e) {
            // QEMU closes the connection as it exits: give it a moment to be gone, then say whether it died.
            String lost = "lost the connection to the helper machine: " + e.getMessage();
            try {
                lost = helper.stoppedUnder(machine.endpoint(), MACHINE_EXIT_GRACE).orElse(lost);
            } catch (IOException unreadable) {
                // its console cannot be read: the plain message then
            }
            throw new MachineException(lost, e);
        } finally {
            if (raw != null) {
                raw.close();
            }
        }
    }

    /** The command's environment: the machine's basics, and {@link #PASSED_ENV} from {@code ours}. */
    static Map<String, String> environment(Map<String, String> ours) {
        Map<String, String> env = new LinkedHashMap<>(Map.of(
                "PATH", "/sbin:/bin:/usr/sbin:/usr/bin", "HOME", "/root", "VESSEL_ROOT", "/var/lib/vessel"));
        for (String pass : PASSED_ENV) {
            String v = ours.get(pass);
            if (v != null) {
                env.put(pass, v);
            }
        }
        return env;
    }
}
