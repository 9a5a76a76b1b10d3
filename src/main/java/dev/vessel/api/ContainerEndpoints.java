package dev.vessel.api;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vessel.container.ContainerDetails;
import dev.vessel.container.ContainerException;
import dev.vessel.container.ContainerInspect;
import dev.vessel.container.ContainerLog;
import dev.vessel.container.ContainerService;
import dev.vessel.container.ContainerStore;
import dev.vessel.container.ContainerSummary;
import dev.vessel.container.Health;
import dev.vessel.container.LogReader;
import dev.vessel.container.PruneFilter;
import dev.vessel.image.Reference;
import dev.vessel.network.Endpoint;
import dev.vessel.network.Network;
import dev.vessel.network.ports.PortBinding;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/** The container endpoints that need no running VM: list, create, inspect, logs, rename, remove, prune. */
final class ContainerEndpoints {
    /** docker's container states, the values of the {@code status} filter. */
    private static final Set<String> STATES = Set.of("created", "restarting", "running", "removing", "paused", "exited", "dead");
    private static final Set<String> LIST_FILTERS = Set.of("name", "status", "label", "ancestor", "id", "health");
    /** The values of the {@code health} filter: a health status, or none for a container without a check. */
    private static final Set<String> HEALTH = Set.of(Health.STARTING, Health.HEALTHY, Health.UNHEALTHY, Health.NONE);

    private final ContainerService containers;
    private final ImageLookup images;

    /** Resolves an {@code ancestor} filter's image to its id, or null when there is no such image. */
    @FunctionalInterface
    interface ImageLookup {
        String idOf(String nameOrId);
    }

    private final ContainerRuns runs;

    ContainerEndpoints(ContainerService containers, ImageLookup images, ContainerRuns runs) {
        this.containers = containers;
        this.images = images;
        this.runs = runs;
    }

    void register(Router router) {
        router.add("GET", "/containers/json", this::list)
                .add("POST", "/containers/create", this::create)
                .add("POST", "/containers/prune", this::prune)
                .add("GET", "/containers/{id}/json", this::inspect)
                .add("DELETE", "/containers/{id}", this::remove)
                .add("GET", "/containers/{id}/logs", this::logs)
                .add("POST", "/containers/{id}/rename", this::rename);
        // Not served yet: said so, rather than a 404 that reads as "no such container".
        String[][] notYet = {{"POST", "pause"}, {"POST", "unpause"}, {"POST", "update"},
                {"GET", "export"}, {"GET", "changes"}};
        for (String[] route : notYet) {
            String what = route[0] + " /containers/{id}/" + route[1];
            router.add(route[0], "/containers/{id}/" + route[1], r -> {
                throw new ApiException(501, what + " is not served by Vessel's Engine API yet");
            });
        }
    }

    private ApiResponse list(ApiRequest r) throws ApiException, IOException {
        Filters f = Filters.parse(r, LIST_FILTERS);
        for (String s : f.get("status")) {
            if (!STATES.contains(s)) {
                throw ApiException.badRequest("invalid filter 'status=" + s + "'");
            }
        }
        for (String h : f.get("health")) {
            if (!HEALTH.contains(h)) {
                throw ApiException.badRequest("Unrecognised filter value for health: " + h);
            }
        }
        int limit = r.intParam("limit", -1);
        // A status filter looks at every container, as it would find none running otherwise.
        boolean all = r.flag("all") || f.has("status") || limit > 0;
        ArrayNode out = EngineApi.JSON.createArrayNode();
        for (ContainerSummary s : containers.list(all)) {
            if (limit > 0 && out.size() >= limit) {
                break;
            }
            ContainerDetails d;
            try {
                d = containers.inspect(s.id());
            } catch (ContainerException e) {
                continue; // removed since the list was read
            }
            if (matches(f, s, d)) {
                out.add(summary(s, d));
            }
        }
        return ApiResponse.ok(out);
    }

    private boolean matches(Filters f, ContainerSummary s, ContainerDetails d) {
        return f.labels("label", d.config().labels())
                && f.any("id", v -> s.id().startsWith(v))
                && f.any("name", v -> nameMatches(v, s.name()))
                && f.any("status", v -> v.equals(d.state().status()))
                && f.any("health", v -> v.equals(d.state().health() == null ? Health.NONE : d.state().health().status()))
                && f.any("ancestor", v -> v.equals(s.image()) || sameImage(v, s) || s.imageId().equals(images.idOf(v)));
    }

