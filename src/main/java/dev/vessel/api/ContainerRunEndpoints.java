package dev.vessel.api;

import dev.vessel.container.AttachClient;
import dev.vessel.container.ContainerException;
import dev.vessel.container.ContainerLog;
import dev.vessel.container.ContainerService;
import dev.vessel.container.ContainerStore;
import dev.vessel.container.DetachKeys;
import dev.vessel.container.ShimProtocol;
import dev.vessel.container.SignalNames;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;

/**
 * The endpoints that run a container's VM: start, stop, restart, kill, wait, attach and resize.
 * {@code docker run} sends attach and wait before start, each on its own connection; they wait in
 * {@link ContainerRuns} for the start, which then holds the main process until its attach is there,
 * so the client sees every byte of output.
 */
final class ContainerRunEndpoints {
    private static final Set<String> WAIT_CONDITIONS = Set.of("not-running", "next-exit", "removed");
    /** docker's default grace period before SIGKILL. */
    static final int DEFAULT_STOP_SECONDS = 10;

    private final ContainerService containers;
    private final ContainerRuns runs;

    ContainerRunEndpoints(ContainerService containers, ContainerRuns runs) {
        this.containers = containers;
        this.runs = runs;
    }

    void register(Router router) {
        router.add("POST", "/containers/{id}/start", this::start)
                .add("POST", "/containers/{id}/stop", this::stop)
                .add("POST", "/containers/{id}/restart", this::restart)
                .add("POST", "/containers/{id}/kill", this::kill)
                .add("POST", "/containers/{id}/wait", this::await)
                .add("POST", "/containers/{id}/attach", this::attach)
                .add("POST", "/containers/{id}/resize", this::resize);
    }

    private ContainerStore.Container require(ApiRequest r) throws ApiException, IOException {
        try {
            return containers.require(r.variable("id"));
        } catch (ContainerException e) {
            throw ApiException.of(e);
        }
    }

    private ApiResponse start(ApiRequest r) throws ApiException, IOException {
        ContainerStore.Container c = require(r);
        if (c.state().isRunning()) {
            return new ApiResponse.Empty(304);
        }
        startRun(c.config().id(), () -> containers.start(c.config().id(), true));
        return new ApiResponse.Empty(204);
    }

    /** Starts a container (with its main process held for an attach). */
    @FunctionalInterface
    private interface Starter {
        void start() throws IOException, ContainerException;
    }

    /**
     * Starts the container with {@code starter}, its main process held until the first attach;
     * watches its exit from then on; lets the waiting attaches and waits go on; and, when no
     * attach waits, lets the main process go itself.
     */
    private void startRun(String id, Starter starter) throws ApiException, IOException {
        boolean attachWaiting = runs.attachWaiting(id);
        try {
            starter.start();
        } catch (ContainerException e) {
            runs.startFailed(id, e);
            throw ApiException.of(e);
        } catch (IOException | RuntimeException e) {
            runs.startFailed(id, e);
            throw e;
        }
        ContainerStore.Container c;
        try {
            c = containers.require(id);
        } catch (ContainerException e) {
            throw ApiException.of(e);
        }
        runs.started(id, watch(c));
        if (!attachWaiting) {
            try {
                containers.release(id);
            } catch (ContainerException e) {
                // removed meanwhile
            }
        }
    }

    /** A run whose exit status is learnt from the supervisor, or from the state once it is gone. */
    private ContainerRuns.Run watch(ContainerStore.Container c) throws IOException {
        Optional<ProcessHandle> supervisor = c.state().pid() > 0 ? ProcessHandle.of(c.state().pid()) : Optional.empty();
        CompletableFuture<Integer> exit = new CompletableFuture<>();
        String id = c.config().id();
        Thread.ofVirtual().name("vessel-api-watch-" + c.config().shortId()).start(() -> {
            try {
                exit.complete(ShimProtocol.await(c.shimSocket()));
            } catch (IOException e) {
                exit.complete(lastExitCode(id));
            }
        });
        return new ContainerRuns.Run(exit, supervisor);
    }

    private int lastExitCode(String id) {
        try {
            return containers.find(id).map(k -> {
                try {
                    return k.state().observed().exitCode();
                } catch (IOException e) {
                    return -1;
                }
            }).orElse(-1);
        } catch (IOException | ContainerException e) {
            return -1;
        }
    }

    private ApiResponse stop(ApiRequest r) throws ApiException, IOException {
        ContainerStore.Container c = require(r);
        if (!c.state().isRunning()) {
            return new ApiResponse.Empty(304);
        }
        try {
            containers.stop(c.config().id(), r.intParam("t", DEFAULT_STOP_SECONDS));
        } catch (ContainerException e) {
            throw ApiException.of(e);
        }
        return new ApiResponse.Empty(204);
    }

