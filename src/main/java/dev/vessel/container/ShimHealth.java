package dev.vessel.container;

import dev.vessel.events.EventJournal;

import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Map;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The health check of the container a supervisor runs ({@link Shim}): it checks while the main
 * process runs, keeps each result in the container's state, records each change of status as
 * docker's {@code health_status: STATUS} event, and once closed writes nothing more, so the
 * supervisor's final state is the last word.
 */
final class ShimHealth implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(ShimHealth.class.getName());
    /** No check to run. */
    private static final ShimHealth NONE = new ShimHealth(null, null);

    private final ContainerStore.Container container;
    private final EventJournal events;
    private HealthMonitor monitor;
    private ScheduledExecutorService executor;
    private boolean closed;

    private ShimHealth(ContainerStore.Container container, EventJournal events) {
        this.container = container;
        this.events = events;
    }

    /** Whether the container has a check to run (not none, not {@code NONE}). */
    static boolean checks(ContainerConfig config) {
        return config.healthcheck() != null && !config.healthcheck().probe().isEmpty();
    }

    /** {@code running} with its health starting over when the container has a check, as dockerd's start does. */
    static ContainerState starting(ContainerConfig config, ContainerState running) {
        return checks(config) ? running.withHealth(Health.starting(running.health())) : running;
    }

    /**
     * Starts the container's checks through its agent; nothing to run when it has none, or when
     * its state cannot be read (the container runs on without its checks, said in the log).
     */
    static ShimHealth start(ContainerStore.Container c, EventJournal events, HealthMonitor.Dialer agent) {
        if (!checks(c.config())) {
            return NONE;
        }
        ScheduledExecutorService executor = HealthMonitor.scheduler();
        try {
            ShimHealth h = start(c, events, HealthMonitor.agentRunner(c.config(), agent), HealthMonitor.on(executor),
                    Clock.systemUTC());
            h.executor = executor;
            return h;
        } catch (IOException e) {
            executor.shutdownNow();
            LOG.log(System.Logger.Level.WARNING, "cannot start the container's health check: " + e);
            return NONE;
        }
    }

    /** Starts the container's checks with these runner, scheduler and clock (the state says when it started). */
    static ShimHealth start(ContainerStore.Container c, EventJournal events, HealthMonitor.Runner runner,
                            HealthMonitor.Scheduler scheduler, Clock clock) throws IOException {
        ContainerState s = c.state();
        Instant started;
        try {
            started = Instant.parse(s.startedAt());
        } catch (DateTimeParseException e) {
            started = clock.instant();
        }
        ShimHealth h = new ShimHealth(c, events);
        h.monitor = new HealthMonitor(c.config().healthcheck(), s.health() != null ? s.health() : Health.starting(null),
                started, clock, runner, scheduler, h::keep).start();
        return h;
    }

    /** Writes {@code health} into the container's state while it runs; records a new status. */
    private synchronized void keep(Health health, boolean changed) {
        if (closed) {
            return;
        }
        try {
            ContainerState s = container.state();
            if (ContainerState.RUNNING.equals(s.status())) {
                container.writeState(s.withHealth(health));
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot write the container's health: " + e);
        }
        if (changed) {
            events.emit(container.config().event("health_status: " + health.status(), Map.of()));
        }
    }

    /** Stops the checks (one that runs is killed); returns once nothing more is written. */
    @Override
    public void close() {
        if (monitor == null) {
            return;
        }
        monitor.close();
        if (executor != null) {
            executor.shutdownNow();
            try {
                executor.awaitTermination(10, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        synchronized (this) {
            closed = true; // after a write under way, before any other
        }
    }
}
