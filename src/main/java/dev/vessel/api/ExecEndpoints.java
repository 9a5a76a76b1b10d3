package dev.vessel.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vessel.container.ContainerException;
import dev.vessel.container.ContainerService;
import dev.vessel.container.ContainerStore;
import dev.vessel.container.ExecOptions;
import dev.vessel.guest.agent.AgentProtocol;
import dev.vessel.guest.agent.ExecSession;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * {@code docker exec}: an exec instance is created, then started on a connection the client takes
 * over (or detached), resized, and inspected for its exit status. Instances live in this service's
 * memory, as dockerd's do; finished ones beyond {@link #KEPT} go, oldest first.
 */
final class ExecEndpoints {
    static final int KEPT = 256;

    /** One exec instance; its run state is written by the thread that runs it. */
    private static final class Instance {
        final String id;
        final String containerId;
        final ExecOptions options;
        final boolean attachStdin;
        final boolean attachStdout;
        final boolean attachStderr;
        final String detachKeys;
        boolean started;
        volatile boolean running;
        volatile Integer exitCode;
        volatile ExecSession session;

        Instance(String id, String containerId, ExecOptions options, boolean attachStdin, boolean attachStdout,
                 boolean attachStderr, String detachKeys) {
            this.id = id;
            this.containerId = containerId;
            this.options = options;
            this.attachStdin = attachStdin;
            this.attachStdout = attachStdout;
            this.attachStderr = attachStderr;
            this.detachKeys = detachKeys;
        }
    }

    private final ContainerService containers;
    private final Map<String, Instance> instances = new LinkedHashMap<>();

    ExecEndpoints(ContainerService containers) {
        this.containers = containers;
    }

    void register(Router router) {
        router.add("POST", "/containers/{id}/exec", this::create)
                .add("POST", "/exec/{id}/start", this::start)
                .add("POST", "/exec/{id}/resize", this::resize)
                .add("GET", "/exec/{id}/json", this::inspect);
    }

    private ContainerStore.Container running(String ref) throws ApiException, IOException {
        ContainerStore.Container c;
        try {
            c = containers.require(ref);
        } catch (ContainerException e) {
            throw ApiException.of(e);
        }
        if (!c.state().isRunning()) {
            throw new ApiException(409, "container " + c.config().id() + " is not running");
        }
        return c;
    }

    private ApiResponse create(ApiRequest r) throws ApiException, IOException {
        JsonBody body = JsonBody.parse(r, "container.ExecOptions");
        if (body.bool("Privileged")) {
            throw ApiException.badRequest("privileged exec is not supported by Vessel: a container is a VM of its own");
        }
        List<String> cmd = body.strSlice("Cmd");
        List<String> env = body.strSlice("Env");
        String user = body.string("User");
        String workdir = body.string("WorkingDir");
        boolean tty = body.bool("Tty");
        int[] size = consoleSize(body);
        // Every field dockerd knows is read above; others are ignored, as dockerd ignores them
        // (docker-py and docker-java send the container's id in the body too).
        if (workdir != null && !workdir.isEmpty() && !workdir.startsWith("/")) {
            throw ApiException.badRequest("the working directory '" + workdir + "' is invalid, it needs to be an absolute path");
        }
        ContainerStore.Container c = running(r.variable("id"));
        if (cmd.isEmpty()) {
            throw ApiException.badRequest("No exec command specified");
        }
        ExecOptions options = new ExecOptions(cmd, env, workdir == null || workdir.isEmpty() ? null : workdir,
                user == null || user.isEmpty() ? null : user, tty, size[0], size[1], null);
        String id;
        try {
            id = containers.createExec(c.config().id(), options);
        } catch (ContainerException e) {
            throw ApiException.of(e);
        }
        Instance instance = new Instance(id, c.config().id(), options, body.bool("AttachStdin"), body.bool("AttachStdout"),
                body.bool("AttachStderr"), body.string("DetachKeys"));
        synchronized (instances) {
            prune();
            instances.put(id, instance);
        }
        return new ApiResponse.Json(201, EngineApi.JSON.createObjectNode().put("Id", id));
    }

    /** {@code ConsoleSize}: [rows, cols], or absent (0, 0). */
    private static int[] consoleSize(JsonBody body) throws ApiException {
        JsonNode size = body.array("ConsoleSize", "[2]uint");
        if (size == null || size.isNull() || size.isEmpty()) {
            return new int[] {0, 0};
        }
        if (size.size() != 2 || !size.get(0).canConvertToInt() || !size.get(1).canConvertToInt()
                || size.get(0).asInt() < 0 || size.get(1).asInt() < 0 || size.get(0).asInt() > 0xFFFF
                || size.get(1).asInt() > 0xFFFF) {
            throw ApiException.badRequest("invalid JSON: ConsoleSize must be two sizes from 0 to 65535");
        }
        return new int[] {size.get(0).asInt(), size.get(1).asInt()};
    }

    /** Drops finished instances beyond {@link #KEPT}, oldest first (caller holds the lock). */
    private void prune() {
        Iterator<Instance> it = instances.values().iterator();
        while (instances.size() >= KEPT && it.hasNext()) {
            Instance i = it.next();
            if (i.exitCode != null || !i.started) {
                it.remove();
            }
        }
    }