    private ApiResponse restart(ApiRequest r) throws ApiException, IOException {
        ContainerStore.Container c = require(r);
        int seconds = r.intParam("t", DEFAULT_STOP_SECONDS);
        startRun(c.config().id(), () -> containers.restart(c.config().id(), seconds, true));
        return new ApiResponse.Empty(204);
    }

    private ApiResponse kill(ApiRequest r) throws ApiException, IOException {
        String name = r.param("signal");
        try {
            int signal = name == null || name.isEmpty() ? 9 : SignalNames.parse(name);
            containers.kill(r.variable("id"), signal);
        } catch (ContainerException e) {
            throw ApiException.of(e);
        }
        return new ApiResponse.Empty(204);
    }

    /**
     * {@code wait}: the head goes at once (the CLI starts the container once it has it), the
     * status when the condition is met: {@code not-running} (at once when it is not), {@code
     * next-exit} (a container not running yet is waited for to start), {@code removed} (its exit
     * and then its removal: {@code --rm} removes it as it stops; another's removal of it, seen in
     * the event journal, whether it ran or not).
     */
    private ApiResponse await(ApiRequest r) throws ApiException, IOException {
        String condition = r.param("condition");
        if (condition == null || condition.isEmpty()) {
            condition = "not-running";
        }
        if (!WAIT_CONDITIONS.contains(condition)) {
            throw ApiException.badRequest("invalid condition: \"" + condition + "\"");
        }
        ContainerStore.Container c = require(r);
        String id = c.config().id();
        if (condition.equals("removed") && !c.config().autoRemove()) {
            // Someone else removes it, some time: its destroy in the event journal says when.
            java.time.Instant since = java.time.Instant.now();
            int last = c.state().observed().exitCode();
            return new ApiResponse.Stream(200, "application/json", body -> {
                body.flush(); // the head: the wait is in place
                int status = awaitDestroy(id, since, last);
                body.write(EngineApi.bytes(EngineApi.JSON.createObjectNode().put("StatusCode", status).putNull("Error")));
                body.write('\n');
                body.flush();
            }, true);
        }
        boolean running = c.state().isRunning();
        ContainerRuns.Run latest = running ? runs.current(id) : null;
        // A run that ended while the container runs was restarted by its policy: its supervisor tells the next exit.
        ContainerRuns.Run known = latest != null && latest.exit().isDone() ? null : latest;
        ContainerRuns.Waiter waiter = !running && !condition.equals("not-running") ? runs.awaitStart(id, false) : null;
        String cond = condition;
        return new ApiResponse.Stream(200, "application/json", body -> {
            try {
                body.flush(); // the head: the wait is in place
                int status = waitFor(c, cond, running, known, waiter);
                body.write(EngineApi.bytes(EngineApi.JSON.createObjectNode().put("StatusCode", status).putNull("Error")));
                body.write('\n');
                body.flush();
            } finally {
                if (waiter != null) {
                    runs.cancel(waiter);
                }
            }
        });
    }

    /** Follows the journal (from {@code since}, so a removal meanwhile counts) until the container's destroy; its last exit status. */
    private int awaitDestroy(String id, java.time.Instant since, int last) throws IOException {
        final class Destroyed extends RuntimeException {
            Destroyed() {
                super(null, null, false, false);
            }
        }
        int[] status = {last};
        try {
            containers.events().stream(since, null, e -> e.type().equals(dev.vessel.events.Event.CONTAINER)
                    && e.actorId().equals(id), e -> {
                        if (e.action().equals("die") && e.attribute("exitCode") != null) {
                            status[0] = Integer.parseInt(e.attribute("exitCode"));
                        } else if (e.action().equals("destroy")) {
                            throw new Destroyed();
                        }
                    });
        } catch (Destroyed gone) {
            return status[0];
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("the client left");
        }
        return status[0];
    }

