package dev.vessel.api;

import dev.vessel.container.AttachClient;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;

/**
 * What the Engine API knows of the containers it starts. {@code docker run} attaches and waits
 * before it starts, on three connections: those requests wait here for the container's next
 * start. Each start gets a {@link Run} whose exit status is watched from the start on, so a
 * {@code wait} learns it even when {@code --rm} removed the container right after. Also the
 * attached clients of each container, which a {@code resize} reaches, and the last size asked for,
 * which an attach that is still connecting takes.
 */
final class ContainerRuns {
    /**
     * One start of a container.
     *
     * @param exit completes with the main process's exit status (-1 when it could not be learnt)
     * @param supervisor the container's supervisor, which removes an {@code AutoRemove} container and ends
     */
    record Run(CompletableFuture<Integer> exit, Optional<ProcessHandle> supervisor) {}

    /** Someone waiting for the next start: an attach or a wait. */
    record Waiter(String id, boolean attach, CompletableFuture<Run> started) {}

    private final Map<String, List<Waiter>> waiting = new HashMap<>();
    private final Map<String, Run> current = new HashMap<>();
    private final Map<String, Set<AttachClient>> attached = new HashMap<>();
    private final Map<String, int[]> sizes = new HashMap<>();

    /** Waits for container {@code id}'s next start. */
    synchronized Waiter awaitStart(String id, boolean attach) {
        Waiter w = new Waiter(id, attach, new CompletableFuture<>());
        waiting.computeIfAbsent(id, k -> new ArrayList<>()).add(w);
        return w;
    }

    /** A waiter that gave up (its client went away). */
    synchronized void cancel(Waiter w) {
        List<Waiter> l = waiting.get(w.id());
        if (l != null) {
            l.remove(w);
            if (l.isEmpty()) {
                waiting.remove(w.id());
            }
        }
        w.started().cancel(false);
    }

    /** Whether an attach waits for the next start (then the main process must wait for it). */
    synchronized boolean attachWaiting(String id) {
        return waiting.getOrDefault(id, List.of()).stream().anyMatch(Waiter::attach);
    }

    /** The container started: its waiters go on. */
    void started(String id, Run run) {
        List<Waiter> woken;
        synchronized (this) {
            current.put(id, run);
            woken = waiting.remove(id);
        }
        if (woken != null) {
            woken.forEach(w -> w.started().complete(run));
        }
    }

    /** The start failed: its waiters end with {@code failure} (a client's attach and wait must not wait on). */
    void startFailed(String id, Throwable failure) {
        List<Waiter> woken;
        synchronized (this) {
            woken = waiting.remove(id);
        }
        if (woken != null) {
            woken.forEach(w -> w.started().completeExceptionally(failure));
        }
    }

    /** The run the API started last for {@code id}, or null. */
    synchronized Run current(String id) {
        return current.get(id);
    }

    /** The container is gone: what was kept for it goes. */
    synchronized void forget(String id) {
        current.remove(id);
        sizes.remove(id);
    }

    /** Registers a connected attach client; returns the size asked for meanwhile (or null). */
    synchronized int[] attached(String id, AttachClient client) {
        attached.computeIfAbsent(id, k -> new LinkedHashSet<>()).add(client);
        return sizes.get(id);
    }

    synchronized void detached(String id, AttachClient client) {
        Set<AttachClient> s = attached.get(id);
        if (s != null) {
            s.remove(client);
            if (s.isEmpty()) {
                attached.remove(id);
            }
        }
    }

    /** The size an attach that connects now should ask for, or null. */
    synchronized int[] size(String id) {
        return sizes.get(id);
    }

    /** A client's terminal changed size: kept for attaches still connecting, passed to those attached. */
    void resize(String id, int rows, int cols) {
        List<AttachClient> clients;
        synchronized (this) {
            sizes.put(id, new int[] {rows, cols});
            clients = new ArrayList<>(attached.getOrDefault(id, Set.of()));
        }
        for (AttachClient c : clients) {
            try {
                c.resize(rows, cols);
            } catch (IOException e) {
                // that client is going away
            }
        }
    }
}
