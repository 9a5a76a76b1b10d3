package dev.vessel.cli;

import dev.vessel.container.ContainerException;
import dev.vessel.container.ContainerService;
import dev.vessel.container.ContainerStore;
import dev.vessel.container.CreateRequest;
import dev.vessel.container.NetworkOptions;
import dev.vessel.container.RestartPolicy;
import dev.vessel.registry.PullProgress;
import dev.vessel.host.Timing;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** `vessel run`: create a container from an image and start it, as `docker run` does. */
@Command(name = "run", sortOptions = false,
        description = {"Create and run a new container from an image: a micro-VM whose root filesystem is the image."},
        footerHeading = "%nExit status:%n",
        footer = {"  the container's exit status; 125 Vessel's own error; 126 the command cannot be run;"
                + " 127 the command was not found"})
final class RunCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = "--help", usageHelp = true, description = "Show this help message and exit.")
    boolean help;

    @Option(names = {"-i", "--interactive"}, description = "Keep STDIN open even if not attached.")
    boolean interactive;

    @Option(names = {"-t", "--tty"}, description = "Allocate a pseudo-TTY.")
    boolean tty;

    @Option(names = {"-d", "--detach"}, description = "Run the container in the background and print its ID.")
    boolean detach;

    @Option(names = "--rm", description = "Remove the container when it exits.")
    boolean rm;

    @Option(names = "--restart", paramLabel = "POLICY",
            description = "Restart policy when the container's main process exits: no (the default), always, unless-stopped, "
                    + "on-failure[:MAX-RETRIES]. Its supervisor boots the container's VM again (its disk kept), "
                    + "with or without the CLI or service; a container the user stopped stays stopped.")
    String restart;

    @Option(names = "--name", paramLabel = "NAME", description = "Assign a name to the container.")
    String name;

    @Option(names = {"-e", "--env"}, paramLabel = "NAME[=VALUE]", description = "Set an environment variable (NAME alone: the host's value).")
    List<String> env = new ArrayList<>();

    @Option(names = "--env-file", paramLabel = "FILE", description = "Read environment variables from a file.")
    List<Path> envFiles = new ArrayList<>();

    @Option(names = {"-l", "--label"}, paramLabel = "KEY=VALUE",
            description = "Set metadata on the container (KEY alone: an empty value).")
    List<String> labels = new ArrayList<>();

    @Option(names = "--label-file", paramLabel = "FILE", description = "Read labels from a file of KEY=VALUE lines.")
    List<Path> labelFiles = new ArrayList<>();

    @Option(names = {"-w", "--workdir"}, paramLabel = "DIR", description = "Working directory inside the container.")
    String workdir;

    @Option(names = {"-u", "--user"}, paramLabel = "USER[:GROUP]", description = "Username or UID (format: <name|uid>[:<group|gid>]).")
    String user;

    @Option(names = "--entrypoint", paramLabel = "CMD", description = "Overwrite the default ENTRYPOINT of the image.")
    String entrypoint;

    @Option(names = {"-h", "--hostname"}, paramLabel = "NAME", description = "Container host name.")
    String hostname;

    @Option(names = {"-m", "--memory"}, paramLabel = "SIZE", description = "Memory of the container's VM (default 256M).")
    String memory = "256M";

    @Option(names = "--cpus", paramLabel = "N", description = "vCPUs of the container's VM (default 1).")
    int cpus = 1;

    @Option(names = "--disk-size", paramLabel = "SIZE", description = "Size of the container's writable disk (default 2G, sparse).")
    String diskSize = "2G";

    @Option(names = "--log-opt", paramLabel = "KEY=VALUE",
            description = "Log option: max-size (default 20m), max-file (default 5), as docker's local driver.")
    List<String> logOpts = new ArrayList<>();

    @Option(names = {"-p", "--publish"}, paramLabel = "[IP:][HOST:]CONTAINER[/PROTO]",
            description = "Publish a container's port to the host (HOST omitted or empty: a free port the host picks; "
                    + "PROTO tcp or udp).")
    List<String> publish = new ArrayList<>();

    @Option(names = {"-P", "--publish-all"}, description = "Publish every port the image exposes, on free ports of the host.")
    boolean publishAll;

    @Option(names = {"--network", "--net"}, paramLabel = "NETWORK",
            description = "Connect the container to a network: bridge (the default), none (loopback only) or a network's name or id.")
    String network;

    @Option(names = {"--network-alias", "--net-alias"}, paramLabel = "ALIAS",
            description = "Another name the container answers to on its user-defined network.")
    List<String> networkAliases = new ArrayList<>();

    @Option(names = "--ip", paramLabel = "ADDRESS", description = "IPv4 address (on a network created with --subnet).")
    String ip;

    @Option(names = "--mac-address", paramLabel = "MAC", description = "The container's MAC address (e.g. 02:42:ac:11:00:02).")
    String macAddress;

    @Option(names = "--dns", paramLabel = "ADDRESS", description = "Set custom DNS servers.")
    List<String> dns = new ArrayList<>();

    @Option(names = "--dns-search", paramLabel = "DOMAIN", description = "Set custom DNS search domains.")
    List<String> dnsSearch = new ArrayList<>();

    @Option(names = {"--dns-option", "--dns-opt"}, paramLabel = "OPTION", description = "Set DNS options.")
    List<String> dnsOptions = new ArrayList<>();

    @Option(names = "--add-host", paramLabel = "HOST:IP",
            description = "Add a custom host-to-IP mapping to /etc/hosts (IP may be host-gateway: the host, as seen from the container).")
    List<String> addHosts = new ArrayList<>();

    @Mixin
    HealthOptions health = new HealthOptions();

    @Option(names = "--detach-keys", paramLabel = "KEYS", description = "Override the key sequence for detaching (default ctrl-p,ctrl-q).")
    String detachKeys = "ctrl-p,ctrl-q";

    @Parameters(index = "0", paramLabel = "IMAGE")
    String image;

    @Parameters(index = "1..*", paramLabel = "COMMAND", description = "The command and its arguments.")
    List<String> command = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        Timing.mark("run: start");
        ContainerService service = ContainerSupport.service(main);
        ContainerStore.Container c;
        try {
            c = service.create(request(System.getenv()), new PullProgress(System.err, PullSupport.mode()));
        } catch (ContainerException e) {
            throw ContainerSupport.error(e);
        }
        Timing.mark("run: container created");
        String id = c.config().id();
        ContainerSupport.start(service, id, !detach);
        if (detach) {
            System.out.println(id);
            return 0;
        }
        int status = ContainerSupport.attach(service, id, interactive, detachKeys);
        Timing.mark("run: container ended");
        return status;
    }

    /** docker create's request from the flags; env files and {@code -e NAME} are read here, as docker's CLI does. */
    CreateRequest request(Map<String, String> hostEnv) throws UserError {
        long memoryBytes;
        long diskBytes;
        try {
            memoryBytes = SizeParser.parse(memory);
            diskBytes = SizeParser.parse(diskSize);
        } catch (IllegalArgumentException e) {
            throw new UserError("invalid size: " + e.getMessage(), 125);
        }
        List<String> envs = new ArrayList<>();
        for (Path f : envFiles) {
            for (String l : fileLines(f)) {
                ContainerSupport.addHostValue(envs, l.strip(), hostEnv);
            }
        }
        for (String e : env) {
            ContainerSupport.addHostValue(envs, e, hostEnv);
        }
        // docker's order: the files' labels, then the flags' over them.
        Map<String, String> labelMap = new LinkedHashMap<>();
        for (Path f : labelFiles) {
            for (String l : fileLines(f)) {
                putLabel(labelMap, l, " in " + f);
            }
        }
        for (String l : labels) {
            putLabel(labelMap, l, "");
        }
        Map<String, String> logOptions = new LinkedHashMap<>();
        for (String o : logOpts) {
            int eq = o.indexOf('=');
            if (eq <= 0) {
                throw new UserError("invalid log option '" + o + "': expected KEY=VALUE", 125);
            }
            logOptions.put(o.substring(0, eq), o.substring(eq + 1));
        }
        RestartPolicy policy;
        try {
            policy = RestartPolicy.parse(restart);
            // docker's CLI checks this conflict itself, before dockerd checks the policy.
            if (rm && !policy.isNone()) {
                throw new UserError("Conflicting options: --restart and --rm", 125);
            }
            policy.validate();
        } catch (ContainerException e) {
            throw ContainerSupport.error(e);
        }
        return CreateRequest.of(image).withName(name).withCmd(command)
                .withEntrypoint(entrypoint == null ? null : List.of(entrypoint))
                .withEnv(envs).withProcess(workdir, user, hostname)
                .withStreams(tty, interactive).withAutoRemove(rm)
                .withResources(memoryBytes, cpus, diskBytes).withLogOptions(logOptions).withLabels(labelMap)
                .withNetwork(new NetworkOptions(network, networkAliases, ip, macAddress, dns, dnsSearch, dnsOptions,
                        addHosts, publish, publishAll))
                .withRestartPolicy(policy)
                .withHealthcheck(health.config());
    }

    /**
     * The lines of a docker env or label file that count, with their leading blanks gone: not
     * blank, not a {@code #} comment; a UTF-8 byte order mark before the first is dropped, as
     * docker drops it.
     */
    static List<String> fileLines(Path f) throws UserError {
        List<String> lines;
        try {
            lines = Files.readAllLines(f, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new UserError("open " + f + ": no such file or directory", 125);
        } catch (CharacterCodingException e) {
            throw new UserError(f + " is not UTF-8 text", 125);
        } catch (IOException e) {
            throw new UserError("cannot read " + f + ": " + e.getMessage(), 125);
        }
        List<String> out = new ArrayList<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i);
            String l = (i == 0 && line.startsWith("\uFEFF") ? line.substring(1) : line).stripLeading();
            if (!l.isEmpty() && !l.startsWith("#")) {
                out.add(l);
            }
        }
        return out;
    }

    /**
     * One {@code KEY=VALUE} label ({@code KEY} alone: an empty value), checked as docker's CLI
     * checks it: a name, and no blank in it. The value is kept as written, blanks and quotes too.
     */
    private static void putLabel(Map<String, String> labels, String given, String where) throws UserError {
        int eq = given.indexOf('=');
        String key = (eq < 0 ? given : given.substring(0, eq)).stripLeading();
        if (key.isEmpty()) {
            throw new UserError("invalid label '" + given + "'" + where + ": empty name", 125);
        }
        if (key.indexOf(' ') >= 0 || key.indexOf('\t') >= 0) {
            throw new UserError("label '" + key + "'" + where + " contains whitespaces", 125);
        }
        labels.put(key, eq < 0 ? "" : given.substring(eq + 1));
    }
}
