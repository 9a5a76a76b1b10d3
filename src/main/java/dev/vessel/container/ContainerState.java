package dev.vessel.container;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import dev.vessel.network.ports.PortBinding;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Where a container is in its life, as its supervisor last wrote it (atomically).
 *
 * @param status created, running, restarting (its supervisor waits to start the main process again
 *     under the restart policy) or exited (docker's names)
 * @param pid the supervisor process while running or restarting, else 0
 * @param pidStart the supervisor's start time (epoch ms), telling it from a later process with the same pid
 * @param exitCode the main process's status once exited, or while restarting its last one
 * @param startedAt RFC 3339, or empty
 * @param finishedAt RFC 3339, or empty (the last end while restarting)
 * @param error why the container could not start, or empty
 * @param restartCount how often it was started again
 * @param ports the published ports as bound while running or restarting (host ports picked), else empty
 * @param stoppedByUser it ended because the user stopped or killed it (docker's
 *     HasBeenManuallyStopped): an {@code unless-stopped} container is then not started by the service;
 *     false when absent (a state written before Vessel had restart policies)
 * @param health what its health check found; null without a check (docker shows none then)
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ContainerState(String status, long pid, long pidStart, int exitCode, String startedAt,
                             String finishedAt, String error, int restartCount, List<PortBinding> ports,
                             boolean stoppedByUser, Health health) {
    public ContainerState {
        ports = ports == null ? List.of() : List.copyOf(ports);
    }

    /** A state without a health check. */
    public ContainerState(String status, long pid, long pidStart, int exitCode, String startedAt, String finishedAt,
                          String error, int restartCount, List<PortBinding> ports, boolean stoppedByUser) {
        this(status, pid, pidStart, exitCode, startedAt, finishedAt, error, restartCount, ports, stoppedByUser, null);
    }

    public static final String CREATED = "created";
    public static final String RUNNING = "running";
    public static final String RESTARTING = "restarting";
    public static final String EXITED = "exited";

    public static ContainerState created() {
        return new ContainerState(CREATED, 0, 0, 0, "", "", "", 0, List.of(), false);
    }

    public ContainerState running(long newPid, long newPidStart, boolean restart) {
        return running(newPid, newPidStart, restart, List.of());
    }

    public ContainerState running(long newPid, long newPidStart, boolean restart, List<PortBinding> boundPorts) {
        return new ContainerState(RUNNING, newPid, newPidStart, 0, Instant.now().toString(), "", "",
                restartCount + (restart ? 1 : 0), boundPorts, false, health);
    }

    /**
     * The main process ended with {@code code} and the supervisor (still this state's pid) starts
     * it again after a delay: docker's "restarting", which counts as running.
     */
    public ContainerState restarting(int code) {
        return new ContainerState(RESTARTING, pid, pidStart, code, startedAt, Instant.now().toString(), "",
                restartCount, ports, false, health == null ? null : health.stopped());
    }

    public ContainerState exited(int code, String why) {
        return exited(code, why, false);
    }

    /**
     * @param byUser the user stopped or killed it (see {@link #stoppedByUser}); its checks stop with
     *     it: the health (if any) reads unhealthy from then on, as docker's does
     */
    public ContainerState exited(int code, String why, boolean byUser) {
        return new ContainerState(EXITED, 0, 0, code, startedAt, Instant.now().toString(), why == null ? "" : why,
                restartCount, List.of(), byUser, health == null ? null : health.stopped());
    }

    /** The same state with {@code h} for its health. */
    public ContainerState withHealth(Health h) {
        return new ContainerState(status, pid, pidStart, exitCode, startedAt, finishedAt, error, restartCount, ports,
                stoppedByUser, h);
    }

    /**
     * The truth: a state that says running but whose supervisor is gone (killed, host rebooted)
     * is exited, with the status docker gives a killed container (137); one that said restarting
     * keeps the status its main process last ended with.
     */
    public ContainerState observed() {
        if (!isLive(status) || supervisor().isPresent()) {
            return this;
        }
        return new ContainerState(EXITED, 0, 0, RESTARTING.equals(status) ? exitCode : 137, startedAt, finishedAt,
                "its supervisor died", restartCount, List.of(), stoppedByUser, health == null ? null : health.stopped());
    }

    /** Running or restarting: a supervisor looks after the container. */
    private static boolean isLive(String status) {
        return RUNNING.equals(status) || RESTARTING.equals(status);
    }

    /** The live supervisor process, if this state is running or restarting and it still exists. */
    public Optional<ProcessHandle> supervisor() {
        if (!isLive(status) || pid <= 0) {
            return Optional.empty();
        }
        return ProcessHandle.of(pid).filter(p -> p.isAlive() && p.info().startInstant()
                .map(i -> Math.abs(i.toEpochMilli() - pidStart) < 2000).orElse(false));
    }

    /** Running or restarting, as docker's {@code State.Running} (stop, kill and rm -f go to its supervisor). */
    @com.fasterxml.jackson.annotation.JsonIgnore
    public boolean isRunning() {
        return isLive(observed().status);
    }

    /** Waiting to start its main process again (docker's {@code State.Restarting}). */
    @com.fasterxml.jackson.annotation.JsonIgnore
    public boolean isRestarting() {
        return observed().status.equals(RESTARTING);
    }

    /**
     * docker's status line ({@code docker ps}'s STATUS, the Engine API's {@code Status}): "Up 5
     * seconds", "Up 2 minutes (healthy)", "Restarting (1) 2 seconds ago", "Exited (0) 3 minutes ago", "Created".
     */
    public String describe(Instant now) {
        ContainerState o = observed();
        return switch (o.status()) {
            case RUNNING -> "Up " + HumanDuration.of(HumanDuration.since(o.startedAt(), now))
                    + (o.health() == null ? "" : " (" + o.health().describe() + ")");
            case RESTARTING -> "Restarting (" + o.exitCode() + ") "
                    + HumanDuration.of(HumanDuration.since(o.finishedAt(), now)) + " ago";
            case EXITED -> "Exited (" + o.exitCode() + ") " + HumanDuration.of(HumanDuration.since(o.finishedAt(), now)) + " ago";
            default -> "Created";
        };
    }
}