    /** docker's name filter: a regular expression found in the name with its leading slash. */
    private static boolean nameMatches(String pattern, String name) {
        try {
            return Pattern.compile(pattern).matcher("/" + name).find();
        } catch (PatternSyntaxException e) {
            return false;
        }
    }

    private static boolean sameImage(String filter, ContainerSummary s) {
        return Reference.isValid(filter) && Reference.isValid(s.image())
                && safeParse(filter).equals(safeParse(s.image()));
    }

    private static Reference safeParse(String s) {
        try {
            return Reference.parse(s);
        } catch (dev.vessel.image.InvalidReferenceException e) {
            return null;
        }
    }

    /** One entry of dockerd's container list ({@code container.Summary}; {@code system df} adds the sizes). */
    static ObjectNode summary(ContainerSummary s, ContainerDetails d) {
        ObjectNode o = EngineApi.JSON.createObjectNode();
        o.put("Id", s.id());
        o.putArray("Names").add("/" + s.name());
        o.put("Image", s.image());
        o.put("ImageID", s.imageId());
        o.put("Command", String.join(" ", s.command()));
        o.put("Created", epochSeconds(s.created()));
        ArrayNode ports = o.putArray("Ports");
        if (s.running()) {
            for (PortBinding b : s.state().ports()) {
                ObjectNode p = ports.addObject();
                p.put("IP", b.hostIp());
                p.put("PrivatePort", b.containerPort());
                p.put("PublicPort", b.hostPort());
                p.put("Type", b.protocol());
            }
        }
        o.set("Labels", EngineApi.JSON.valueToTree(new TreeMap<>(d.config().labels()))); // Go's map order
        o.put("State", d.state().status());
        o.put("Status", s.status());
        o.putObject("HostConfig").put("NetworkMode", d.config().networking().mode());
        ObjectNode nets = o.putObject("NetworkSettings").putObject("Networks");
        for (Network n : d.networks()) {
            Endpoint e = n.endpoints().get(s.id());
            if (e == null) {
                continue;
            }
            ObjectNode en = nets.putObject(n.name());
            en.put("NetworkID", n.id());
            en.put("EndpointID", e.id());
            en.put("Gateway", n.gateway().toString());
            en.put("IPAddress", e.address().toString());
            en.put("IPPrefixLen", n.subnet().prefix());
            en.put("MacAddress", e.macAddress());
        }
        o.putArray("Mounts");
        return o;
    }

    private static long epochSeconds(String rfc3339) {
        try {
            return Instant.parse(rfc3339).getEpochSecond();
        } catch (DateTimeParseException e) {
            return 0;
        }
    }

    private ApiResponse create(ApiRequest r) throws ApiException, IOException {
        var request = ContainerCreateBody.parse(r);
        ContainerStore.Container c;
        try {
            c = containers.create(request);
        } catch (ContainerException e) {
            throw ApiException.of(e);
        }
        ObjectNode o = EngineApi.JSON.createObjectNode();
        o.put("Id", c.config().id());
        o.putArray("Warnings");
        return new ApiResponse.Json(201, o);
    }

    private ApiResponse inspect(ApiRequest r) throws ApiException, IOException {
        try {
            return ApiResponse.ok(ContainerInspect.of(containers.inspect(r.variable("id"))));
        } catch (ContainerException e) {
            throw ApiException.of(e);
        }
    }

