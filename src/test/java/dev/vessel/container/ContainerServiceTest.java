package dev.vessel.container;

import dev.vessel.events.Event;
import dev.vessel.events.EventJournal;
import dev.vessel.network.Endpoint;
import dev.vessel.network.FakeNetworkHost;
import dev.vessel.network.Network;
import dev.vessel.network.ports.PortBinding;
import dev.vessel.network.NetworkService;
import dev.vessel.network.NetworkStore;
import dev.vessel.guest.agent.AgentProtocol;
import dev.vessel.guest.agent.ExecRequest;
import dev.vessel.guest.agent.ExecSession;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vessel.image.BuiltinBusybox;
import dev.vessel.image.HealthConfig;
import dev.vessel.image.Image;
import dev.vessel.image.ImageStore;
import dev.vessel.image.Tars;
import dev.vessel.image.UnpackPolicy;
import dev.vessel.registry.PullProgress;
import dev.vessel.registry.RegistryException;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The container service without a VM: create (images resolved, pulled, their disks and the
 * container's writable disk made), names, look-ups, lists, removal and docker's errors. The
 * supervisor is a recording fake; the image store is shared by the tests (its disks take mkfs runs).
 */
class ContainerServiceTest {
    @TempDir
    static Path shared;
    static ImageStore images;
    /** An imported image: ENTRYPOINT ["/bin/echo", "ep"], CMD ["a"], an env, a workdir, a user and labels. */
    static Image withEntrypoint;

    @TempDir
    Path dir;
    ContainerStore store;
    final List<String> launches = new ArrayList<>();
    final List<String> pulls = new ArrayList<>();
    ContainerService service;
    EventJournal events;
    final FakeNetworkHost networkHost = new FakeNetworkHost();

    @BeforeAll
    static void images() throws Exception {
        images = ImageStore.open(shared.resolve("images"), UnpackPolicy.defaults());
        byte[] rootfs = Tars.tar().dir("bin").file("bin/echo", "not a real program").dir("srv").bytes();
        withEntrypoint = images.importRootfs(new ByteArrayInputStream(rootfs), "test/entry:1",
                List.of("ENTRYPOINT [\"/bin/echo\", \"ep\"]", "CMD [\"a\"]", "ENV IMG=1", "WORKDIR /srv", "USER nobody",
                        "LABEL img.only=1 shared=image"),
                null);
    }

    @BeforeEach
    void service() throws IOException {
        events = EventJournal.at(dir.resolve("events"), EventJournal.Limits.DEFAULT);
        store = ContainerStore.open(dir.resolve("containers"));
        service = new ContainerService(store, () -> images, (imgs, ref, progress) -> {
            pulls.add(ref.toString());
            progress.line("pulled " + ref.familiar());
            if (ref.familiar().contains("missing")) {
                throw new RegistryException("manifest unknown");
            }
            imgs.tag("test/entry:1", ref.toString());
            return imgs.resolve(ref.toString());
        }, (c, waitForAttach, restart) -> {
            if (c.config().name().startsWith("broken")) {
                throw ContainerException.failed("its VM cannot boot");
            }
            launches.add(c.config().name() + " wait=" + waitForAttach + " restart=" + restart);
        },
                new NetworkService(NetworkStore.open(dir.resolve("networks")), networkHost, events), events);
    }

    private static CreateRequest entry() {
        return CreateRequest.of("test/entry:1");
    }

    @Test
    void createFromTheBuiltinBusyboxMakesTheContainersWritableDisk() throws Exception {
        ContainerStore.Container c = service.create(CreateRequest.of("busybox").withCmd(List.of("echo", "hi")),
                PullProgress.quiet());
        ContainerConfig cfg = c.config();
        assertEquals(List.of("echo", "hi"), cfg.argv());
        assertEquals("busybox", cfg.image());
        assertEquals(images.resolve("busybox").id().toString(), cfg.imageId());
        assertEquals(List.of(BuiltinBusybox.PATH), cfg.env());
        assertEquals(cfg.id().substring(0, 12), cfg.hostname(), "docker's default hostname");
        assertTrue(ContainerNames.isValid(cfg.name()), cfg.name());
        assertEquals(CreateRequest.DEFAULT_MEMORY, cfg.memoryBytes());
        assertEquals(1, cfg.cpus());
        assertTrue(Files.isRegularFile(images.diskPath(images.resolve("busybox"))), "the image's disk was built");

        assertEquals(CreateRequest.DEFAULT_DISK, Files.size(c.rwDisk()), "the writable disk has the size asked for");
        ByteBuffer magic = ByteBuffer.allocate(2).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        try (FileChannel ch = FileChannel.open(c.rwDisk())) {
            ch.read(magic, 1024 + 0x38);
        }
        assertEquals(0xEF53, magic.flip().getShort() & 0xFFFF, "an ext4 superblock");
        assertEquals(ContainerState.CREATED, c.state().status());
        assertTrue(launches.isEmpty(), "create does not start");
        assertEquals(c.dir(), service.require(cfg.name()).dir());
    }

    @Test
    void entrypointAndCommandMergeAsDockersDo() throws Exception {
        assertEquals(List.of("/bin/echo", "ep", "a"), create(entry()).argv(), "the image's entrypoint and command");
        assertEquals(List.of("/bin/echo", "ep", "b", "c"), create(entry().withCmd(List.of("b", "c"))).argv());
        assertEquals(List.of("sh"), create(entry().withEntrypoint(List.of("sh"))).argv(),
                "an entrypoint of the caller's drops the image's command");
        assertEquals(List.of("sh", "-c", "x"), create(entry().withEntrypoint(List.of("sh")).withCmd(List.of("-c", "x"))).argv());
        assertEquals(List.of("true"), create(entry().withEntrypoint(List.of("")).withCmd(List.of("true"))).argv(),
                "--entrypoint '' clears it");
        ContainerException none = assertThrows(ContainerException.class, () -> create(entry().withEntrypoint(List.of(""))));
        assertEquals("No command specified", none.getMessage());
        assertEquals(125, none.status());
    }

    @Test
    void theImagesEnvironmentComesFirstAndItsDefaultsApply() throws Exception {
        ContainerConfig img = create(entry().withEnv(List.of("A=1", "IMG=2")));
        assertEquals(List.of("IMG=1", "A=1", "IMG=2"), img.env());
        assertEquals("/srv", img.workingDir());
        assertEquals("nobody", img.user());

        ContainerConfig mine = create(entry().withProcess("/tmp", "0:0", "box").withStreams(true, true).withAutoRemove(true)
                .withResources((100L << 20) + 1, 2, 64L << 20));
        assertEquals("/tmp", mine.workingDir());
        assertEquals("0:0", mine.user());
        assertEquals("box", mine.hostname());
        assertTrue(mine.tty() && mine.openStdin() && mine.autoRemove());
        assertEquals(101L << 20, mine.memoryBytes(), "memory is rounded up to whole MiB");
        assertEquals(2, mine.cpus());
        assertEquals(64L << 20, mine.diskBytes());
    }

    @Test
    void badRequestsFailBeforeAnyImageIsLookedUp() throws Exception {
        CreateRequest absent = CreateRequest.of("missing/image");
        assertInvalid("Invalid container name (-bad name), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                absent.withName("-bad name"));
        assertInvalid("--cpus must be 1..64", absent.withResources(0, 65, 0));
        assertInvalid("--memory must be at least 64M and at most this host's memory", absent.withResources(1L << 20, 0, 0));
        assertInvalid("--memory must be at least 64M and at most this host's memory", absent.withResources(Long.MAX_VALUE, 0, 0));
        assertInvalid("--disk-size must be at least 64M", absent.withResources(0, 0, 1L << 20));
        assertInvalid("the working directory 'rel' is invalid, it needs to be an absolute path", absent.withProcess("rel", null, null));
        assertInvalid("invalid environment variable: NOVALUE", absent.withEnv(List.of("NOVALUE")));
        assertInvalid("invalid environment variable: =x", absent.withEnv(List.of("=x")));
        assertInvalid("unknown log opt 'max-age' for local log driver", absent.withLogOptions(Map.of("max-age", "1")));
        assertInvalid("invalid value for log option max-size: '0' (a positive size such as 10m, 512k, 1g)",
                absent.withLogOptions(Map.of("max-size", "0")));
        assertInvalid("invalid value for log option max-file: 'none' (a count of files, at least 1)",
                absent.withLogOptions(Map.of("max-file", "none")));
        assertInvalid("invalid label '=x': empty name", absent.withLabels(Map.of("", "x")));
        assertInvalid("Interval in Healthcheck cannot be less than 1ms",
                absent.withHealthcheck(new HealthConfig(List.of("CMD", "x"), 500_000, 0, 0, 0, 0)));
        assertInvalid("Interval in Healthcheck cannot be less than 1ms",
                absent.withHealthcheck(new HealthConfig(null, -10_000_000, 0, 0, 0, 0)));
        assertInvalid("Timeout in Healthcheck cannot be less than 1ms",
                absent.withHealthcheck(new HealthConfig(null, 0, -1, 0, 0, 0)));
        assertInvalid("Retries in Healthcheck cannot be negative", absent.withHealthcheck(new HealthConfig(null, 0, 0, 0, 0, -1)));
        assertInvalid("StartPeriod in Healthcheck cannot be less than 1ms",
                absent.withHealthcheck(new HealthConfig(null, 0, 0, 999, 0, 0)));
        assertTrue(pulls.isEmpty(), "nothing was pulled for a bad request");
        assertTrue(store.list().isEmpty());
    }

    private void assertInvalid(String message, CreateRequest r) {
        ContainerException e = assertThrows(ContainerException.class, () -> service.create(r, PullProgress.quiet()));
        assertEquals(message, e.getMessage());
        assertEquals(ContainerException.Kind.INVALID, e.kind());
        assertEquals(400, e.httpStatus());
        assertEquals(125, e.status(), "docker run's status for its own failures");
    }

    @Test
    void aContainerGetsAnAddressOnTheDefaultNetworkUntilItIsRemoved() throws Exception {
        ContainerStore.Container c = service.create(entry().withName("a"));
        ContainerNetworking net = c.config().networking();
        Network bridge = service.networks().inspect("bridge");
        assertEquals("bridge", net.mode());
        assertEquals(List.of(bridge.id()), net.networks());
        Endpoint e = bridge.endpoints().get(c.config().id());
        assertEquals("a", e.containerName());
        assertEquals(bridge.subnet().network().plus(2), e.address(), "the lowest free address");
        assertEquals(List.of(), networkHost.calls, "nothing on the host before the container starts");
        service.remove(c.config().id(), false);
        assertTrue(service.networks().inspect("bridge").endpoints().isEmpty(), "its address was given back");
    }

    @Test
    void aGeneratedNameThatAConcurrentCreateTookFirstIsPickedAgain() throws Exception {
        service.create(entry().withName("quick_hopper"));
        // The generator saw the names before the other create stored its own: it offers a taken one first.
        List<String> offered = new ArrayList<>(List.of("quick_hopper", "quick_hopper", "calm_turing"));
        service.nameGenerator = inUse -> offered.removeFirst();
        ContainerStore.Container c = service.create(entry());
        assertEquals("calm_turing", c.config().name());
        assertTrue(offered.isEmpty(), "it tried again after each conflict");
        Network bridge = service.networks().inspect("bridge");
        assertEquals(2, bridge.endpoints().size(), "the failed attempts gave their addresses back: " + bridge.endpoints());
        assertEquals("calm_turing", bridge.endpoints().get(c.config().id()).containerName());

        service.nameGenerator = inUse -> "quick_hopper";
        ContainerException e = assertThrows(ContainerException.class, () -> service.create(entry()));
        assertEquals(ContainerException.Kind.CONFLICT, e.kind(), "a generator that never finds a free name ends");
        assertEquals(2, service.networks().inspect("bridge").endpoints().size());
        ContainerException named = assertThrows(ContainerException.class, () -> service.create(entry().withName("calm_turing")));
        assertEquals(ContainerException.Kind.CONFLICT, named.kind(), "a name the user gave is never replaced");
    }

    @Test
    void aUserNetworkWithAddressMacAndAliasesOrNone() throws Exception {
        Network front = service.networks().create(dev.vessel.network.CreateRequest.named("front")
                .withSubnet("10.30.0.0/24", null));
        ContainerStore.Container c = service.create(entry().withName("db").withNetwork(new NetworkOptions("front",
                List.of("database"), "10.30.0.20", "02:00:00:00:00:20", List.of("10.30.0.1"), List.of("test"),
                List.of("ndots:1"), List.of("x:10.0.0.9"), null, false)));
        Endpoint e = service.networks().inspect("front").endpoints().get(c.config().id());
        assertEquals("10.30.0.20", e.address().toString());
        assertEquals("02:00:00:00:00:20", e.macAddress());
        assertEquals(List.of("database"), e.aliases());
        assertEquals(new ContainerNetworking("front", List.of(front.id()), List.of("10.30.0.1"), List.of("test"),
                List.of("ndots:1"), List.of("x:10.0.0.9"), List.of()), c.config().networking());
        ContainerStore.Container none = service.create(entry().withName("alone")
                .withNetwork(new NetworkOptions("none", null, null, null, null, null, null, null, null, false)));
        assertEquals(List.of(), none.config().networking().networks());
        ContainerException taken = assertThrows(ContainerException.class, () -> service.create(entry().withName("db2")
                .withNetwork(new NetworkOptions("front", null, "10.30.0.20", null, null, null, null, null, null, false))));
        assertEquals(ContainerException.Kind.CONFLICT, taken.kind());
        assertEquals(125, taken.status());
        assertEquals(2, store.list().size(), "the refused one left nothing");
        ContainerException unknown = assertThrows(ContainerException.class, () -> service.create(entry()
                .withNetwork(new NetworkOptions("nosuch", null, null, null, null, null, null, null, null, false))));
        assertEquals(ContainerException.Kind.NOT_FOUND, unknown.kind());
        assertEquals("network nosuch not found", unknown.getMessage());
    }

    @Test
    void aContainerThatLeavesANetworkStopsResolvingThereAtOnce() throws Exception {
        service.networks().create(dev.vessel.network.CreateRequest.named("front").withSubnet("10.31.0.0/24", null));
        service.create(entry().withName("db").withNetwork(new NetworkOptions("front",
                List.of("database"), "10.31.0.20", null, null, null, null, null, null, false)));
        ContainerStore.Container web = service.create(entry().withName("web").withNetwork(new NetworkOptions("front",
                null, "10.31.0.21", null, null, null, null, null, null, false)));
        service.connect("web", "bridge", List.of(), null, null);
        networkHost.calls.clear();

        service.remove("db", false);
        assertEquals(List.of("names " + service.networks().inspect("front").bridge() + " 10.31.0.21 web "
                + web.config().id().substring(0, 12)), networkHost.calls, "db and its alias are gone from front's resolver");

        networkHost.calls.clear();
        service.disconnect("web", "front", false);
        assertEquals(List.of("names " + service.networks().inspect("front").bridge()), networkHost.calls,
                "front's resolver answers no container now");
        networkHost.calls.clear();
        service.remove("web", false);
        assertEquals(List.of(), networkHost.calls, "the default network's resolver answers no container names");
    }

    @Test
    void connectAndDisconnectAStoppedContainer() throws Exception {
        Network back = service.networks().create(dev.vessel.network.CreateRequest.named("back"));
        ContainerStore.Container c = service.create(entry().withName("app"));
        service.connect("app", "back", List.of("api"), null, null);
        ContainerConfig cfg = store.require("app").config();
        assertEquals(List.of(service.networks().inspect("bridge").id(), back.id()), cfg.networking().networks(),
                "eth1 on the new network");
        assertEquals(List.of("api"), service.networks().inspect("back").endpoints().get(c.config().id()).aliases());
        ContainerException twice = assertThrows(ContainerException.class,
                () -> service.connect("app", "back", List.of(), null, null));
        assertEquals(ContainerException.Kind.CONFLICT, twice.kind());
        assertEquals(1, twice.status());
        ContainerException noNet = assertThrows(ContainerException.class,
                () -> service.connect("app", "nosuch", List.of(), null, null));
        assertEquals(ContainerException.Kind.NOT_FOUND, noNet.kind());

        service.disconnect("app", "back", false);
        assertEquals(List.of(service.networks().inspect("bridge").id()), store.require("app").config().networking().networks());
        assertTrue(service.networks().inspect("back").endpoints().isEmpty(), "its address there was given back");
        ContainerException notOn = assertThrows(ContainerException.class, () -> service.disconnect("app", "back", false));
        assertEquals(ContainerException.Kind.CONFLICT, notOn.kind());
        service.disconnect("app", "back", true);

        service.create(entry().withName("alone").withNetwork(new NetworkOptions("none", null, null, null, null, null,
                null, null, null, false)));
        assertEquals(ContainerException.Kind.CONFLICT, assertThrows(ContainerException.class,
                () -> service.connect("alone", "back", List.of(), null, null)).kind());
    }

    @Test
    void publishedPortsFromDashPAndTheImagesExposedPorts() throws Exception {
        assertEquals(List.of(new PortBinding("127.0.0.1", 8080, 80, "tcp"), new PortBinding("", 0, 53, "udp"),
                        new PortBinding("", 0, 443, "tcp")),
                ContainerService.ports(NetworkOptions.publishing(List.of("127.0.0.1:8080:80", "53/udp"), true),
                        List.of("80/tcp", "443/tcp")), "-P adds what -p leaves out");
        assertEquals(List.of(), ContainerService.ports(NetworkOptions.publishing(List.of(), false), List.of("80/tcp")));
        assertInvalid("invalid proto: sctp", entry().withNetwork(NetworkOptions.publishing(List.of("80/sctp"), false)));
        assertInvalid("conflicting options: port publishing and the container type network mode",
                entry().withNetwork(new NetworkOptions("none", null, null, null, null, null, null, null, List.of("80"), false)));
        ContainerStore.Container c = service.create(entry().withName("pub")
                .withNetwork(NetworkOptions.publishing(List.of("8080:80"), false)));
        assertEquals(List.of(new PortBinding("", 8080, 80, "tcp")), c.config().networking().ports());
    }

    @Test
    void aRefusedCreateGivesItsAddressBack() throws Exception {
        service.create(entry().withName("taken"));
        assertThrows(ContainerException.class, () -> service.create(entry().withName("taken")));
        assertEquals(1, service.networks().inspect("bridge").endpoints().size(), "only the first one's address");
    }

    @Test
    void badNetworkOptionsWithDockersAnswers() throws Exception {
        CreateRequest absent = CreateRequest.of("missing/image");
        java.util.function.Function<NetworkOptions, CreateRequest> with = absent::withNetwork;
        assertInvalid("network-scoped alias is supported only for containers in user defined networks",
                with.apply(new NetworkOptions(null, List.of("x"), null, null, null, null, null, null, null, false)));
        assertInvalid("invalid IPv4 address: \"10.0.0.300\"",
                with.apply(new NetworkOptions("front", null, "10.0.0.300", null, null, null, null, null, null, false)));
        assertInvalid("invalid DNS server (Vessel's containers have IPv4 only): \"::1\"",
                with.apply(new NetworkOptions(null, null, null, null, List.of("::1"), null, null, null, null, false)));
        assertInvalid("invalid DNS search domain: a b",
                with.apply(new NetworkOptions(null, null, null, null, null, List.of("a b"), null, null, null, false)));
        assertInvalid("invalid DNS option: a b",
                with.apply(new NetworkOptions(null, null, null, null, null, null, List.of("a b"), null, null, false)));
        assertInvalid("bad format for add-host: \"nocolon\"",
                with.apply(new NetworkOptions(null, null, null, null, null, null, null, List.of("nocolon"), null, false)));
        assertInvalid("invalid IP address in add-host: \"x\"",
                with.apply(new NetworkOptions(null, null, null, null, null, null, null, List.of("h:x"), null, false)));
        assertInvalid("invalid hostname in add-host: \"a b\"",
                with.apply(new NetworkOptions(null, null, null, null, null, null, null, List.of("a b:10.0.0.1"), null, false)));
        assertInvalid("conflicting options: --ip, --mac-address and --network-alias need a network, not --network none",
                with.apply(new NetworkOptions("none", null, "10.0.0.2", null, null, null, null, null, null, false)));
        assertTrue(assertThrowsInvalid(with.apply(new NetworkOptions("host", null, null, null, null, null, null, null, null, false)))
                .startsWith("network host is not supported"));
        assertTrue(assertThrowsInvalid(with.apply(new NetworkOptions("container:x", null, null, null, null, null, null,
                null, null, false))).startsWith("network mode container:x is not supported"));
        assertInvalid("invalid hostname format: a b init=/bin/sh", absent.withProcess(null, null, "a b init=/bin/sh"));
        assertInvalid("invalid hostname format: " + "h".repeat(64), absent.withProcess(null, null, "h".repeat(64)));
        assertTrue(store.list().isEmpty());
    }

    private String assertThrowsInvalid(CreateRequest r) {
        ContainerException e = assertThrows(ContainerException.class, () -> service.create(r, PullProgress.quiet()));
        assertEquals(ContainerException.Kind.INVALID, e.kind());
        return e.getMessage();
    }

    @Test
    void aNameInUseIsAConflict() throws Exception {
        ContainerStore.Container first = service.create(entry().withName("taken"));
        ContainerException e = assertThrows(ContainerException.class, () -> service.create(entry().withName("taken")));
        assertEquals(ContainerException.Kind.CONFLICT, e.kind());
        assertEquals(409, e.httpStatus());
        assertEquals(125, e.status());
        assertEquals("Conflict. The container name \"/taken\" is already in use by container \"" + first.config().id()
                + "\". You have to remove (or rename) that container to be able to reuse that name.", e.getMessage());
        assertEquals(1, store.list().size(), "the second one left nothing behind");
    }

    @Test
    void aMissingImageIsPulledWithProgressOnTheCallersSink() throws Exception {
        ByteArrayOutputStream progress = new ByteArrayOutputStream();
        ContainerStore.Container c = service.create(CreateRequest.of("example.test/team/app:2"),
                new PullProgress(new PrintStream(progress, true, StandardCharsets.UTF_8), PullProgress.Mode.PLAIN));
        assertEquals("Unable to find image 'example.test/team/app:2' locally\npulled example.test/team/app:2\n",
                progress.toString(StandardCharsets.UTF_8));
        assertEquals(List.of("example.test/team/app:2"), pulls);
        assertEquals("example.test/team/app:2", c.config().image());
        assertEquals(withEntrypoint.id().toString(), c.config().imageId());
    }

    @Test
    void withoutPullingAMissingImageIsNotFound() throws Exception {
        ContainerException e = assertThrows(ContainerException.class, () -> service.create(CreateRequest.of("nothere:1")));
        assertEquals(ContainerException.Kind.NOT_FOUND, e.kind());
        assertEquals(404, e.httpStatus());
        assertEquals(125, e.status());
        assertEquals("No such image: nothere:1", e.getMessage());
        assertTrue(pulls.isEmpty());
    }

    @Test
    void aFailedPullIsDockerRunsFailure() {
        ContainerException e = assertThrows(ContainerException.class,
                () -> service.create(CreateRequest.of("missing/thing"), PullProgress.quiet()));
        assertEquals(ContainerException.Kind.FAILED, e.kind());
        assertEquals(125, e.status());
        assertTrue(e.getMessage().contains("manifest unknown"), e.getMessage());
    }

    @Test
    void listShowsRunningOnesUnlessAllAreAskedFor() throws Exception {
        ContainerStore.Container created = service.create(entry().withName("created"));
        ContainerStore.Container running = service.create(entry().withName("running"));
        ContainerStore.Container exited = service.create(entry().withName("exited"));
        running.writeState(running.state().running(ProcessHandle.current().pid(), selfStart(), false));
        exited.writeState(exited.state().running(ProcessHandle.current().pid(), selfStart(), false).exited(3, null));

        assertEquals(List.of("running"), service.list(false).stream().map(ContainerSummary::name).toList());
        List<ContainerSummary> all = service.list(true);
        assertEquals(List.of("exited", "running", "created"), all.stream().map(ContainerSummary::name).toList(), "newest first");
        assertEquals("Exited (3) Less than a second ago", all.get(0).status());
        assertTrue(all.get(1).status().startsWith("Up "), all.get(1).status());
        assertTrue(all.get(1).running());
        assertEquals("Created", all.get(2).status());
        assertEquals(List.of("/bin/echo", "ep", "a"), all.get(2).command());
        assertEquals(created.config().shortId(), all.get(2).shortId());
    }

    @Test
    void lookUpIsByNameOrIdPrefixAndAnUnknownOneIsNotFound() throws Exception {
        ContainerStore.Container c = service.create(entry().withName("findme"));
        assertEquals(c.dir(), service.require(c.config().id().substring(0, 5)).dir());
        assertEquals(c.dir(), service.find("/findme").orElseThrow().dir());
        assertTrue(service.find("nope").isEmpty());
        ContainerException e = assertThrows(ContainerException.class, () -> service.stop("nope", 1));
        assertEquals("No such container: nope", e.getMessage());
        assertEquals(ContainerException.Kind.NOT_FOUND, e.kind());
        assertEquals(1, e.status(), "docker's CLI exits 1 for an unknown container");
    }

    @Test
    void removeDeletesACreatedContainerButNotARunningOneWithoutForce() throws Exception {
        ContainerStore.Container c = service.create(entry().withName("gone"));
        service.remove("gone", false);
        assertFalse(Files.exists(c.dir()));
        assertTrue(service.list(true).isEmpty());

        ContainerStore.Container r = service.create(entry().withName("busy"));
        r.writeState(r.state().running(ProcessHandle.current().pid(), selfStart(), false));
        ContainerException e = assertThrows(ContainerException.class, () -> service.remove("busy", false));
        assertEquals("You cannot remove a running container " + r.config().id()
                + ". Stop the container before attempting removal or force remove", e.getMessage());
        assertEquals(ContainerException.Kind.CONFLICT, e.kind());
        assertEquals(1, e.status());
        assertTrue(Files.exists(r.dir()));
    }

    @Test
    void verbsOnAStoppedContainerSayWhy() throws Exception {
        ContainerStore.Container c = service.create(entry().withName("idle"));
        String id = c.config().id();
        ContainerException kill = assertThrows(ContainerException.class, () -> service.kill("idle", 9));
        assertEquals("Cannot kill container: idle: container " + id + " is not running", kill.getMessage());
        assertEquals(409, kill.httpStatus());
        assertEquals(1, kill.status());
        ContainerException attach = assertThrows(ContainerException.class, () -> service.attach("idle", true, 24, 80));
        assertEquals("You cannot attach to a stopped container, start it first", attach.getMessage());
        assertEquals(1, attach.status());
        ContainerException exec = assertThrows(ContainerException.class,
                () -> service.exec("idle", ExecOptions.of(List.of("true")), null, OutputStream.nullOutputStream(),
                        OutputStream.nullOutputStream()));
        assertEquals("container " + id + " is not running", exec.getMessage());
        assertEquals(1, exec.status());
        assertEquals(ContainerException.Kind.INVALID, assertThrows(ContainerException.class, () -> service.kill("idle", 65)).kind());

        assertEquals(0, service.stop("idle", 10), "stopping a stopped container is its status");
        c.writeState(c.state().running(ProcessHandle.current().pid(), selfStart(), false).exited(7, null));
        assertEquals(7, service.awaitExit(id));
        assertEquals(7, service.stop(id, 10));
    }

    @Test
    void startLaunchesTheSupervisorOnceAndTellsARestart() throws Exception {
        ContainerStore.Container c = service.create(entry().withName("s"));
        service.start("s", true);
        assertEquals(List.of("s wait=true restart=false"), launches);

        c.writeState(c.state().running(ProcessHandle.current().pid(), selfStart(), false));
        service.start("s", false);
        assertEquals(1, launches.size(), "a running container is not started again");

        c.writeState(c.state().exited(0, null));
        service.restart("s", 10);
        assertEquals("s wait=false restart=true", launches.get(1));
    }

    @Test
    void whatHappensToAContainerIsRecordedAsDockersEvents() throws Exception {
        Network back = service.networks().create(dev.vessel.network.CreateRequest.named("back"));
        String id = service.create(entry().withName("ev").withLabels(Map.of("team", "a"))).config().id();
        service.start("ev", false);
        service.stop("ev", 10); // the fake supervisor never ran it: no stop
        service.restart("ev", 10);
        service.connect("ev", "back", List.of(), null, null); // dockerd's connect is an event when it starts
        service.disconnect("ev", "back", false);
        service.remove("ev", false);
        service.networks().remove("back");

        List<Event> seen = events.read(0).events();
        assertEquals(List.of("network create " + back.id(), "container create " + id, "container start " + id,
                        "container start " + id, "container restart " + id, "network disconnect " + back.id(),
                        "container destroy " + id, "network destroy " + back.id()),
                seen.stream().map(e -> e.type() + " " + e.action() + " " + e.actorId()).toList());
        assertEquals(Map.of("image", "test/entry:1", "name", "ev", "team", "a", "img.only", "1", "shared", "image"),
                seen.get(1).attributes(), "the container's image, name and labels (the image's too)");
        assertEquals(Map.of("name", "back", "type", "bridge", "container", id), seen.get(5).attributes());
        assertEquals(Map.of("name", "back", "type", "bridge"), seen.getLast().attributes());
    }

    @Test
    void logOptionsAreTheContainersLogLimits() throws Exception {
        ContainerConfig plain = create(entry());
        assertEquals(ContainerLog.Limits.DEFAULT, plain.logLimits());
        assertEquals(new ContainerLog.Limits(20L << 20, 5), plain.logLimits(), "docker's local driver");
        ContainerStore.Container c = service.create(entry().withName("small")
                .withLogOptions(Map.of("max-size", "512k", "max-file", "2")));
        assertEquals(new ContainerLog.Limits(512L << 10, 2), c.config().logLimits());
        assertEquals(c.config(), service.require("small").config(), "kept in config.json");
    }

    @Test
    void labelsAreTheImagesWithTheRequestsOverThem() throws Exception {
        assertEquals(Map.of("img.only", "1", "shared", "image"), create(entry()).labels());
        Map<String, String> mine = new LinkedHashMap<>();
        mine.put("shared", "mine");
        mine.put("com.docker.compose.project", "");
        ContainerStore.Container c = service.create(entry().withName("labelled").withLabels(mine));
        assertEquals(List.of("img.only", "shared", "com.docker.compose.project"), List.copyOf(c.config().labels().keySet()),
                "the image's first, the request's after them");
        assertEquals("mine", c.config().labels().get("shared"));
        assertEquals("", c.config().labels().get("com.docker.compose.project"));
        assertEquals(c.config(), service.require("labelled").config(), "kept in config.json");
        assertEquals(Map.of("dev.vessel.builtin", "busybox"), create(CreateRequest.of("busybox").withCmd(List.of("true"))).labels(),
                "the built-in image's own");
    }

    @Test
    void inspectShowsDockersDerivedValues() throws Exception {
        ContainerStore.Container c = service.create(entry().withName("look").withResources(0, 3, 0));
        ContainerDetails d = service.inspect("look");
        assertEquals(c.config(), d.config());
        assertEquals("/look", d.name());
        assertEquals(ContainerDetails.ZERO_TIME, d.startedAt());
        assertEquals(ContainerDetails.ZERO_TIME, d.finishedAt());
        assertEquals(0, d.pid());
        assertFalse(d.running());
        assertEquals(3_000_000_000L, d.nanoCpus());
        assertEquals(c.log(), d.logPath());

        c.writeState(c.state().running(ProcessHandle.current().pid(), selfStart(), false));
        ContainerDetails up = service.inspect("look");
        assertTrue(up.running());
        assertEquals(ProcessHandle.current().pid(), up.pid());
        assertFalse(up.startedAt().equals(ContainerDetails.ZERO_TIME));
    }

    @Test
    void theHealthCheckIsTheRequestsOverTheImagesAndInspectShowsItAndTheHealth() throws Exception {
        byte[] rootfs = Tars.tar().dir("bin").file("bin/check", "not a real program").bytes();
        images.importRootfs(new ByteArrayInputStream(rootfs), "test/health:1", List.of("CMD [\"sh\"]",
                "HEALTHCHECK --interval=5s --retries=2 CMD [\"/bin/check\", \"-q\"]"), null);
        HealthConfig image = new HealthConfig(List.of("CMD", "/bin/check", "-q"), 5_000_000_000L, 0, 0, 0, 2);
        CreateRequest r = CreateRequest.of("test/health:1");
        assertEquals(image, create(r).healthcheck(), "the image's HEALTHCHECK");
        assertEquals(new HealthConfig(List.of("CMD", "/bin/check", "-q"), 2_000_000_000L, 0, 0, 0, 2),
                create(r.withHealthcheck(new HealthConfig(null, 2_000_000_000L, 0, 0, 0, 0))).healthcheck(),
                "--health-interval alone keeps the image's command");
        // dockerd merges field by field, NONE too: the image's timing stays, but there is nothing to run.
        assertEquals(new HealthConfig(List.of("NONE"), 5_000_000_000L, 0, 0, 0, 2),
                create(r.withHealthcheck(HealthConfig.NONE)).healthcheck(), "--no-healthcheck");
        assertNull(create(entry()).healthcheck(), "no check anywhere");

        ContainerStore.Container c = service.create(r.withName("checked"));
        ObjectNode json = ContainerInspect.of(service.inspect("checked"));
        assertEquals("{\"Test\":[\"CMD\",\"/bin/check\",\"-q\"],\"Interval\":5000000000,\"Retries\":2}",
                json.at("/Config/Healthcheck").toString(), "docker's fields, zeros left out");
        assertTrue(json.at("/State/Health").isMissingNode(), "no health before it ever ran");
        assertTrue(ContainerInspect.of(service.inspect(create(entry()).id())).at("/Config/Healthcheck").isMissingNode());

        Health h = new Health(Health.UNHEALTHY, 2, List.of(
                new Health.Result("2026-03-01T12:00:05Z", "2026-03-01T12:00:05.1Z", 1, "no\n"),
                new Health.Result("2026-03-01T12:00:10Z", "2026-03-01T12:00:40Z", -1, "Health check exceeded timeout (30s)")));
        c.writeState(c.state().running(ProcessHandle.current().pid(), selfStart(), false).withHealth(h));
        JsonNode state = ContainerInspect.of(service.inspect("checked")).get("State");
        assertEquals("FinishedAt", List.copyOf(iterable(state.fieldNames())).get(state.size() - 2), "Health comes last");
        assertEquals("{\"Status\":\"unhealthy\",\"FailingStreak\":2,\"Log\":["
                + "{\"Start\":\"2026-03-01T12:00:05Z\",\"End\":\"2026-03-01T12:00:05.1Z\",\"ExitCode\":1,\"Output\":\"no\\n\"},"
                + "{\"Start\":\"2026-03-01T12:00:10Z\",\"End\":\"2026-03-01T12:00:40Z\",\"ExitCode\":-1,"
                + "\"Output\":\"Health check exceeded timeout (30s)\"}]}", state.get("Health").toString());
        assertTrue(service.list(false).getFirst().status().endsWith(" (unhealthy)"), service.list(false).getFirst().status());
    }

    private static <T> List<T> iterable(java.util.Iterator<T> it) {
        List<T> out = new ArrayList<>();
        it.forEachRemaining(out::add);
        return out;
    }

    @Test
    void imageUsersNameTheContainerOfAnImage() throws Exception {
        ContainerStore.Container c = service.create(entry().withName("user"));
        var user = service.imageUsers().containerUsing(withEntrypoint.id()).orElseThrow();
        assertEquals(c.config().id(), user.id());
        assertFalse(user.running());
        service.remove("user", false);
        assertTrue(service.imageUsers().containerUsing(withEntrypoint.id()).isEmpty());
    }

    @Test
    void execRunsWithTheContainersEnvironmentUnderTheCallers() throws Exception {
        ContainerConfig cfg = ContainerStoreTest.config("ab" + "0".repeat(62), "x", "2026-01-01T00:00:00Z");
        ExecRequest plain = ContainerService.execRequest(cfg, ExecOptions.of(List.of("env")));
        assertEquals(Map.of("A", "1", "PATH", ContainerService.DEFAULT_PATH, "HOSTNAME", cfg.hostname()), plain.env());
        assertEquals("/", plain.cwd(), "an empty working directory is /");
        assertFalse(plain.tty());
        assertNull(plain.user());

        ExecRequest mine = ContainerService.execRequest(cfg,
                new ExecOptions(List.of("sh"), List.of("A=2", "PATH=/bin"), "/srv", "nobody", true, 30, 100, "vt100"));
        assertEquals("2", mine.env().get("A"));
        assertEquals("/bin", mine.env().get("PATH"));
        assertEquals("vt100", mine.env().get("TERM"));
        assertEquals("/srv", mine.cwd());
        assertEquals("nobody", mine.user());
        assertEquals(30, mine.rows());
        assertEquals(100, mine.cols());
        assertEquals("xterm", ContainerService.execRequest(cfg,
                new ExecOptions(List.of("sh"), List.of(), null, null, true, 0, 0, null)).env().get("TERM"));

        ContainerException bad = assertThrows(ContainerException.class, () -> ContainerService.execRequest(cfg,
                new ExecOptions(List.of("sh"), List.of(), "relative", null, false, 0, 0, null)));
        assertEquals(ContainerException.Kind.INVALID, bad.kind());
        assertThrows(ContainerException.class, () -> ContainerService.execRequest(cfg,
                new ExecOptions(List.of("sh"), List.of("NOVALUE"), null, null, false, 0, 0, null)));
    }

    @Test
    void anExecIsRecordedFromItsCreationToItsEnd() throws Exception {
        ContainerStore.Container c = service.create(entry().withName("box"));
        c.writeState(c.state().running(ProcessHandle.current().pid(), selfStart(), false));
        Files.createDirectories(c.vsockSocket().getParent());
        try (ServerSocketChannel agent = ServerSocketChannel.open(StandardProtocolFamily.UNIX)
                .bind(UnixDomainSocketAddress.of(c.vsockSocket()))) {
            // The guest's agent behind the VM's vsock socket: it runs the command, which exits with 5.
            Thread.ofVirtual().start(() -> {
                try (SocketChannel ch = agent.accept()) {
                    while (true) {
                        ByteBuffer b = ByteBuffer.allocate(1);
                        ch.read(b);
                        if (b.get(0) == '\n') {
                            break; // CONNECT 1024
                        }
                    }
                    ch.write(ByteBuffer.wrap("OK 1\n".getBytes(StandardCharsets.US_ASCII)));
                    AgentProtocol.read(ch, AgentProtocol.CLIENT_TYPES); // hello
                    AgentProtocol.write(ch, AgentProtocol.HELLO_REPLY,
                            AgentProtocol.PROTOCOL_VERSION.getBytes(StandardCharsets.US_ASCII));
                    AgentProtocol.read(ch, AgentProtocol.CLIENT_TYPES); // the command
                    AgentProtocol.write(ch, AgentProtocol.EXIT, AgentProtocol.encodeExit(5));
                    AgentProtocol.read(ch, AgentProtocol.CLIENT_TYPES); // until the client leaves
                } catch (IOException e) {
                    // the client went away
                }
            });
            ExecSession s = service.exec("box", ExecOptions.of(List.of("sh", "-c", "exit 5")), null,
                    OutputStream.nullOutputStream(), OutputStream.nullOutputStream());
            assertEquals(5, s.waitFor());
            s.close();
        }
        List<Event> seen = events.read(0).events();
        assertEquals(List.of("create", "exec_create: sh -c exit 5", "exec_start: sh -c exit 5", "exec_die"),
                seen.stream().map(Event::action).toList(), "exec_die is recorded before waitFor returns");
        String execId = seen.get(1).attribute("execID");
        assertTrue(execId.matches("[0-9a-f]{64}"), execId);
        assertEquals(execId, seen.get(2).attribute("execID"));
        assertEquals(Map.of("execID", execId, "exitCode", "5", "image", "test/entry:1", "name", "box", "img.only", "1",
                "shared", "image"), seen.get(3).attributes());
    }

    @Test
    void renameChangesTheNameAndWhatTheOtherContainersOnItsNetworksResolve() throws Exception {
        Network front = service.networks().create(dev.vessel.network.CreateRequest.named("front").withSubnet("10.32.0.0/24", null));
        ContainerStore.Container db = service.create(entry().withName("db").withNetwork(new NetworkOptions("front",
                List.of("database"), "10.32.0.20", null, null, null, null, null, null, false)));
        service.connect("db", "bridge", List.of(), null, null);
        String id = db.config().id();
        db.writeState(db.state().running(ProcessHandle.current().pid(), selfStart(), false));
        networkHost.calls.clear();

        service.rename("/db", " store ");
        assertEquals("store", store.require(id).config().name(), "a running container too; blanks and the slash go");
        assertTrue(service.find("db").isEmpty(), "the old name is free");
        assertEquals("store", service.networks().inspect("front").endpoints().get(id).containerName());
        assertEquals("store", service.networks().inspect("bridge").endpoints().get(id).containerName(),
                "recorded on the default network too (network inspect shows it)");
        assertEquals(List.of("names " + front.bridge() + " 10.32.0.20 store database " + id.substring(0, 12)),
                networkHost.calls, "front's resolver answers the new name, and not the old one; the default one has none");
        assertEquals(List.of(front.id(), service.networks().inspect("bridge").id()),
                store.require(id).config().networking().networks(), "its networks are kept");
        service.create(entry().withName("db"));
    }

    @Test
    void aRenameThatCannotBeIsDockerdsErrorAndChangesNothing() throws Exception {
        ContainerStore.Container a = service.create(entry().withName("a"));
        ContainerStore.Container b = service.create(entry().withName("b"));
        networkHost.calls.clear();
        ContainerException taken = assertThrows(ContainerException.class, () -> service.rename("a", "b"));
        assertEquals("Error when allocating new name: Conflict. The container name \"/b\" is already in use by container \""
                + b.config().id() + "\". You have to remove (or rename) that container to be able to reuse that name.",
                taken.getMessage());
        assertEquals(409, taken.httpStatus());
        assertEquals(1, taken.status());
        ContainerException invalid = assertThrows(ContainerException.class, () -> service.rename("a", "-x"));
        assertEquals("Error when allocating new name: Invalid container name (/-x), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                invalid.getMessage());
        assertEquals(400, invalid.httpStatus());
        ContainerException same = assertThrows(ContainerException.class, () -> service.rename("a", "/a"));
        assertEquals("Renaming a container with the same name as its current name", same.getMessage());
        assertEquals(400, same.httpStatus());
        ContainerException empty = assertThrows(ContainerException.class, () -> service.rename("a", " / "));
        assertEquals("Neither old nor new names may be empty", empty.getMessage());
        ContainerException none = assertThrows(ContainerException.class, () -> service.rename("nosuch", "c"));
        assertEquals("No such container: nosuch", none.getMessage());
        assertEquals(404, none.httpStatus());

        assertEquals("a", store.require(a.config().id()).config().name());
        assertEquals("b", store.require(b.config().id()).config().name());
        assertEquals("a", service.networks().inspect("bridge").endpoints().get(a.config().id()).containerName());
        assertEquals(List.of(), networkHost.calls);
    }

    @Test
    void aRenameWhoseNetworksCannotFollowPutsTheOldNameBack() throws Exception {
        ContainerStore.Container a = service.create(entry().withName("a"));
        ContainerStore.Container b = service.create(entry().withName("b"));
        IOException broken = new IOException("networks.json is read-only");
        assertEquals(broken, assertThrows(IOException.class, () -> store.rename(a, "c", renamed -> {
            assertEquals("c", ContainerStore.JSON.readValue(a.dir().resolve("config.json").toFile(), ContainerConfig.class).name(),
                    "the follower runs after the write");
            throw broken;
        })));
        assertEquals("a", store.require(a.config().id()).config().name());
        assertTrue(store.find("c").isEmpty());
        assertEquals(ContainerException.Kind.CONFLICT, assertThrows(ContainerException.class,
                () -> store.rename(a, "b", renamed -> { })).kind());
        assertEquals("b", store.require(b.config().id()).config().name());
    }

    @Test
    void aConnectKeepsANameGivenMeanwhile() throws Exception {
        service.networks().create(dev.vessel.network.CreateRequest.named("back"));
        ContainerStore.Container stale = service.create(entry().withName("app"));
        service.rename("app", "api");
        // The config as connect read it before the rename: its change is made to the config on disk.
        store.updateConfig(stale, cfg -> cfg.withNetworking(cfg.networking().withNetworks(List.of())));
        assertEquals("api", store.require(stale.config().id()).config().name());
    }

    @Test
    void pruneRemovesTheContainersThatDoNotRunAsTheFiltersPickThem() throws Exception {
        ContainerStore.Container created = service.create(entry().withName("created").withLabels(Map.of("keep", "no")));
        ContainerStore.Container exited = service.create(entry().withName("exited"));
        exited.writeState(exited.state().running(ProcessHandle.current().pid(), selfStart(), false).exited(0, null));
        ContainerStore.Container running = service.create(entry().withName("running"));
        running.writeState(running.state().running(ProcessHandle.current().pid(), selfStart(), false));
        ContainerStore.Container kept = service.create(entry().withName("kept").withLabels(Map.of("keep", "yes")));
        long disk = dev.vessel.host.DiskUsage.of(created.rwDisk()) + dev.vessel.host.DiskUsage.of(exited.rwDisk());
        assertTrue(disk > 0, "an empty ext4 disk has its metadata blocks");

        ContainerService.PruneResult none = service.prune(PruneFilter.forContainers(Map.of("until", List.of("1h")),
                Instant.now()));
        assertEquals(List.of(), none.deleted(), "all are newer than an hour");
        assertEquals(0, none.reclaimed());

        ContainerService.PruneResult r = service.prune(PruneFilter.forContainers(Map.of("label!", List.of("keep=yes")),
                Instant.now()));
        assertEquals(java.util.Set.of(created.config().id(), exited.config().id()), java.util.Set.copyOf(r.deleted()));
        assertEquals(disk, r.reclaimed(), "what their writable disks took");
        assertEquals(List.of("kept", "running"), service.list(true).stream().map(ContainerSummary::name).sorted().toList());
        assertTrue(service.networks().inspect("bridge").endpoints().keySet().stream()
                .noneMatch(id -> r.deleted().contains(id)), "their addresses were given back");
    }

    @Test
    void theWritableSizeIsWhatTheSparseDiskHasAllocated() throws Exception {
        ContainerStore.Container c = service.create(entry().withName("sized"));
        long before = service.writableSize("sized");
        assertTrue(before > 0 && before < Files.size(c.rwDisk()) / 4, before + " of " + Files.size(c.rwDisk()));
        try (FileChannel ch = FileChannel.open(c.rwDisk(), java.nio.file.StandardOpenOption.WRITE)) {
            // Past the journal, which mkfs puts in the middle of the disk.
            ch.write(ByteBuffer.wrap(new byte[1 << 20]), Files.size(c.rwDisk()) / 8 * 7);
        }
        long after = service.writableSize("sized");
        assertTrue(after >= before + (1 << 20), "a MiB written in a hole: " + before + " then " + after);
    }

    private ContainerConfig create(CreateRequest r) throws Exception {
        return service.create(r).config();
    }

    @Test
    void theRestartPolicyIsCheckedAndKept() throws Exception {
        ContainerStore.Container c = service.create(entry().withName("flaky").withRestartPolicy(new RestartPolicy("on-failure", 4)));
        assertEquals(new RestartPolicy("on-failure", 4), service.require("flaky").config().restartPolicy(), "kept in config.json");
        assertEquals(RestartPolicy.NONE, create(entry()).restartPolicy());
        ContainerException rm = assertThrows(ContainerException.class,
                () -> service.create(entry().withAutoRemove(true).withRestartPolicy(new RestartPolicy("always", 0))));
        assertEquals("can't create 'AutoRemove' container with restart policy", rm.getMessage());
        assertEquals(ContainerException.Kind.INVALID, rm.kind());
        assertEquals("invalid restart policy: maximum retry count cannot be negative", assertThrows(ContainerException.class,
                () -> service.create(entry().withRestartPolicy(new RestartPolicy("on-failure", -1)))).getMessage());
        assertEquals(2, store.list().size(), "nothing kept of the refused ones");

        // A config written before Vessel had restart policies has none.
        Path json = c.dir().resolve("config.json");
        Files.writeString(json, Files.readString(json).replaceAll("(?s),\\s*\"restartPolicy\"\\s*:\\s*\\{[^}]*}", ""));
        assertFalse(Files.readString(json).contains("restartPolicy"));
        assertEquals(RestartPolicy.NONE, service.require("flaky").config().restartPolicy());
    }

    @Test
    void aRestartingContainerCountsAsRunningAndSaysSo() throws Exception {
        ContainerStore.Container c = service.create(entry().withName("again").withRestartPolicy(new RestartPolicy("always", 0)));
        String id = c.config().id();
        c.writeState(c.state().running(ProcessHandle.current().pid(), selfStart(), false).restarting(3));
        assertTrue(c.state().isRunning());
        assertTrue(c.state().isRestarting());
        ContainerSummary s = service.list(false).getFirst();
        assertTrue(s.status().matches("Restarting \\(3\\) (Less than a second|\\d+ seconds?) ago"), s.status());

        ContainerDetails d = service.inspect("again");
        var json = ContainerInspect.of(d);
        assertEquals("restarting", json.at("/State/Status").asText());
        assertTrue(json.at("/State/Running").asBoolean(), "docker's restarting containers count as running");
        assertTrue(json.at("/State/Restarting").asBoolean());
        assertEquals(0, json.at("/State/Pid").asLong(), "no main process while it waits");
        assertEquals(3, json.at("/State/ExitCode").asInt());
        assertEquals("{\"Name\":\"always\",\"MaximumRetryCount\":0}", json.at("/HostConfig/RestartPolicy").toString());

        assertEquals("You cannot attach to a restarting container, wait until it is running",
                assertThrows(ContainerException.class, () -> service.attach("again", false, 0, 0)).getMessage());
        ContainerException exec = assertThrows(ContainerException.class,
                () -> service.createExec("again", new ExecOptions(List.of("true"), List.of(), null, null, false, 0, 0, null)));
        assertEquals("Container " + id + " is restarting, wait until the container is running", exec.getMessage());
        assertEquals(ContainerException.Kind.CONFLICT, exec.kind());
        assertEquals("You cannot remove a restarting container " + id
                        + ". Stop the container before attempting removal or force remove",
                assertThrows(ContainerException.class, () -> service.remove("again", false)).getMessage());
        service.start("again", false);
        assertTrue(launches.isEmpty(), "its supervisor starts it again, not start");

        // Its supervisor gone (the host rebooted while it waited): exited, with the status it last ended with.
        c.writeState(new ContainerState(ContainerState.RESTARTING, Integer.MAX_VALUE, 1, 3, "2026-01-01T00:00:00Z",
                "2026-01-01T00:00:05Z", "", 2, List.of(), false));
        assertFalse(c.state().isRunning());
        assertEquals(3, c.state().observed().exitCode());
        assertEquals(2, c.state().observed().restartCount());
    }

    @Test
    void theServiceStartsWhatTheRestartPolicyBringsBack() throws Exception {
        RestartPolicy always = new RestartPolicy("always", 0);
        RestartPolicy unlessStopped = new RestartPolicy("unless-stopped", 0);
        diedWithTheHost(service.create(entry().withName("always").withRestartPolicy(always)));
        stopped(service.create(entry().withName("always-stopped").withRestartPolicy(always)), true);
        diedWithTheHost(service.create(entry().withName("unless").withRestartPolicy(unlessStopped)));
        stopped(service.create(entry().withName("unless-ended").withRestartPolicy(unlessStopped)), false);
        stopped(service.create(entry().withName("unless-stopped").withRestartPolicy(unlessStopped)), true);
        diedWithTheHost(service.create(entry().withName("on-failure").withRestartPolicy(new RestartPolicy("on-failure", 0))));
        diedWithTheHost(service.create(entry().withName("plain")));
        service.create(entry().withName("never-started").withRestartPolicy(always));
        ContainerStore.Container up = service.create(entry().withName("up").withRestartPolicy(always));
        up.writeState(up.state().running(ProcessHandle.current().pid(), selfStart(), false));
        diedWithTheHost(service.create(entry().withName("broken").withRestartPolicy(always)));

        ContainerService.PolicyStarts starts = service.startByPolicy();
        assertEquals(java.util.Set.of("always", "always-stopped", "unless", "unless-ended"), java.util.Set.copyOf(starts.started()));
        assertEquals(java.util.Set.of("always wait=false restart=true", "always-stopped wait=false restart=true",
                "unless wait=false restart=true", "unless-ended wait=false restart=true"), java.util.Set.copyOf(launches));
        assertEquals(Map.of("broken", "its VM cannot boot"), starts.failed(), "one that fails does not stop the others");
        assertEquals(4, events.read(0).events().stream().filter(e -> e.action().equals("start")).count());
    }

    /** A container whose supervisor died while it ran (the host went down). */
    private static void diedWithTheHost(ContainerStore.Container c) throws IOException {
        c.writeState(c.state().running(Integer.MAX_VALUE, 1, false));
    }

    private static void stopped(ContainerStore.Container c, boolean byUser) throws IOException {
        c.writeState(c.state().running(ProcessHandle.current().pid(), selfStart(), false).exited(byUser ? 143 : 0, null, byUser));
    }

    private static long selfStart() {
        return ProcessHandle.current().info().startInstant().map(Instant::toEpochMilli).orElseThrow();
    }
}
