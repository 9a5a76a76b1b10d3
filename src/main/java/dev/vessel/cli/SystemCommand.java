package dev.vessel.cli;

import dev.vessel.api.ApiServer;
import dev.vessel.api.ApiVersion;
import dev.vessel.api.EngineApi;
import dev.vessel.container.ContainerException;
import dev.vessel.container.ContainerService;
import dev.vessel.container.ContainerSummary;
import dev.vessel.container.HumanDuration;
import dev.vessel.image.DockerFormat;
import dev.vessel.image.ImageStore;
import dev.vessel.image.Reference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.nio.file.Files;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** `vessel system`: the Engine API service, and what the state root takes on disk. */
@Command(name = "system", mixinStandardHelpOptions = true, description = "Manage Vessel itself.",
        subcommands = {SystemCommand.Service.class, SystemCommand.Df.class})
final class SystemCommand {
    @ParentCommand
    Main main;

    @Command(name = "df", mixinStandardHelpOptions = true, description = {"Show docker disk usage.",
            "Sizes are what the state root really takes: an image's blobs and root filesystem disk, a container's "
                    + "writable disk (a sparse file: the blocks it has allocated). Vessel has no volumes and no build cache."},
            footer = {"", "Exit status: 0, or 1 when the state root cannot be read."})
    static final class Df implements Callable<Integer> {
        @ParentCommand
        SystemCommand parent;

        @Option(names = {"-v", "--verbose"}, description = "Show detailed information on space usage.")
        boolean verbose;

        @Override
        public Integer call() throws Exception {
            ContainerService service = ContainerSupport.service(parent.main);
            ImageStore.Usage images = ImagesCommand.open(parent.main).diskUsage();
            List<ContainerUsage> containers = new ArrayList<>();
            for (ContainerSummary c : service.list(true)) {
                try {
                    containers.add(new ContainerUsage(c, service.writableSize(c.id())));
                } catch (ContainerException e) {
                    // removed since the list was read
                }
            }
            System.out.print(verbose ? verboseTables(images, containers, Instant.now()) : table(images, containers));
            return 0;
        }

        /** A container and what its writable disk takes (docker's SizeRw). */
        record ContainerUsage(ContainerSummary summary, long sizeRw) {}

        /** docker's summary: a row per kind, TYPE TOTAL ACTIVE SIZE RECLAIMABLE. */
        static String table(ImageStore.Usage images, List<ContainerUsage> containers) {
            Map<String, Long> users = users(containers);
            long activeImages = 0;
            long used = 0;
            for (ImageStore.ImageUsage u : images.images()) {
                if (users.containsKey(u.image().id().toString())) {
                    activeImages++;
                    used += u.size() - u.shared();
                }
            }
            long activeContainers = 0;
            long containerSize = 0;
            long containerReclaimable = 0;
            for (ContainerUsage c : containers) {
                containerSize += c.sizeRw();
                if (c.summary().running()) {
                    activeContainers++;
                } else {
                    containerReclaimable += c.sizeRw();
                }
            }
            List<List<String>> rows = new ArrayList<>();
            rows.add(List.of("TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"));
            rows.add(List.of("Images", Integer.toString(images.images().size()), Long.toString(activeImages),
                    human(images.total()), reclaimable(images.total() - used, images.total())));
            rows.add(List.of("Containers", Integer.toString(containers.size()), Long.toString(activeContainers),
                    human(containerSize), reclaimable(containerReclaimable, containerSize)));
            rows.add(List.of("Local Volumes", "0", "0", "0B", "0B"));
            rows.add(List.of("Build Cache", "0", "0", "0B", "0B"));
            return Table.format(rows);
        }

        /** {@code docker system df -v}: a table per kind, each under its title. */
        static String verboseTables(ImageStore.Usage images, List<ContainerUsage> containers, Instant now) {
            Map<String, Long> users = users(containers);
            List<List<String>> imageRows = new ArrayList<>();
            imageRows.add(List.of("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE", "SHARED SIZE", "UNIQUE SIZE", "CONTAINERS"));
            for (ImageStore.ImageUsage u : images.images()) {
                // The first tag, as docker shows it; <none> for an image without one.
                Reference tag = u.image().references().stream().filter(r -> r.tag() != null && !r.isDigest()).findFirst()
                        .orElse(null);
                imageRows.add(List.of(tag == null ? "<none>" : tag.familiarRepository(), tag == null ? "<none>" : tag.tag(),
                        u.image().shortId(), DockerFormat.createdSince(u.image().config().createdAt().orElse(null), now),
                        DockerFormat.humanSize(u.size()), human(u.shared()), human(u.size() - u.shared()),
                        Long.toString(users.getOrDefault(u.image().id().toString(), 0L))));
            }
            List<List<String>> containerRows = new ArrayList<>();
            containerRows.add(List.of("CONTAINER ID", "IMAGE", "COMMAND", "LOCAL VOLUMES", "SIZE", "CREATED", "STATUS", "NAMES"));
            for (ContainerUsage c : containers) {
                ContainerSummary s = c.summary();
                containerRows.add(List.of(s.shortId(), s.image(), "\"" + ContainerViewCommands.Ps.ellipsis(String.join(" ", s.command())) + "\"",
                        "0", DockerFormat.humanSize(c.sizeRw()), HumanDuration.of(HumanDuration.since(s.created(), now)) + " ago",
                        s.status(), s.name()));
            }
            return "Images space usage:\n\n" + Table.format(imageRows)
                    + "\nContainers space usage:\n\n" + Table.format(containerRows)
                    + "\nLocal Volumes space usage:\n\n" + Table.format(List.of(List.of("VOLUME NAME", "LINKS", "SIZE")))
                    + "\nBuild cache usage: 0B\n\n"
                    + Table.format(List.of(List.of("CACHE ID", "CACHE TYPE", "SIZE", "CREATED", "LAST USED", "USAGE", "SHARED")));
        }

