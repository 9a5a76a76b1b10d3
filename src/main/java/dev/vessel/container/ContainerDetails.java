package dev.vessel.container;

import java.nio.file.Path;

/**
 * What {@code docker inspect} shows of a container (the Engine API's container JSON): its
 * config, its observed state, and docker's derived values.
 *
 * @param config how it was created
 * @param state observed: a state that says running while its supervisor is gone reads as exited
 * @param logPath the file its output goes to now ({@link ContainerLog}: older output is in rotated files beside it)
 * @param networks the records of the networks it is on, in its order (each holds its endpoint)
 */
public record ContainerDetails(ContainerConfig config, ContainerState state, Path logPath,
                               java.util.List<dev.vessel.network.Network> networks) {
    public ContainerDetails {
        networks = networks == null ? java.util.List.of() : java.util.List.copyOf(networks);
    }

    /** Docker's zero time, shown for a start or finish that has not happened. */
    public static final String ZERO_TIME = "0001-01-01T00:00:00Z";
    /** Docker's {@code Driver} for the container's root filesystem. */
    public static final String DRIVER = "vessel-microvm";

    /** Running or restarting, as docker's {@code State.Running}. */
    public boolean running() {
        return ContainerState.RUNNING.equals(state.status()) || restarting();
    }

    public boolean restarting() {
        return ContainerState.RESTARTING.equals(state.status());
    }

    /** The supervisor's pid while the main process runs, else 0 (docker's is 0 while restarting too). */
    public long pid() {
        return ContainerState.RUNNING.equals(state.status()) ? state.pid() : 0;
    }

    public String startedAt() {
        return state.startedAt().isEmpty() ? ZERO_TIME : state.startedAt();
    }

    public String finishedAt() {
        return state.finishedAt().isEmpty() ? ZERO_TIME : state.finishedAt();
    }

    /** Docker's name form, with a leading slash. */
    public String name() {
        return "/" + config.name();
    }

    /** The vCPUs as docker's {@code NanoCpus}. */
    public long nanoCpus() {
        return config.cpus() * 1_000_000_000L;
    }
}