    private int waitFor(ContainerStore.Container c, String condition, boolean running, ContainerRuns.Run known,
                        ContainerRuns.Waiter waiter) throws IOException, ApiException {
        String id = c.config().id();
        ContainerRuns.Run run = known;
        int status;
        if (!running && waiter == null) {
            return c.state().observed().exitCode(); // not-running, and it is not
        }
        try {
            if (waiter != null) {
                run = waiter.started().get();
            }
            status = run != null ? run.exit().get() : containers.awaitExit(id);
            // The supervisor removes an AutoRemove container before it reports the exit, so it is
            // gone by now; its process goes on a while (network names, the JVM's end), which the
            // client need not wait for. Only a removal still under way is waited for.
            if (condition.equals("removed") && c.config().autoRemove() && containers.find(id).isPresent()
                    && run != null && run.supervisor().isPresent()) {
                run.supervisor().get().onExit().get();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        } catch (ExecutionException | java.util.concurrent.CancellationException e) {
            status = lastExitCode(id);
        } catch (ContainerException e) {
            throw ApiException.of(e);
        }
        return status;
    }

    /**
     * {@code attach}: a raw stream with a terminal, else multiplexed frames. A container that is
     * not running yet is waited for (run and start -a attach first). Input goes to the main
     * process; its end closes the process's input when it has no terminal (as {@code StdinOnce}),
     * and ends the attach when it has one. With a terminal the detach keys (ctrl-p ctrl-q unless
     * {@code detachKeys} says otherwise) end the attach and leave the container running.
     */
    private ApiResponse attach(ApiRequest r) throws ApiException, IOException {
        ContainerStore.Container c = require(r);
        String id = c.config().id();
        boolean tty = c.config().tty();
        boolean stdin = r.flag("stdin");
        boolean stdout = r.flag("stdout");
        boolean stderr = r.flag("stderr");
        boolean stream = r.flag("stream");
        boolean logs = r.flag("logs");
        if (!stream && !logs) {
            throw ApiException.badRequest("Bad parameters: you must choose at least one stream");
        }
        DetachKeys keys;
        try {
            String spec = r.param("detachKeys");
            keys = tty ? DetachKeys.parse(spec == null || spec.isEmpty() ? DetachKeys.DEFAULT_SPEC : spec) : DetachKeys.NONE;
        } catch (ContainerException e) {
            throw ApiException.of(e);
        }
        ContainerRuns.Waiter waiter = stream && !c.state().isRunning() ? runs.awaitStart(id, true) : null;
        return new ApiResponse.Upgrade(tty ? ContainerEndpoints.RAW_STREAM : ContainerEndpoints.MULTIPLEXED_STREAM,
                connection -> {
                    OutputStream out = stdout ? StreamFrames.of(connection.output(), tty, StreamFrames.STDOUT)
                            : OutputStream.nullOutputStream();
                    OutputStream err = stderr ? StreamFrames.of(connection.output(), tty, StreamFrames.STDERR)
                            : OutputStream.nullOutputStream();
                    try {
                        if (logs) {
                            replayLogs(id, out, err);
                        }
                        if (stream) {
                            attached(id, waiter, connection, stdin, tty, keys, out, err);
                        }
                    } finally {
                        if (waiter != null) {
                            runs.cancel(waiter);
                        }
                    }
                });
    }

    private void replayLogs(String id, OutputStream out, OutputStream err) throws IOException {
        try {
            for (ContainerLog.Entry e : containers.logs(id).readAll(0).entries()) {
                (e.stream().equals("stderr") ? err : out).write(e.data());
            }
            out.flush();
            err.flush();
        } catch (ContainerException e) {
            // removed meanwhile: nothing to replay
        }
    }

    private void attached(String id, ContainerRuns.Waiter waiter, ApiResponse.Connection connection, boolean stdin,
                          boolean tty, DetachKeys keys, OutputStream out, OutputStream err) throws IOException {
        if (waiter != null) {
            CompletableFuture.anyOf(waiter.started(), connection.closed()).exceptionally(t -> null).join();
            if (!waiter.started().isDone() || waiter.started().isCancelled() || waiter.started().isCompletedExceptionally()) {
                return; // the client went away before the container started, or its start failed (the start says why)
            }
        }
        int[] size = runs.size(id);
        AttachClient client;
        try {
            client = containers.attach(id, stdin, size != null ? size[0] : 0, size != null ? size[1] : 0);
        } catch (ContainerException e) {
            err.write((e.getMessage() + "\n").getBytes(StandardCharsets.UTF_8));
            err.flush();
            return;
        }
        int[] now = runs.attached(id, client);
        if (now != null && now != size) {
            client.resize(now[0], now[1]);
        }
        connection.closed().thenRun(client::detach); // a client that goes away leaves the container running
        try {
            if (client.stdin()) {
                // With a terminal the input's end ends the attach, not the process's input (as dockerd).
                Thread.ofVirtual().name("vessel-api-attach-stdin").start(() -> client.pumpStdin(connection.input(), keys, tty));
            }
            client.copyOutput(out, err);
        } catch (ContainerException e) {
            err.write((e.getMessage() + "\n").getBytes(StandardCharsets.UTF_8));
            err.flush();
        } finally {
            runs.detached(id, client);
            client.close();
        }
    }

    private ApiResponse resize(ApiRequest r) throws ApiException, IOException {
        ContainerStore.Container c = require(r);
        int rows = r.intParam("h", 0);
        int cols = r.intParam("w", 0);
        if (rows <= 0 || cols <= 0 || rows > 0xFFFF || cols > 0xFFFF) {
            throw ApiException.badRequest("invalid terminal size " + rows + "x" + cols);
        }
        runs.resize(c.config().id(), rows, cols);
        return new ApiResponse.Empty(200);
    }
}
