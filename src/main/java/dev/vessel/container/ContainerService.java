package dev.vessel.container;

import dev.vessel.events.EventJournal;
import dev.vessel.guest.agent.AgentClient;
import dev.vessel.guest.agent.ExecRequest;
import dev.vessel.guest.agent.ExecSession;
import dev.vessel.guest.agent.GuestAgent;
import dev.vessel.host.DiskUsage;
import dev.vessel.host.HostCapabilities;
import dev.vessel.host.HostCommand;
import dev.vessel.host.PrivateFiles;
import dev.vessel.host.StateRoot;
import dev.vessel.image.HealthConfig;
import dev.vessel.image.Image;
import dev.vessel.image.ImageException;
import dev.vessel.image.ImageStore;
import dev.vessel.image.ImageUsers;
import dev.vessel.image.NoSuchImageException;
import dev.vessel.image.Reference;
import dev.vessel.network.Ipv4Address;
import dev.vessel.network.Network;
import dev.vessel.network.NetworkException;
import dev.vessel.network.NetworkHost;
import dev.vessel.network.NetworkService;
import dev.vessel.network.NetworkStore;
import dev.vessel.network.ports.PortBinding;
import dev.vessel.registry.PullProgress;
import dev.vessel.registry.Puller;
import dev.vessel.registry.RegistryException;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Docker's container operations over the container store, the image store and the containers'
 * supervisors: what {@code vessel run}, {@code ps}, {@code stop}... and the Engine API both call.
 * Containers are named by a reference: a full id, a unique id prefix or a name (docker's lookup).
 *
 * <p>Nothing is printed: a pull's progress goes to the {@link PullProgress} the caller gives, and
 * failures are {@link ContainerException}s with docker's statuses (or I/O errors of the state root).
 */
public final class ContainerService {
    /** Where a missing image comes from; the registry client in production. */
    @FunctionalInterface
    interface ImagePuller {
        Image pull(ImageStore images, Reference ref, PullProgress progress) throws IOException, ImageException, RegistryException;
    }

    /** Starts a container's supervisor; {@link SupervisorLauncher} in production. */
    @FunctionalInterface
    interface Launcher {
        void start(ContainerStore.Container c, boolean waitForAttach, boolean restart) throws IOException, ContainerException;
    }

    /** Opens the image store on first need: most verbs never touch it. */
    @FunctionalInterface
    interface ImageStoreOpener {
        ImageStore open() throws IOException;
    }

    static final long MIB = 1L << 20;
    static final long MIN_MEMORY = 64 * MIB;
    static final long MIN_DISK = 64 * MIB;
    static final int MAX_CPUS = 64;
    /** The main process's PATH when the image sets none, as docker's. */
    static final String DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    private final ContainerStore store;
    private final ImageStoreOpener imageStoreOpener;
    private final ImagePuller puller;
    private final Launcher launcher;
    private final NetworkService networks;
    private final EventJournal events;
    private ImageStore images;

    ContainerService(ContainerStore store, ImageStoreOpener images, ImagePuller puller, Launcher launcher,
                     NetworkService networks, EventJournal events) {
        this.store = store;
        this.imageStoreOpener = images;
        this.puller = puller;
        this.launcher = launcher;
        this.networks = networks;
        this.events = events;
    }

    /**
     * The containers, images, networks and supervisors of the state root; the networks' bridges
     * live on {@code networkHost}.
     */
    public static ContainerService open(StateRoot root, NetworkHost networkHost) throws IOException {
        SupervisorLauncher supervisors = new SupervisorLauncher(root);
        return new ContainerService(ContainerStore.open(root), () -> ImageStore.open(root),
                (images, ref, progress) -> Puller.standard(images, progress).pull(ref).image(),
                supervisors::start, NetworkService.open(root, networkHost), EventJournal.open(root));
    }

    /** docker cp: files in and out of the running containers, through their agents. */
    public ContainerArchive archive() throws IOException {
        return new ContainerArchive(this::require, c -> GuestAgent.connect(c.vsockSocket()), store.spoolDirectory());
    }

    /** docker top and docker stats: what the running containers' guests say of themselves. */
    public ContainerProcesses processes() {
        return new ContainerProcesses(this::require, c -> GuestAgent.connect(c.vsockSocket()));
    }

    /** The networks containers join. */
    public NetworkService networks() {
        return networks;
    }

    /** Where what happens to the containers is recorded (docker's events). */
    public EventJournal events() {
        return events;
    }

    private synchronized ImageStore images() throws IOException {
        if (images == null) {
            images = imageStoreOpener.open();
        }
        return images;
    }

    // ---------------------------------------------------------------------------------------------
    // Look-up

    /** The container {@code ref} names, if any. */
    public Optional<ContainerStore.Container> find(String ref) throws IOException, ContainerException {
        return store.find(ref);
    }

    /** The container {@code ref} names; "No such container: REF" (404, exit 1) if none. */
    public ContainerStore.Container require(String ref) throws IOException, ContainerException {
        return store.require(ref);
    }

    /** Every container (newest first), or only the running ones. */
    public List<ContainerSummary> list(boolean all) throws IOException {
        Instant now = Instant.now();
        List<ContainerSummary> out = new ArrayList<>();
        for (ContainerStore.Container c : store.list()) {
            ContainerState s = c.state().observed();
            if (!all && !s.isRunning()) {
                continue;
            }
            ContainerConfig cfg = c.config();
            out.add(new ContainerSummary(cfg.id(), cfg.name(), cfg.image(), cfg.imageId(), cfg.argv(), cfg.created(), s,
                    s.describe(now)));
        }
        return out;
    }

    /** {@code docker inspect}'s view of a container. */
    public ContainerDetails inspect(String ref) throws IOException, ContainerException {
        ContainerStore.Container c = require(ref);
        List<Network> on = new ArrayList<>();
        for (String id : c.config().networking().networks()) {
            try {
                networks.store().find(id).ifPresent(on::add);
            } catch (NetworkException e) {
                // a network removed behind its back: not shown
            }
        }
        return new ContainerDetails(c.config(), c.state().observed(), ContainerLog.currentFile(c.log()), on);
    }

    /** Which container uses an image, for removing images ({@code rmi}). */
    public ImageUsers imageUsers() {
        return imageId -> {
            try {
                for (ContainerStore.Container c : store.list()) {
                    if (c.config().imageId().equals(imageId.toString())) {
                        return Optional.of(new ImageUsers.Container(c.config().id(), c.state().isRunning()));
                    }
                }
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            return Optional.empty();
        };
    }

    // ---------------------------------------------------------------------------------------------
    // Create

    /**
     * {@code docker create}, pulling an image the store lacks: its progress (after docker's
     * "Unable to find image 'X' locally") goes to {@code pullProgress}.
     */
    public ContainerStore.Container create(CreateRequest request, PullProgress pullProgress)
            throws IOException, ContainerException {
        return create(request, Optional.of(pullProgress));
    }

    /** The Engine API's create: an image the store lacks is not pulled (404, its client pulls). */
    public ContainerStore.Container create(CreateRequest request) throws IOException, ContainerException {
        return create(request, Optional.empty());
    }

    private ContainerStore.Container create(CreateRequest r, Optional<PullProgress> pull)
            throws IOException, ContainerException {
        if (r.name() != null && !ContainerNames.isValid(r.name())) {
            throw ContainerNames.invalid(r.name());
        }
        int cpus = r.cpus() == 0 ? 1 : r.cpus();
        if (cpus < 1 || cpus > MAX_CPUS) {
            throw ContainerException.invalid("--cpus must be 1.." + MAX_CPUS);
        }
        long requested = r.memoryBytes() == 0 ? CreateRequest.DEFAULT_MEMORY : r.memoryBytes();
        long memoryBytes = requested > Long.MAX_VALUE - MIB ? Long.MAX_VALUE : (requested + MIB - 1) & ~(MIB - 1);
        if (memoryBytes < MIN_MEMORY || memoryBytes > HostCapabilities.totalMemory()) {
            throw ContainerException.invalid("--memory must be at least 64M and at most this host's memory");
        }
        long diskBytes = r.diskBytes() == 0 ? CreateRequest.DEFAULT_DISK : r.diskBytes();
        if (diskBytes < MIN_DISK) {
            throw ContainerException.invalid("--disk-size must be at least 64M");
        }
        if (r.workdir() != null && !r.workdir().startsWith("/")) {
            throw ContainerException.invalid("the working directory '" + r.workdir()
                    + "' is invalid, it needs to be an absolute path");
        }
        for (String e : r.env()) {
            if (e.indexOf('=') <= 0) {
                throw ContainerException.invalid("invalid environment variable: " + e);
            }
        }
        if (r.hostname() != null && (r.hostname().length() > 63 || !HOSTNAME.matcher(r.hostname()).matches())) {
            throw ContainerException.invalid("invalid hostname format: " + r.hostname());
        }
        for (Map.Entry<String, String> l : r.labels().entrySet()) {
            // docker's CLI refuses a label without a name in these words; dockerd does not check, but
            // no docker command can make one, so one that comes through the API is a client's mistake.
            if (l.getKey().isEmpty()) {
                throw ContainerException.invalid("invalid label '=" + l.getValue() + "': empty name");
            }
        }
        RestartPolicy restart = r.restartPolicy().validate();
        if (r.autoRemove() && !restart.isNone()) {
            // dockerd's words; docker's CLI refuses --restart with --rm before it asks.
            throw ContainerException.invalid("can't create 'AutoRemove' container with restart policy");
        }
        String badHealth = r.healthcheck() == null ? null : r.healthcheck().invalidity();
        if (badHealth != null) {
            throw ContainerException.invalid(badHealth);
        }
        NetworkOptions netOptions = r.network();
        checkNetworkOptions(netOptions);
        ContainerLog.Limits logLimits = ContainerLog.Limits.fromOptions(r.logOptions());
        Image img;
        try {
            img = resolveOrPull(r.image(), pull);
            images().ensureDisk(img);
        } catch (ImageException e) {
            throw new ContainerException(e instanceof NoSuchImageException ? ContainerException.Kind.NOT_FOUND
                    : ContainerException.Kind.FAILED, e.getMessage(), 125);
        }
        List<String> argv = argv(r, img);
        if (argv.isEmpty()) {
            throw ContainerException.invalid("No command specified");
        }
        List<String> env = new ArrayList<>(img.config().env());
        env.addAll(r.env());
        // docker's merge: the image's labels, and the request's over them.
        Map<String, String> labels = new LinkedHashMap<>(img.config().labels());
        labels.putAll(r.labels());
        List<PortBinding> ports = ports(netOptions, img.config().exposedPorts());
        String id = ContainerStore.newId();
        ContainerStore.Container c = null;
        // A generated name is picked outside the store's lock: a concurrent create (another
        // process, too) can take it first, and then this one picks another.
        for (int attempt = 1; c == null; attempt++) {
            String name = r.name() != null ? r.name() : generateName();
            try {
                c = store(r, img, id, name, argv, env, labels, netOptions, ports, memoryBytes, cpus, diskBytes, logLimits);
            } catch (ContainerException e) {
                if (r.name() != null || e.kind() != ContainerException.Kind.CONFLICT || attempt == GENERATED_NAME_ATTEMPTS) {
                    throw e;
                }
            }
        }
        try {
            // A sparse ext4 disk: the container's writable layer, kept across stop and start. Made
            // private first: mkfs keeps the mode of a file that exists.
            PrivateFiles.ensureFile(c.rwDisk());
            HostCommand.run(null, List.of("mkfs.ext4", "-q", "-F", "-L", "vessel-rw", "-E", "root_owner=0:0",
                    c.rwDisk().toString(), (diskBytes >> 20) + "M"));
        } catch (IOException e) {
            store.remove(c);
            ContainerException failure = ContainerException.failed("cannot make the container's disk: " + e.getMessage());
            releaseNetworks(id, failure);
            throw failure;
        }
        events.emit(c.config().event("create", Map.of()));
        return c;
    }

    private static final int GENERATED_NAME_ATTEMPTS = 5;

    /** Picks a name the given names do not hold; tests replace it to lose the race on purpose. */
    java.util.function.Function<java.util.function.Predicate<String>, String> nameGenerator = ContainerNames::generate;

    /** Joins the networks and writes the container's config under {@code name}; gives the addresses back when that fails. */
    private ContainerStore.Container store(CreateRequest r, Image img, String id, String name, List<String> argv,
                                           List<String> env, Map<String, String> labels, NetworkOptions netOptions,
                                           List<PortBinding> ports, long memoryBytes, int cpus, long diskBytes,
                                           ContainerLog.Limits logLimits) throws IOException, ContainerException {
        // The address first: a network that is full or an address that is taken fails the create
        // before anything is made; everything after it gives the address back when it fails.
        ContainerNetworking networking = joinNetworks(id, name, netOptions, ports);
        try {
            ContainerConfig config = new ContainerConfig(id, name, r.image(), img.id().toString(), Instant.now().toString(),
                    argv.getFirst(), argv.subList(1, argv.size()), env,
                    r.workdir() != null ? r.workdir() : nullToEmpty(img.config().workingDir()),
                    r.user() != null ? r.user() : nullToEmpty(img.config().user()),
                    r.hostname() != null ? r.hostname() : id.substring(0, 12),
                    r.tty(), r.openStdin(), r.autoRemove(), memoryBytes, cpus, diskBytes, logLimits, networking,
                    labels, r.restartPolicy(), HealthConfig.merge(r.healthcheck(), img.config().healthcheck()));
            return store.create(config);
        } catch (IOException | ContainerException | RuntimeException e) {
            releaseNetworks(id, e);
            throw e;
        }
    }

    /** Docker's hostname rule (RFC 1123 labels); it also keeps the VM's kernel command line whole. */
    static final java.util.regex.Pattern HOSTNAME =
            java.util.regex.Pattern.compile("[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(\\.[a-zA-Z0-9]([a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)*");
    private static final java.util.regex.Pattern DNS_NAME =
            java.util.regex.Pattern.compile("[a-zA-Z0-9_]([a-zA-Z0-9_.-]{0,252})");
    private static final java.util.regex.Pattern DNS_OPTION = java.util.regex.Pattern.compile("[a-zA-Z0-9_.:-]{1,64}");

    /** Checks what the store does not: names, addresses and resolver settings, with docker's messages. */
    static void checkNetworkOptions(NetworkOptions o) throws ContainerException {
        String mode = o.mode() == null ? Network.DEFAULT_NAME : o.mode();
        if (mode.equals("host")) {
            throw ContainerException.invalid("network host is not supported: every Vessel container is a VM with a "
                    + "kernel and network stack of its own (publish ports with -p instead)");
        }
        if (mode.startsWith("container:")) {
            throw ContainerException.invalid("network mode " + mode + " is not supported: every Vessel container is a VM "
                    + "with a network stack of its own");
        }
        boolean none = mode.equals(NetworkOptions.NONE);
        if (none && (o.ipv4() != null || o.macAddress() != null || !o.aliases().isEmpty())) {
            throw ContainerException.invalid("conflicting options: --ip, --mac-address and --network-alias need a network, "
                    + "not --network none");
        }
        if (!o.aliases().isEmpty() && mode.equals(Network.DEFAULT_NAME)) {
            throw ContainerException.invalid("network-scoped alias is supported only for containers in user defined networks");
        }
        for (String a : o.aliases()) {
            if (!HOSTNAME.matcher(a).matches()) {
                throw ContainerException.invalid("invalid network alias: " + a);
            }
        }
        if (o.ipv4() != null) {
            parseAddress(o.ipv4(), "invalid IPv4 address: ");
        }
        for (String d : o.dns()) {
            parseAddress(d, "invalid DNS server (Vessel's containers have IPv4 only): ");
        }
        for (String d : o.dnsSearch()) {
            if (!d.equals(".") && !DNS_NAME.matcher(d).matches()) {
                throw ContainerException.invalid("invalid DNS search domain: " + d);
            }
        }
        for (String d : o.dnsOptions()) {
            if (!DNS_OPTION.matcher(d).matches()) {
                throw ContainerException.invalid("invalid DNS option: " + d);
            }
        }
        for (String h : o.extraHosts()) {
            int colon = h.indexOf(':');
            if (colon <= 0) {
                throw ContainerException.invalid("bad format for add-host: \"" + h + "\"");
            }
            if (!HOSTNAME.matcher(h.substring(0, colon)).matches()) {
                throw ContainerException.invalid("invalid hostname in add-host: \"" + h.substring(0, colon) + "\"");
            }
            String ip = h.substring(colon + 1);
            if (!ip.equals(NetworkOptions.HOST_GATEWAY)) {
                parseAddress(ip, "invalid IP address in add-host: ");
            }
        }
    }

    private static Ipv4Address parseAddress(String text, String message) throws ContainerException {
        try {
            return Ipv4Address.parse(text);
        } catch (IllegalArgumentException e) {
            throw ContainerException.invalid(message + "\"" + text + "\"");
        }
    }

    /** The ports to publish: the {@code -p} values, and with {@code -P} every port the image exposes that they leave out. */
    static List<PortBinding> ports(NetworkOptions o, List<String> exposed) throws ContainerException {
        List<PortBinding> out = new ArrayList<>();
        for (String spec : o.publish()) {
            try {
                out.addAll(PortBinding.parse(spec));
            } catch (IllegalArgumentException e) {
                throw ContainerException.invalid(e.getMessage());
            }
        }
        if (o.publishAll()) {
            for (String e : exposed) {
                PortBinding b;
                try {
                    b = PortBinding.exposed(e);
                } catch (IllegalArgumentException x) {
                    continue; // an image's odd ExposedPorts entry (a range, sctp) is not published, as docker skips what it cannot
                }
                if (out.stream().noneMatch(p -> p.containerKey().equals(b.containerKey()))) {
                    out.add(b);
                }
            }
        }
        if (!out.isEmpty() && NetworkOptions.NONE.equals(o.mode())) {
            throw ContainerException.invalid("conflicting options: port publishing and the container type network mode");
        }
        return out;
    }

    /** Allocates the new container's address on its network; none for {@code --network none}. */
    private ContainerNetworking joinNetworks(String id, String name, NetworkOptions o, List<PortBinding> ports)
            throws IOException, ContainerException {
        String mode = o.mode() == null ? Network.DEFAULT_NAME : o.mode();
        List<String> ids = new ArrayList<>();
        if (!mode.equals(NetworkOptions.NONE)) {
            try {
                Network n = mode.equals(Network.DEFAULT_NAME) ? networks.defaultNetwork() : networks.inspect(mode);
                networks.store().allocate(n.id(), new NetworkStore.EndpointRequest(id, name,
                        o.ipv4() == null ? null : Ipv4Address.parse(o.ipv4()), o.macAddress(), o.aliases()));
                ids.add(n.id());
            } catch (NetworkException e) {
                throw networkError(e);
            }
        }
        return new ContainerNetworking(mode, ids, o.dns(), o.dnsSearch(), o.dnsOptions(), o.extraHosts(), ports);
    }

    /** A network's refusal as docker answers it to {@code create}. */
    static ContainerException networkError(NetworkException e) {
        ContainerException.Kind kind = switch (e.kind()) {
            case NOT_FOUND -> ContainerException.Kind.NOT_FOUND;
            case INVALID, FORBIDDEN -> ContainerException.Kind.INVALID;
            case CONFLICT -> ContainerException.Kind.CONFLICT;
            default -> ContainerException.Kind.FAILED;
        };
        return new ContainerException(kind, e.getMessage(), 125);
    }

    private void releaseNetworks(String id, Exception failure) {
        try {
            networks.store().releaseAll(id);
        } catch (IOException | RuntimeException e) {
            failure.addSuppressed(e);
        }
    }

    /**
     * The image, pulled first when the store does not have it and the caller allows it (docker's
     * "Unable to find image 'X' locally", then the pull's progress).
     */
    private Image resolveOrPull(String name, Optional<PullProgress> pull) throws IOException, ImageException, ContainerException {
        try {
            return images().resolveOrBuiltin(name);
        } catch (NoSuchImageException e) {
            if (pull.isEmpty() || !Reference.isValid(name)) {
                throw e;
            }
            Reference ref = Reference.parse(name);
            pull.get().line("Unable to find image '" + ref.familiar() + "' locally");
            try {
                return puller.pull(images(), ref, pull.get());
            } catch (RegistryException | ImageException | IOException x) {
                throw new ContainerException(x instanceof NoSuchImageException ? ContainerException.Kind.NOT_FOUND
                        : ContainerException.Kind.FAILED, x.getMessage(), 125);
            }
        }
    }

    /** The main process's argv: docker's merge of entrypoint and command with the image's. */
    static List<String> argv(CreateRequest r, Image img) {
        List<String> argv = new ArrayList<>();
        if (r.entrypoint() != null) {
            // An entrypoint of the caller's drops the image's command too.
            argv.addAll(r.entrypoint().stream().filter(s -> !s.isEmpty()).toList());
            argv.addAll(r.cmd());
        } else {
            argv.addAll(img.config().entrypoint());
            argv.addAll(r.cmd().isEmpty() ? img.config().cmd() : r.cmd());
        }
        return argv;
    }

    private String generateName() throws IOException {
        Set<String> used = new HashSet<>();
        for (ContainerStore.Container c : store.list()) {
            used.add(c.config().name());
        }
        return nameGenerator.apply(used::contains);
    }

    private static String nullToEmpty(String s) {
        return s == null ? "" : s;
    }

    /**
     * Connects a container that is not running to another network (docker's {@code network
     * connect}); it gets its card there when it starts next. A running VM's cards are fixed.
     *
     * @throws ContainerException NOT_FOUND for the container or the network; CONFLICT while it runs,
     *     when it is on the network already, or has no networks ({@code --network none})
     */
    public void connect(String containerRef, String networkRef, List<String> aliases, String ipv4, String mac)
            throws IOException, ContainerException {
        ContainerStore.Container c = require(containerRef);
        ContainerConfig cfg = c.config();
        if (c.state().isRunning()) {
            throw ContainerException.conflict("container " + cfg.name() + " is running: a Vessel container's network cards "
                    + "are fixed while its VM runs; stop it, connect it, and start it again");
        }
        if (NetworkOptions.NONE.equals(cfg.networking().mode())) {
            throw ContainerException.conflict("container " + cfg.name() + " was created with --network none and cannot be "
                    + "connected to a network");
        }
        if (cfg.networking().networks().size() >= GuestNetwork.MAX_CARDS) {
            throw ContainerException.conflict("container " + cfg.name() + " is on " + GuestNetwork.MAX_CARDS
                    + " networks already, as many as its VM takes");
        }
        checkNetworkOptions(new NetworkOptions(networkRef, aliases, ipv4, mac, null, null, null, null, null, false));
        Network n;
        try {
            n = networks.inspect(networkRef);
            networks.store().allocate(n.id(), new NetworkStore.EndpointRequest(cfg.id(), cfg.name(),
                    ipv4 == null ? null : Ipv4Address.parse(ipv4), mac, aliases));
        } catch (NetworkException e) {
            throw ContainerException.connectError(networkError(e));
        }
        try {
            store.updateConfig(c, now -> {
                List<String> ids = new ArrayList<>(now.networking().networks());
                ids.add(n.id());
                return now.withNetworking(now.networking().withNetworks(ids));
            });
        } catch (IOException | ContainerException | RuntimeException e) {
            try {
                networks.store().release(n.id(), cfg.id());
            } catch (IOException | NetworkException undo) {
                e.addSuppressed(undo);
            }
            throw e;
        }
    }

    /**
     * Disconnects a container that is not running from a network (docker's {@code network
     * disconnect}); its address there is given back.
     *
     * @param force also when the network is gone already, or the container is not on it
     */
    public void disconnect(String containerRef, String networkRef, boolean force) throws IOException, ContainerException {
        ContainerStore.Container c = require(containerRef);
        ContainerConfig cfg = c.config();
        if (c.state().isRunning()) {
            throw ContainerException.conflict("container " + cfg.name() + " is running: a Vessel container's network cards "
                    + "are fixed while its VM runs; stop it first");
        }
        Optional<Network> n;
        try {
            n = networks.store().find(networkRef);
        } catch (NetworkException e) {
            throw ContainerException.connectError(networkError(e));
        }
        String id = n.map(Network::id).orElse(null);
        if (id == null || !cfg.networking().networks().contains(id)) {
            if (force) {
                return;
            }
            throw n.isEmpty() ? new ContainerException(ContainerException.Kind.NOT_FOUND, "network " + networkRef + " not found", 1)
                    : ContainerException.conflict("container " + cfg.id() + " is not connected to network " + networkRef);
        }
        store.updateConfig(c, now -> now.withNetworking(now.networking().withNetworks(
                now.networking().networks().stream().filter(x -> !x.equals(id)).toList())));
        try {
            networks.leave(id, cfg.id());
        } catch (NetworkException e) {
            // the network went meanwhile: its address went with it
        }
        // As dockerd: a stopped container's disconnect is an event; its connect is one when it starts.
        events.emit(n.get().event("disconnect", Map.of("container", cfg.id())));
    }

    // ---------------------------------------------------------------------------------------------
    // Life cycle

    /**
     * Starts the container's supervisor, which boots its VM and runs its main process; nothing
     * when it runs already. Returns once the supervisor listens.
     *
     * @param waitForAttach the main process starts once a client attached (so it sees all output)
     */
    public void start(String ref, boolean waitForAttach) throws IOException, ContainerException {
        ContainerStore.Container c = require(ref);
        ContainerState s = c.state().observed();
        if (s.isRunning()) {
            return;
        }
        launcher.start(c, waitForAttach, ContainerState.EXITED.equals(s.status()));
        events.emit(c.config().event("start", Map.of()));
    }

    /** What {@link #startByPolicy} did: the containers it started, and why others did not start. */
    public record PolicyStarts(List<String> started, Map<String, String> failed) {}

    /**
     * What dockerd does when it starts: starts the containers that are not running (their
     * supervisor died with the host, or the user stopped them) whose restart policy is {@code
     * always}, and the {@code unless-stopped} ones the user did not stop. Never-started ones stay
     * created. One that fails to start does not keep the others from starting.
     */
    public PolicyStarts startByPolicy() throws IOException {
        List<String> started = new ArrayList<>();
        Map<String, String> failed = new LinkedHashMap<>();
        for (ContainerStore.Container c : store.list()) {
            ContainerState s = c.state().observed();
            ContainerConfig cfg = c.config();
            if (!ContainerState.EXITED.equals(s.status()) || !cfg.restartPolicy().startsWithService(s.stoppedByUser())) {
                continue;
            }
            try {
                start(cfg.id(), false);
                started.add(cfg.name());
            } catch (ContainerException | IOException e) {
                failed.put(cfg.name(), e.getMessage());
            }
        }
        return new PolicyStarts(started, failed);
    }

    /**
     * Stops the container: SIGTERM to its main process, SIGKILL after {@code timeoutSeconds};
     * returns the exit status (at once for a container that is not running). Its supervisor
     * records the signals ({@code kill}) and the end ({@code die}); this records {@code stop}.
     */
    public int stop(String ref, int timeoutSeconds) throws IOException, ContainerException {
        ContainerStore.Container c = require(ref);
        boolean running = c.state().isRunning();
        int status = stop(c, timeoutSeconds);
        if (running) {
            events.emit(c.config().event("stop", Map.of()));
        }
        return status;
    }

    private static int stop(ContainerStore.Container c, int timeoutSeconds) throws IOException {
        if (!c.state().isRunning()) {
            return c.state().observed().exitCode();
        }
        try {
            return ShimProtocol.stop(c.shimSocket(), Math.max(0, timeoutSeconds));
        } catch (IOException e) {
            if (!c.state().isRunning()) {
                return c.state().observed().exitCode(); // it ended meanwhile
            }
            throw e;
        }
    }

    /** Stops the container if it runs, and starts it again. */
    public void restart(String ref, int timeoutSeconds) throws IOException, ContainerException {
        restart(ref, timeoutSeconds, false);
    }

    /**
     * Stops the container if it runs, and starts it again, its main process held for an attach
     * with {@code waitForAttach} (as {@link #start}).
     */
    public void restart(String ref, int timeoutSeconds, boolean waitForAttach) throws IOException, ContainerException {
        String id = require(ref).config().id();
        stop(id, timeoutSeconds);
        start(id, waitForAttach);
        events.emit(require(id).config().event("restart", Map.of()));
    }

    /** Sends {@code signal} (1-64) to the container's main process. */
    public void kill(String ref, int signal) throws IOException, ContainerException {
        if (signal < 1 || signal > 64) {
            throw ContainerException.invalid("invalid signal: " + signal);
        }
        ContainerStore.Container c = require(ref);
        if (!c.state().isRunning()) {
            throw ContainerException.conflict("Cannot kill container: " + ref + ": container " + c.config().id()
                    + " is not running");
        }
        ShimProtocol.signal(c.shimSocket(), signal);
    }

    /** Blocks until the container stops; returns its exit status (at once when it is not running). */
    public int awaitExit(String ref) throws IOException, ContainerException {
        ContainerStore.Container c = require(ref);
        if (c.state().isRunning()) {
            try {
                return ShimProtocol.await(c.shimSocket());
            } catch (IOException e) {
                // its supervisor ended meanwhile: the state tells
            }
        }
        return c.state().observed().exitCode();
    }

    /** Removes the container; a running one only with {@code force} (it is killed first). */
    public void remove(String ref, boolean force) throws IOException, ContainerException {
        ContainerStore.Container c = require(ref);
        if (c.state().isRunning()) {
            if (!force) {
                throw ContainerException.conflict("You cannot remove a " + c.state().observed().status() + " container "
                        + c.config().id() + ". Stop the container before attempting removal or force remove");
            }
            stop(c, 0);
        }
        store.remove(c);
        networks.forget(c.config().id());
        events.emit(c.config().event("destroy", Map.of()));
    }

    /**
     * Docker's rename, of a running container too: the container answers to {@code newName} from
     * now on, in the store and on its networks, whose resolvers answer the new name (and no longer
     * the old one) to the other containers there. The name and the networks' records change
     * together under the store's lock, or neither does.
     *
     * @throws ContainerException INVALID (an empty, invalid or unchanged name), NOT_FOUND, CONFLICT
     *     (another container has the name), with dockerd's messages; the CLI's status is 1
     */
    public void rename(String ref, String newName) throws IOException, ContainerException {
        String from = ref == null ? "" : ref.strip();
        String to = newName == null ? "" : newName.strip();
        if (withoutSlash(from).isEmpty() || withoutSlash(to).isEmpty()) {
            throw new ContainerException(ContainerException.Kind.INVALID, "Neither old nor new names may be empty", 1);
        }
        ContainerStore.Container c = require(from);
        String name = withoutSlash(to);
        if (name.equals(c.config().name())) {
            throw new ContainerException(ContainerException.Kind.INVALID,
                    "Renaming a container with the same name as its current name", 1);
        }
        if (!ContainerNames.isValid(name)) {
            throw new ContainerException(ContainerException.Kind.INVALID,
                    "Error when allocating new name: " + ContainerNames.invalid("/" + name).getMessage(), 1);
        }
        List<Network> renamedOn = new ArrayList<>();
        try {
            store.rename(c, name, now -> renamedOn.addAll(networks.store().renameEndpoints(now.id(), now.name())));
        } catch (ContainerException e) {
            throw e.kind() == ContainerException.Kind.CONFLICT
                    ? new ContainerException(e.kind(), "Error when allocating new name: " + e.getMessage(), 1) : e;
        }
        networks.tellResolvers(renamedOn);
    }

    private static String withoutSlash(String name) {
        return name.startsWith("/") ? name.substring(1) : name;
    }

    /** What {@link #prune} removed: the containers' ids, and the bytes their writable disks took. */
    public record PruneResult(List<String> deleted, long reclaimed) {
        public PruneResult {
            deleted = List.copyOf(deleted);
        }
    }

    /**
     * {@code docker container prune}: removes every container that is not running (created or
     * exited) and that {@code filter} picks. One that starts or goes meanwhile is left out.
     */
    public PruneResult prune(PruneFilter filter) throws IOException {
        List<String> deleted = new ArrayList<>();
        long reclaimed = 0;
        for (ContainerStore.Container c : store.list()) {
            ContainerConfig cfg = c.config();
            if (c.state().isRunning() || !filter.matches(instant(cfg.created()), cfg.labels())) {
                continue;
            }
            long size = writableSize(c);
            try {
                remove(cfg.id(), false);
            } catch (ContainerException e) {
                continue; // started or removed meanwhile: not this prune's
            }
            deleted.add(cfg.id());
            reclaimed += size;
        }
        return new PruneResult(deleted, reclaimed);
    }

    private static Instant instant(String rfc3339) {
        try {
            return Instant.parse(rfc3339);
        } catch (java.time.format.DateTimeParseException e) {
            return null;
        }
    }

    /**
     * What the container itself takes on disk (docker's {@code SizeRw}): the blocks its writable
     * disk has allocated, which grow with what the guest writes, not the disk's sparse size.
     */
    public long writableSize(String ref) throws IOException, ContainerException {
        return writableSize(require(ref));
    }

    private static long writableSize(ContainerStore.Container c) throws IOException {
        return DiskUsage.of(c.rwDisk());
    }

    // ---------------------------------------------------------------------------------------------
    // Streams

    /** The container's output (docker logs). */
    public LogReader logs(String ref) throws IOException, ContainerException {
        return new LogReader(require(ref));
    }

    /**
     * Attaches to the running container's main process. {@code stdin} counts only when the
     * container keeps its stdin open; {@code rows} and {@code cols} (0: unknown) size its terminal
     * when it has one and its main process has not started yet.
     */
    public AttachClient attach(String ref, boolean stdin, int rows, int cols) throws IOException, ContainerException {
        ContainerStore.Container c = require(ref);
        ContainerException stopped = ContainerException.conflict("You cannot attach to a stopped container, start it first");
        if (!c.state().isRunning()) {
            throw stopped;
        }
        if (c.state().isRestarting()) {
            throw ContainerException.conflict("You cannot attach to a restarting container, wait until it is running");
        }
        AttachClient client;
        try {
            client = AttachClient.connect(c.shimSocket(), stdin && c.config().openStdin(), c.config().tty(), rows, cols);
        } catch (IOException e) {
            throw stopped;
        }
        events.emit(c.config().event("attach", Map.of()));
        return client;
    }

    /**
     * Lets the main process that the supervisor holds for an attach ({@code start} with {@code
     * waitForAttach}) go without one: the Engine API's start when no client attaches. No client
     * attaches, so nothing is recorded.
     */
    public void release(String ref) throws IOException, ContainerException {
        ContainerStore.Container c = require(ref);
        if (!c.state().isRunning()) {
            return;
        }
        try (AttachClient ignored = AttachClient.connect(c.shimSocket(), false, c.config().tty(), 0, 0)) {
            // attaching is what lets the held main process start; its output goes to the log
        } catch (IOException e) {
            // it ended already
        }
    }

    /**
     * Runs another process in the running container through its guest agent. The session's
     * output goes to {@code stdout} and {@code stderr} (daemon threads); {@code stdin} is copied to
     * the process when not null (else the caller writes or closes it). Closing the session ends
     * the connection (and the process).
     */
    public ExecSession exec(String ref, ExecOptions options, InputStream stdin, OutputStream stdout, OutputStream stderr)
            throws IOException, ContainerException {
        return startExec(ref, createExec(ref, options), options, stdin, stdout, stderr);
    }

    /**
     * Docker's exec create: checks that the container runs and that there is a command, and
     * names the exec instance (64 hex digits); {@link #startExec} runs it.
     */
    public String createExec(String ref, ExecOptions options) throws IOException, ContainerException {
        ContainerConfig cfg = running(ref).config();
        if (options.cmd().isEmpty()) {
            throw ContainerException.invalid("No exec command specified");
        }
        String execId = ContainerStore.newId();
        events.emit(cfg.event("exec_create: " + execLine(options), Map.of("execID", execId)));
        return execId;
    }

    /** dockerd's words for an exec in its actions: the program, a space, its arguments. */
    private static String execLine(ExecOptions options) {
        return options.cmd().getFirst() + " " + String.join(" ", options.cmd().subList(1, options.cmd().size()));
    }

    private ContainerStore.Container running(String ref) throws IOException, ContainerException {
        ContainerStore.Container c = require(ref);
        if (!c.state().isRunning()) {
            throw ContainerException.conflict("container " + c.config().id() + " is not running");
        }
        if (c.state().isRestarting()) {
            throw ContainerException.conflict("Container " + c.config().id() + " is restarting, wait until the container is running");
        }
        return c;
    }

    /** Runs the exec instance {@code execId} ({@link #createExec}), as {@link #exec} does. */
    public ExecSession startExec(String ref, String execId, ExecOptions options, InputStream stdin, OutputStream stdout,
                                 OutputStream stderr) throws IOException, ContainerException {
        ContainerStore.Container c = running(ref);
        if (options.cmd().isEmpty()) {
            throw ContainerException.invalid("No exec command specified");
        }
        ExecRequest request = execRequest(c.config(), options);
        AgentClient client;
        try {
            client = GuestAgent.connect(c.vsockSocket());
        } catch (IOException e) {
            throw ContainerException.failed("cannot reach the container's agent: " + e.getMessage());
        }
        ExecSession session;
        try {
            session = client.exec(request, stdin, stdout, stderr);
        } catch (IOException | RuntimeException e) {
            client.close();
            throw ContainerException.failed("cannot reach the container's agent: " + e.getMessage());
        }
        ContainerConfig cfg = c.config();
        events.emit(cfg.event("exec_start: " + execLine(options), Map.of("execID", execId)));
        // A broken connection is what the API's exec reports as 137: the VM went away.
        session.whenEnded(status -> events.emit(cfg.event("exec_die",
                Map.of("execID", execId, "exitCode", Integer.toString(status < 0 ? 137 : status)))));
        return session;
    }

    /**
     * The exec's environment (the container's, PATH and HOSTNAME, the caller's), directory, user
     * and terminal. A request the agent would refuse (a relative directory, a NUL) fails here.
     */
    static ExecRequest execRequest(ContainerConfig config, ExecOptions o) throws ContainerException {
        try {
            return buildExecRequest(config, o);
        } catch (IllegalArgumentException e) {
            throw new ContainerException(ContainerException.Kind.INVALID, e.getMessage(), 1);
        }
    }

    private static ExecRequest buildExecRequest(ContainerConfig config, ExecOptions o) throws ContainerException {
        Map<String, String> env = new LinkedHashMap<>();
        putAll(env, config.env());
        env.putIfAbsent("PATH", DEFAULT_PATH);
        env.putIfAbsent("HOSTNAME", config.hostname());
        for (String e : o.env()) {
            if (e.indexOf('=') <= 0) {
                throw ContainerException.invalid("invalid environment variable: " + e);
            }
        }
        putAll(env, o.env());
        if (o.tty()) {
            env.putIfAbsent("TERM", o.terminalType() != null ? o.terminalType() : "xterm");
        }
        String wd = o.workdir() != null ? o.workdir() : config.workingDir();
        ExecRequest request = ExecRequest.of(o.cmd()).withEnv(env).withCwd(wd.isEmpty() ? "/" : wd);
        String user = o.user() != null ? o.user() : config.user();
        if (!user.isEmpty()) {
            request = request.withUserSpec(user);
        }
        if (o.tty()) {
            request = request.withTty(o.rows() > 0 ? o.rows() : 24, o.cols() > 0 ? o.cols() : 80);
        }
        return request;
    }

    private static void putAll(Map<String, String> env, List<String> entries) {
        for (String e : entries) {
            int eq = e.indexOf('=');
            if (eq > 0) {
                env.put(e.substring(0, eq), e.substring(eq + 1));
            }
        }
    }
}