    private Instance instance(ApiRequest r) throws ApiException {
        synchronized (instances) {
            Instance i = instances.get(r.variable("id"));
            if (i == null) {
                throw ApiException.notFound("No such exec instance: " + r.variable("id"));
            }
            return i;
        }
    }

    private ApiResponse start(ApiRequest r) throws ApiException, IOException {
        Instance instance = instance(r);
        boolean detach = false;
        int[] size = {0, 0};
        if (r.body().length > 0 && !r.bodyText().isBlank()) {
            JsonBody body = JsonBody.parse(r, "container.ExecStartOptions");
            detach = body.bool("Detach");
            size = consoleSize(body);
        }
        synchronized (instances) {
            if (instance.started) {
                throw new ApiException(409, "Exec command " + instance.id + " is already running");
            }
            instance.started = true;
        }
        running(instance.containerId);
        ExecOptions o = instance.options;
        if (size[0] > 0 && size[1] > 0) {
            o = new ExecOptions(o.cmd(), o.env(), o.workdir(), o.user(), o.tty(), size[0], size[1], o.terminalType());
        }
        ExecOptions options = o;
        if (detach) {
            ExecSession s = open(instance, options, OutputStream.nullOutputStream(), OutputStream.nullOutputStream());
            Thread.ofVirtual().name("vessel-api-exec").start(() -> finish(instance, s, OutputStream.nullOutputStream()));
            return new ApiResponse.Empty(200);
        }
        boolean tty = options.tty();
        return new ApiResponse.Upgrade(tty ? ContainerEndpoints.RAW_STREAM : ContainerEndpoints.MULTIPLEXED_STREAM,
                connection -> {
                    OutputStream out = instance.attachStdout
                            ? StreamFrames.of(connection.output(), tty, StreamFrames.STDOUT) : OutputStream.nullOutputStream();
                    OutputStream err = instance.attachStderr
                            ? StreamFrames.of(connection.output(), tty, StreamFrames.STDERR) : OutputStream.nullOutputStream();
                    ExecSession s;
                    try {
                        s = instance.attachStdin
                                ? containers.startExec(instance.containerId, instance.id, options, connection.input(), out, err)
                                : open(instance, options, out, err);
                    } catch (ApiException | ContainerException e) {
                        err.write(("OCI runtime exec failed: " + e.getMessage() + "\n").getBytes(StandardCharsets.UTF_8));
                        err.flush();
                        instance.exitCode = 126;
                        return;
                    }
                    instance.session = s;
                    instance.running = true;
                    finish(instance, s, err);
                });
    }

    /** Starts the process without input from the client (its input is closed at once). */
    private ExecSession open(Instance instance, ExecOptions options, OutputStream out, OutputStream err)
            throws ApiException, IOException {
        ExecSession s;
        try {
            s = containers.startExec(instance.containerId, instance.id, options, null, out, err);
        } catch (ContainerException e) {
            instance.exitCode = 126;
            throw ApiException.of(e);
        }
        s.closeStdin();
        instance.session = s;
        instance.running = true;
        return s;
    }

    /** Waits for the process; its status is the instance's, docker's 126 or 127 when it could not be run. */
    private static void finish(Instance instance, ExecSession s, OutputStream err) {
        int status;
        try (s) {
            status = s.waitFor();
            if (s.failure().isPresent()) {
                var f = s.failure().get();
                err.write(("OCI runtime exec failed: " + f.message() + "\n").getBytes(StandardCharsets.UTF_8));
                err.flush();
                status = f.errno() == AgentProtocol.ENOENT ? 127 : 126;
            }
        } catch (IOException e) {
            status = 137; // the agent went away: the VM is gone
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            status = 137;
        }
        instance.exitCode = status;
        instance.running = false;
    }

    private ApiResponse resize(ApiRequest r) throws ApiException, IOException {
        Instance instance = instance(r);
        int rows = r.intParam("h", 0);
        int cols = r.intParam("w", 0);
        if (rows <= 0 || cols <= 0 || rows > 0xFFFF || cols > 0xFFFF) {
            throw ApiException.badRequest("invalid terminal size " + rows + "x" + cols);
        }
        ExecSession s = instance.session;
        if (s != null && instance.running) {
            s.resize(rows, cols);
        }
        return new ApiResponse.Empty(200);
    }

    private ApiResponse inspect(ApiRequest r) throws ApiException {
        Instance i = instance(r);
        ObjectNode n = EngineApi.JSON.createObjectNode();
        n.put("ID", i.id);
        n.put("Running", i.running);
        if (i.exitCode == null) {
            n.putNull("ExitCode");
        } else {
            n.put("ExitCode", i.exitCode);
        }
        ObjectNode p = n.putObject("ProcessConfig");
        p.put("tty", i.options.tty());
        p.put("entrypoint", i.options.cmd().getFirst());
        p.putArray("arguments").addAll(i.options.cmd().subList(1, i.options.cmd().size()).stream()
                .map(EngineApi.JSON.getNodeFactory()::textNode).toList());
        p.put("privileged", false);
        p.put("user", i.options.user() == null ? "" : i.options.user());
        n.put("OpenStdin", i.attachStdin);
        n.put("OpenStderr", i.attachStderr);
        n.put("OpenStdout", i.attachStdout);
        n.put("CanRemove", false);
        n.put("ContainerID", i.containerId);
        n.put("DetachKeys", i.detachKeys == null ? "" : i.detachKeys);
        n.put("Pid", 0);
        return ApiResponse.ok(n);
    }
}