        /** How many containers use each image, by image id. */
        private static Map<String, Long> users(List<ContainerUsage> containers) {
            Map<String, Long> out = new HashMap<>();
            containers.forEach(c -> out.merge(c.summary().imageId(), 1L, Long::sum));
            return out;
        }

        private static String human(long bytes) {
            return DockerFormat.humanSize(bytes, 4);
        }

        /** docker's RECLAIMABLE: the size, and its share of the total in whole percent when there is a total. */
        private static String reclaimable(long bytes, long total) {
            return total > 0 ? human(bytes) + " (" + bytes * 100 / total + "%)" : human(bytes);
        }
    }

    @Command(name = "service", mixinStandardHelpOptions = true,
            description = {"Serve the Docker Engine API on a Unix socket, so that the docker CLI drives Vessel:",
                    "  DOCKER_HOST=unix://PATH docker ps",
                    "Serves containers (create, run, start, attach, exec, logs, stop, kill, wait, rm, rename, prune...), images "
                            + "(pull, list, inspect, tag, rm, prune, save, load), networks and system information (info, df).",
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

        @Option(names = {"-H", "--host"}, paramLabel = "URL",
                description = "Where to listen instead: unix:///PATH, or tcp://HOST:PORT (no TLS, no authentication: "
                        + "anyone who reaches it controls every container; asked for only, with a warning).")
        String host;

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
                InetSocketAddress tcp = tcpAddress(host);
                if (tcp != null) {
                    System.err.println("WARNING: the Engine API on " + host + " has no TLS and no authentication: anyone who "
                            + "can connect to it controls every container and what they mount"
                            + (tcp.getAddress().isLoopbackAddress() ? " (it listens on loopback only)." : ", from other hosts too."));
                }
                server = inherited >= 0 ? ApiServer.inherit(inherited, api)
                        : tcp != null ? ApiServer.startTcp(tcp, api) : ApiServer.start(socketFolder(), api);
            } catch (IOException e) {
                throw new UserError(e.getMessage(), 125);
            }
            Runtime.getRuntime().addShutdownHook(new Thread(server::close, "api-shutdown"));
            // Once the socket is this service's (a second one fails above and starts nothing).
            startByPolicy(containers);
            System.out.println("Serving the Docker Engine API " + ApiVersion.CURRENT + " (clients down to "
                    + ApiVersion.MINIMUM + ") on " + (inherited >= 0 ? "the socket systemd passed (descriptor " + inherited + ")"
                    : server.where()));
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

        /**
         * The TCP address of {@code --host tcp://HOST:PORT}, or null for a Unix socket (and
         * {@code unix:///PATH} sets {@link #socket}); anything else is docker's error.
         */
        InetSocketAddress tcpAddress(String url) throws UserError {
            if (url == null) {
                return null;
            }
            if (url.startsWith("unix://")) {
                String path = url.substring("unix://".length());
                if (!path.startsWith("/")) {
                    throw new UserError("invalid bind address (" + url + "): the socket's path must be absolute", 125);
                }
                socket = Path.of(path);
                return null;
            }
            java.util.regex.Matcher m = TCP.matcher(url);
            if (!m.matches()) {
                throw new UserError("invalid bind address (" + url + "): want unix:///PATH or tcp://HOST:PORT", 125);
            }
            int port = Integer.parseInt(m.group(2));
            if (port > 65535) {
                throw new UserError("invalid bind address (" + url + "): invalid port", 125);
            }
            String hostName = m.group(1).startsWith("[") ? m.group(1).substring(1, m.group(1).length() - 1) : m.group(1);
            InetSocketAddress a = new InetSocketAddress(hostName, port);
            if (a.isUnresolved()) {
                throw new UserError("invalid bind address (" + url + "): unknown host " + hostName, 125);
            }
            return a;
        }

        private static final java.util.regex.Pattern TCP = java.util.regex.Pattern.compile("tcp://(\\[[0-9a-fA-F:.]+]|[^:/\\[\\]]+):(\\d{1,5})/?");

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