    /**
     * {@code docker logs}: the container's output as dockerd sends it, raw for a container with a
     * terminal, else in frames of an 8-byte header (stream 1 or 2, the length) and the bytes;
     * with {@code follow}, streamed on until the container is not running or the client leaves.
     */
    private ApiResponse logs(ApiRequest r) throws ApiException, IOException {
        boolean stdout = r.flag("stdout");
        boolean stderr = r.flag("stderr");
        if (!stdout && !stderr) {
            throw ApiException.badRequest("Bad parameters: you must choose at least one stream");
        }
        for (String time : new String[] {"since", "until"}) {
            String v = r.param(time);
            if (v != null && !v.isEmpty() && !v.equals("0")) {
                throw ApiException.badRequest("logs --" + time + " is not supported by Vessel yet");
            }
        }
        String tailText = r.param("tail");
        int tail;
        try {
            tail = tailText == null || tailText.isEmpty() || tailText.equals("all") ? -1 : Math.max(-1, Integer.parseInt(tailText));
        } catch (NumberFormatException e) {
            throw ApiException.badRequest("invalid value for tail: " + tailText);
        }
        boolean tty;
        LogReader logs;
        try {
            tty = containers.require(r.variable("id")).config().tty();
            logs = containers.logs(r.variable("id"));
        } catch (ContainerException e) {
            throw ApiException.of(e);
        }
        boolean timestamps = r.flag("timestamps");
        boolean follow = r.flag("follow");
        return new ApiResponse.Stream(200, tty ? RAW_STREAM : MULTIPLEXED_STREAM, body -> {
            OutputStream outFrames = StreamFrames.of(body, tty, StreamFrames.STDOUT);
            OutputStream errFrames = StreamFrames.of(body, tty, StreamFrames.STDERR);
            LogReader.Sink sink = e -> {
                boolean err = e.stream().equals("stderr");
                if (err ? stderr : stdout) {
                    // The timestamp and the data in one frame, as dockerd sends them.
                    byte[] prefix = (timestamps ? e.time() + " " : "").getBytes(StandardCharsets.UTF_8);
                    byte[] frame = java.util.Arrays.copyOf(prefix, prefix.length + e.data().length);
                    System.arraycopy(e.data(), 0, frame, prefix.length, e.data().length);
                    (err ? errFrames : outFrames).write(frame);
                }
            };
            ContainerLog.Chunk now = logs.readAll(0);
            for (ContainerLog.Entry e : ContainerLog.tail(now.entries(), tail)) {
                sink.accept(e);
            }
            body.flush();
            if (follow) {
                try {
                    logs.follow(now.next(), e -> {
                        sink.accept(e);
                        body.flush();
                    });
                } catch (InterruptedException | java.nio.channels.ClosedByInterruptException e) {
                    Thread.currentThread().interrupt(); // the client left: so does the follower
                }
            }
        }, follow);
    }

    static final String RAW_STREAM = "application/vnd.docker.raw-stream";
    static final String MULTIPLEXED_STREAM = "application/vnd.docker.multiplexed-stream";

    /** {@code docker rename}: 204, or dockerd's 400, 404 and 409 with its messages; nothing changes then. */
    private ApiResponse rename(ApiRequest r) throws ApiException, IOException {
        try {
            containers.rename(r.variable("id"), r.param("name"));
        } catch (ContainerException e) {
            throw ApiException.of(e);
        }
        return new ApiResponse.Empty(204);
    }

    /**
     * {@code docker container prune}: removes the containers that are not running, as the
     * {@code until}, {@code label} and {@code label!} filters pick them; answers their ids (null
     * for none, as Go encodes an empty list) and what their writable disks took.
     */
    private ApiResponse prune(ApiRequest r) throws ApiException, IOException {
        Filters f = Filters.parse(r, PruneFilter.CONTAINER_KEYS);
        PruneFilter filter;
        try {
            filter = PruneFilter.forContainers(f.values(), Instant.now());
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage());
        }
        ContainerService.PruneResult result = containers.prune(filter);
        result.deleted().forEach(runs::forget);
        ObjectNode o = EngineApi.JSON.createObjectNode();
        if (result.deleted().isEmpty()) {
            o.putNull("ContainersDeleted");
        } else {
            ArrayNode ids = o.putArray("ContainersDeleted");
            result.deleted().forEach(ids::add);
        }
        o.put("SpaceReclaimed", result.reclaimed());
        return ApiResponse.ok(o);
    }

    private ApiResponse remove(ApiRequest r) throws ApiException, IOException {
        if (r.flag("link")) {
            throw ApiException.badRequest("links are not supported by Vessel");
        }
        try {
            String id = containers.require(r.variable("id")).config().id();
            containers.remove(id, r.flag("force"));
            runs.forget(id);
        } catch (ContainerException e) {
            throw ApiException.of(e);
        }
        return new ApiResponse.Empty(204);
    }
}
