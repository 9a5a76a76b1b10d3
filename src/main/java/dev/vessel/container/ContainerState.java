package dev.vessel.container;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import dev.vessel.network.ports.PortBinding;

import java.time.Instant;
import java.util.List;
import java.util.Optional;

/**
 * Where a container is in its life, as its supervisor last wrote it (atomically).
 *
 * @param status created, running or exited (docker's names)
 * @param pid the supervisor process while running, else 0
 * @param pidStart the supervisor's start time (epoch ms), telling it from a later process with the same pid
 * @param exitCode the main process's status once exited
 * @param startedAt RFC 3339, or empty
 * @param finishedAt RFC 3339, or empty
 * @param error why the container could not start, or empty
 * @param restartCount how often it was started again
 * @param ports the published ports as bound while running (host ports picked), else empty
 * @param health what its health check found; null without a check (docker shows none then)
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ContainerState(String status, long pid, long pidStart, int exitCode, String startedAt,
                             String finishedAt, String error, int restartCount, List<PortBinding> ports,
                             Health health) {
    public ContainerState {
        ports = ports == null ? List.of() : List.copyOf(ports);
    }

    /** A state without a health check. */
    public ContainerState(String status, long pid, long pidStart, int exitCode, String startedAt, String finishedAt,
                          String error, int restartCount, List<PortBinding> ports) {
        this(status, pid, pidStart, exitCode, startedAt, finishedAt, error, restartCount, ports, null);
    }

    public static final String CREATED = "created";
    public static final String RUNNING = "running";
    public static final String EXITED = "exited";

    public static ContainerState created() {
        return new ContainerState(CREATED, 0, 0, 0, "", "", "", 0, List.of());
    }

    public ContainerState running(long newPid, long newPidStart, boolean restart) {
        return running(newPid, newPidStart, restart, List.of());
    }

    public ContainerState running(long newPid, long newPidStart, boolean restart, List<PortBinding> boundPorts) {
        return new ContainerState(RUNNING, newPid, newPidStart, 0, Instant.now().toString(), "", "",
                restartCount + (restart ? 1 : 0), boundPorts, health);
    }

    /** Its checks stop with it: the health (if any) reads unhealthy from then on, as docker's does. */
    public ContainerState exited(int code, String why) {
        return new ContainerState(EXITED, 0, 0, code, startedAt, Instant.now().toString(), why == null ? "" : why,
                restartCount, List.of(), health == null ? null : health.stopped());
    }

    /** The same state with {@code h} for its health. */
    public ContainerState withHealth(Health h) {
        return new ContainerState(status, pid, pidStart, exitCode, startedAt, finishedAt, error, restartCount, ports, h);
    }

    /**
     * The truth: a state that says running but whose supervisor is gone (killed, host rebooted)
     * is exited, with the status docker gives a killed container (137).
     */
    public ContainerState observed() {
        if (!RUNNING.equals(status) || supervisor().isPresent()) {
            return this;
        }
        return new ContainerState(EXITED, 0, 0, 137, startedAt, finishedAt, "its supervisor died", restartCount, List.of(),
                health == null ? null : health.stopped());
    }

    /** The live supervisor process, if this state is running and it still exists. */
    public Optional<ProcessHandle> supervisor() {
        if (!RUNNING.equals(status) || pid <= 0) {
            return Optional.empty();
        }
        return ProcessHandle.of(pid).filter(p -> p.isAlive() && p.info().startInstant()
                .map(i -> Math.abs(i.toEpochMilli() - pidStart) < 2000).orElse(false));
    }

    @com.fasterxml.jackson.annotation.JsonIgnore
    public boolean isRunning() {
        return observed().status.equals(RUNNING);
    }

    /**
     * docker's status line ({@code docker ps}'s STATUS, the Engine API's {@code Status}): "Up 5
     * seconds", "Up 2 minutes (healthy)", "Exited (0) 3 minutes ago", "Created".
     */
    public String describe(Instant now) {
        ContainerState o = observed();
        return switch (o.status()) {
            case RUNNING -> "Up " + HumanDuration.of(HumanDuration.since(o.startedAt(), now))
                    + (o.health() == null ? "" : " (" + o.health().describe() + ")");
            case EXITED -> "Exited (" + o.exitCode() + ") " + HumanDuration.of(HumanDuration.since(o.finishedAt(), now)) + " ago";
            default -> "Created";
        };
    }
}
