package dev.vessel.cli;

import dev.vessel.container.ContainerConfig;
import dev.vessel.container.ContainerException;
import dev.vessel.container.ContainerStore;
import dev.vessel.host.HostCapabilities;
import dev.vessel.host.HostCommand;
import dev.vessel.host.Timing;
import dev.vessel.image.Image;
import dev.vessel.image.ImageException;
import dev.vessel.image.ImageStore;
import dev.vessel.image.NoSuchImageException;
import dev.vessel.image.Reference;
import dev.vessel.registry.RegistryException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
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

    @Option(names = "--name", paramLabel = "NAME", description = "Assign a name to the container.")
    String name;

    @Option(names = {"-e", "--env"}, paramLabel = "NAME[=VALUE]", description = "Set an environment variable (NAME alone: the host's value).")
    List<String> env = new ArrayList<>();

    @Option(names = "--env-file", paramLabel = "FILE", description = "Read environment variables from a file.")
    List<Path> envFiles = new ArrayList<>();

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

    @Option(names = "--detach-keys", paramLabel = "KEYS", description = "Override the key sequence for detaching (default ctrl-p,ctrl-q).")
    String detachKeys = "ctrl-p,ctrl-q";

    @Parameters(index = "0", paramLabel = "IMAGE")
    String image;

    @Parameters(index = "1..*", paramLabel = "COMMAND", description = "The command and its arguments.")
    List<String> command = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        Timing.mark("run: start");
        ContainerStore.Container c = create(main, this);
        Timing.mark("run: container created");
        ContainerSupport.startShim(main, c, !detach, false);
        if (detach) {
            System.out.println(c.config().id());
            return 0;
        }
        int status = ContainerSupport.attach(c, interactive, tty, detachKeys);
        Timing.mark("run: container ended");
        return status;
    }

    /**
     * The image, pulled first when the store does not have it (docker's "Unable to find image
     * 'X' locally", then the pull's progress, on stderr).
     */
    static Image resolveOrPull(ImageStore images, String name) throws IOException, ImageException, UserError {
        try {
            return images.resolveOrBuiltin(name);
        } catch (NoSuchImageException e) {
            if (!Reference.isValid(name)) {
                throw e;
            }
            Reference ref = Reference.parse(name);
            System.err.println("Unable to find image '" + ref.familiar() + "' locally");
            try {
                return PullCommand.pull(images, ref, System.err, PullSupport.mode()).image();
            } catch (RegistryException | ImageException | IOException x) {
                throw new UserError(x.getMessage(), 125);
            }
        }
    }

    /** docker create: the container's folder, config and writable disk. */
    static ContainerStore.Container create(Main main, RunCommand o) throws Exception {
        if (o.name != null && !ContainerConfig.validName(o.name)) {
            throw new UserError("Invalid container name (" + o.name + "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", 125);
        }
        if (o.cpus < 1 || o.cpus > 64) {
            throw new UserError("--cpus must be 1..64", 125);
        }
        long memoryBytes;
        long diskBytes;
        try {
            memoryBytes = (SizeParser.parse(o.memory) + (1 << 20) - 1) & ~((1L << 20) - 1);
            diskBytes = SizeParser.parse(o.diskSize);
        } catch (IllegalArgumentException e) {
            throw new UserError("invalid size: " + e.getMessage(), 125);
        }
        if (memoryBytes < (64L << 20) || memoryBytes > HostCapabilities.totalMemory()) {
            throw new UserError("--memory must be at least 64M and at most this host's memory", 125);
        }
        if (diskBytes < (64L << 20)) {
            throw new UserError("--disk-size must be at least 64M", 125);
        }
        if (o.workdir != null && !o.workdir.startsWith("/")) {
            throw new UserError("the working directory '" + o.workdir + "' is invalid, it needs to be an absolute path", 125);
        }
        Image img;
        ImageStore images = ImageStore.open(main.stateRoot());
        try {
            img = resolveOrPull(images, o.image);
            images.ensureDisk(img);
        } catch (ImageException e) {
            throw new UserError(e.getMessage(), 125);
        }
        List<String> argv = new ArrayList<>();
        if (o.entrypoint != null) {
            if (!o.entrypoint.isEmpty()) {
                argv.add(o.entrypoint);
            }
            argv.addAll(o.command);
        } else {
            argv.addAll(img.config().entrypoint());
            argv.addAll(o.command.isEmpty() ? img.config().cmd() : o.command);
        }
        if (argv.isEmpty()) {
            throw new UserError("No command specified", 125);
        }
        List<String> envs = new ArrayList<>(img.config().env());
        for (Path f : o.envFiles) {
            try {
                for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
                    String l = line.strip();
                    if (!l.isEmpty() && !l.startsWith("#")) {
                        envs.add(hostValue(l));
                    }
                }
            } catch (IOException e) {
                throw new UserError("open " + f + ": no such file or directory", 125);
            }
        }
        for (String e : o.env) {
            envs.add(hostValue(e));
        }
        envs.removeIf(e -> e == null);
        String id = ContainerStore.newId();
        ContainerStore store = ContainerSupport.store(main);
        String name = o.name != null ? o.name : generateName(store);
        ContainerConfig config = new ContainerConfig(id, name, o.image, img.id().toString(), Instant.now().toString(),
                argv.getFirst(), argv.subList(1, argv.size()), envs,
                o.workdir != null ? o.workdir : nullToEmpty(img.config().workingDir()),
                o.user != null ? o.user : nullToEmpty(img.config().user()),
                o.hostname != null ? o.hostname : id.substring(0, 12),
                o.tty, o.interactive, o.rm, memoryBytes, o.cpus, diskBytes);
        ContainerStore.Container c;
        try {
            c = store.create(config);
        } catch (ContainerException e) {
            throw ContainerSupport.error(e);
        }
        try {
            // A sparse ext4 disk: the container's writable layer, kept across stop and start.
            HostCommand.run(null, List.of("mkfs.ext4", "-q", "-F", "-L", "vessel-rw", "-E", "root_owner=0:0",
                    c.rwDisk().toString(), (diskBytes >> 20) + "M"));
        } catch (IOException e) {
            store.remove(c);
            throw new UserError("cannot make the container's disk: " + e.getMessage(), 125);
        }
        return c;
    }

    private static String nullToEmpty(String s) {
        return s == null ? "" : s;
    }

    /** NAME=VALUE as is; NAME alone takes the host's value, or is dropped when the host has none. */
    private static String hostValue(String e) throws UserError {
        if (e.isEmpty() || e.startsWith("=")) {
            throw new UserError("invalid environment variable: " + e, 125);
        }
        if (e.indexOf('=') > 0) {
            return e;
        }
        String v = System.getenv(e);
        return v == null ? null : e + "=" + v;
    }

    private static final String[] ADJECTIVES = {"brave", "calm", "eager", "fond", "gentle", "happy", "jolly",
            "keen", "lucid", "merry", "nifty", "proud", "quirky", "sharp", "tender", "vivid", "witty", "zen"};
    private static final String[] NAMES = {"babbage", "curie", "darwin", "euler", "fermi", "gauss", "hopper",
            "knuth", "lovelace", "noether", "pascal", "ritchie", "shannon", "turing", "volta", "wozniak"};

    static String generateName(ContainerStore store) throws IOException {
        java.util.Random r = new java.security.SecureRandom();
        for (int i = 0; i < 100; i++) {
            String n = ADJECTIVES[r.nextInt(ADJECTIVES.length)] + "_" + NAMES[r.nextInt(NAMES.length)]
                    + (i >= 10 ? Integer.toString(r.nextInt(100)) : "");
            if (!store.nameInUse(n)) {
                return n;
            }
        }
        return "vessel_" + Long.toHexString(r.nextLong());
    }
}
