package dev.vessel.cli;

import dev.vessel.container.AttachClient;
import dev.vessel.container.ContainerException;
import dev.vessel.container.ContainerService;
import dev.vessel.container.DetachKeys;
import dev.vessel.machine.MachineNetworkHost;
import dev.vessel.machine.VmLauncher;
import dev.vessel.sys.Terminal;
import sun.misc.Signal;

import dev.vessel.host.Timing;
import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/** What the container commands share: the service, its errors as the CLI's, this terminal attached to a container. */
final class ContainerSupport {
    private ContainerSupport() {}

    static ContainerService service(Main main) throws IOException {
        return ContainerService.open(main.stateRoot(),
                MachineNetworkHost.forVms(main.stateRoot(), VmLauncher.Accel.auto(), System.err));
    }

    /** Turns the container layer's errors into the CLI's (docker's exit statuses). */
    static UserError error(ContainerException e) {
        return new UserError(e.getMessage(), e.status());
    }

    /** Starts the container's supervisor, with the CLI's timing milestones around it. */
    static void start(ContainerService service, String ref, boolean waitForAttach) throws IOException, UserError {
        Timing.mark("supervisor starting");
        try {
            service.start(ref, waitForAttach);
        } catch (ContainerException e) {
            throw error(e);
        }
        Timing.mark("supervisor ready");
    }

    /**
     * Attaches this terminal (or pipes) to a running container until it ends; returns its exit
     * status. With a tty: raw mode, window size, and {@code detachKeys} (e.g. ctrl-p,ctrl-q) to
     * leave it running (status 0 then). Without: INT/TERM/HUP go to the container's process.
     */
    static int attach(ContainerService service, String ref, boolean stdin, String detachKeys) throws IOException, UserError {
        int[] size = Terminal.windowSize(1);
        AttachClient client;
        try {
            client = service.attach(ref, stdin, size != null ? size[0] : 0, size != null ? size[1] : 0);
        } catch (ContainerException e) {
            throw error(e);
        }
        try (client) {
            DetachKeys keys = client.tty() ? DetachKeys.parse(detachKeys) : DetachKeys.NONE;
            Terminal raw = client.tty() && Terminal.isTerminal(0) ? Terminal.makeRaw(0) : null;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                if (raw != null) {
                    raw.close();
                }
            }));
            try {
                forwardSignals(client);
                if (client.stdin()) {
                    Thread.ofPlatform().daemon(true).name("attach-stdin")
                            .start(() -> client.pumpStdin(new FileInputStream(FileDescriptor.in), keys));
                }
                AttachClient.Outcome end = client.copyOutput(new FileOutputStream(FileDescriptor.out),
                        new FileOutputStream(FileDescriptor.err));
                if (end.detached()) {
                    System.err.print("\r\nread escape sequence\r\n");
                    return 0;
                }
                return end.exitStatus();
            } finally {
                if (raw != null) {
                    raw.close();
                }
            }
        } catch (ContainerException e) {
            throw error(e);
        }
    }

    /** With a tty, window sizes; without, INT, TERM and HUP for the main process. */
    private static void forwardSignals(AttachClient client) {
        if (client.tty()) {
            sendSize(client);
            Signal.handle(new Signal("WINCH"), s -> sendSize(client));
            return;
        }
        for (String name : new String[] {"INT", "TERM", "HUP"}) {
            Signal.handle(new Signal(name), s -> {
                try {
                    client.signal(s.getNumber());
                } catch (IOException e) {
                    // ended
                }
            });
        }
    }

    private static void sendSize(AttachClient client) {
        int[] size = Terminal.windowSize(1);
        if (size != null) {
            try {
                client.resize(size[0], size[1]);
            } catch (IOException e) {
                // ended
            }
        }
    }

    /**
     * {@code -e NAME=VALUE} as is; {@code -e NAME} takes this process's value, and is dropped
     * when there is none (docker's CLI does this on the client side).
     */
    static void addHostValue(List<String> env, String e, Map<String, String> host) throws UserError {
        if (e.isEmpty() || e.startsWith("=")) {
            throw new UserError("invalid environment variable: " + e, 125);
        }
        if (e.indexOf('=') > 0) {
            env.add(e);
            return;
        }
        String v = host.get(e);
        if (v != null) {
            env.add(e + "=" + v);
        }
    }
}
