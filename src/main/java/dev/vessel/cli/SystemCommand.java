package dev.vessel.cli;

import dev.vessel.api.ApiServer;
import dev.vessel.api.ApiVersion;
import dev.vessel.api.EngineApi;
import dev.vessel.container.ContainerService;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.Callable;

/** `vessel system`: the Engine API service. */
@Command(name = "system", mixinStandardHelpOptions = true, description = "Manage Vessel itself.",
        subcommands = {SystemCommand.Service.class})
final class SystemCommand {
    @ParentCommand
    Main main;

    @Command(name = "service", mixinStandardHelpOptions = true,
            description = {"Serve the Docker Engine API on a Unix socket, so that the docker CLI drives Vessel:",
                    "  DOCKER_HOST=unix://PATH docker ps",
                    "Serves containers (create, run, start, attach, exec, logs, stop, kill, wait, rm...), images (pull, list, "
                            + "inspect, tag, rm), networks and system information.",
                    "Started by systemd with a socket unit (LISTEN_FDS), it serves the socket systemd passes; "
                            + "see contrib/systemd/."},
            footer = {"", "When it starts, it starts the containers that are not running whose restart policy is always, and "
                    + "the unless-stopped ones the user did not stop, as dockerd does.",
                    "", "Exit status: 0 when stopped (SIGINT, SIGTERM) or idle for --time; 125 when the socket cannot be served."})
    static final class Service implements Callable<Integer> {
        static final Path DEFAULT_SOCKET = Path.of("/run/vessel/docker.sock");

        @ParentCommand
        SystemCommand parent;

        @Option(names = "--socket", paramLabel = "PATH",
                description = "The Unix socket to listen on, mode 0660 (default: /run/vessel/docker.sock; its folder is created).")
        Path socket = DEFAULT_SOCKET;

        @Option(names = {"-t", "--time"}, paramLabel = "SECONDS",
                description = "Exit after this many seconds without a request in flight; 0 (the default) serves until stopped.")
        long time;

        @Override
        public Integer call() throws Exception {
            if (time < 0) {
                throw new UserError("--time must be 0 or more seconds");
            }
            int inherited = systemdSocket(System.getenv("LISTEN_PID"), System.getenv("LISTEN_FDS"), ProcessHandle.current().pid());
            Main main = parent.main;
            ContainerService containers = ContainerSupport.service(main);
            EngineApi api = new EngineApi(containers, ImagesCommand.open(main), main.stateRoot().path());
            ApiServer server;
            try {
                server = inherited >= 0 ? ApiServer.inherit(inherited, api) : ApiServer.start(socketFolder(), api);
            } catch (IOException e) {
                throw new UserError(e.getMessage(), 125);
            }
            Runtime.getRuntime().addShutdownHook(new Thread(server::close, "api-shutdown"));
            // Once the socket is this service's (a second one fails above and starts nothing).
            startByPolicy(containers);
            System.out.println("Serving the Docker Engine API " + ApiVersion.CURRENT + " (clients down to "
                    + ApiVersion.MINIMUM + ") on " + (inherited >= 0 ? "the socket systemd passed (descriptor " + inherited + ")"
                    : "unix://" + server.socket()));
            System.out.flush();
            if (time == 0) {
                server.awaitClose();
            } else if (server.awaitIdle(Duration.ofSeconds(time))) {
                System.out.println("No request for " + time + " s: stopping");
                server.close();
            }
            return 0;
        }

        /** Starts what dockerd starts when it starts: the containers their restart policy brings back. */
        private static void startByPolicy(ContainerService containers) throws IOException {
            ContainerService.PolicyStarts starts = containers.startByPolicy();
            for (String name : starts.started()) {
                System.out.println("Started container " + name + " (its restart policy)");
            }
            starts.failed().forEach((name, why) -> System.err.println("vessel: cannot start container " + name
                    + " (its restart policy): " + why));
        }

        /** The socket, once its folder exists. */
        private Path socketFolder() throws UserError {
            Path dir = socket.toAbsolutePath().getParent();
            try {
                Files.createDirectories(dir);
            } catch (IOException e) {
                throw new UserError("cannot create the socket's folder " + dir + ": " + e.getMessage()
                        + " (choose another with --socket PATH)", 125);
            }
            return socket;
        }

        /**
         * The listening socket systemd passed (sd_listen_fds: descriptors from 3, meant for this
         * process when LISTEN_PID is its pid), or -1.
         */
        static int systemdSocket(String listenPid, String listenFds, long pid) {
            if (listenPid == null || listenFds == null) {
                return -1;
            }
            try {
                return Long.parseLong(listenPid.strip()) == pid && Integer.parseInt(listenFds.strip()) >= 1 ? 3 : -1;
            } catch (NumberFormatException e) {
                return -1;
            }
        }
    }
}
