package dev.vessel.container;

import dev.vessel.image.HealthConfig;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What to create a container from, shaped like docker's container create (the Engine API's
 * body and {@code docker create}'s flags). Host-side conveniences (an env file, {@code -e NAME}
 * taking the caller's value) are the caller's: {@code env} holds plain {@code NAME=VALUE}.
 *
 * @param image a reference or image id; {@code busybox} is built in
 * @param name the container's name, or null for a generated one
 * @param cmd the command, or empty for the image's
 * @param entrypoint the entrypoint instead of the image's (empty: none, and then the image's
 *     command is not used either, as in docker), or null for the image's
 * @param env {@code NAME=VALUE}, after the image's
 * @param workdir an absolute path, or null for the image's
 * @param user {@code user[:group]}, or null for the image's
 * @param hostname or null for the id's first 12 digits
 * @param tty a pseudo-terminal for the main process
 * @param openStdin keep the main process's stdin open
 * @param autoRemove remove the container when it stops
 * @param memoryBytes the VM's memory, rounded up to whole MiB; 0 for {@link #DEFAULT_MEMORY}
 * @param cpus the VM's vCPUs; 0 for one
 * @param diskBytes the writable disk's size (sparse); 0 for {@link #DEFAULT_DISK}
 * @param logOptions docker's {@code --log-opt}s (the Engine API's {@code HostConfig.LogConfig.Config})
 *     of the {@code local} driver: {@code max-size}, {@code max-file}; empty for its defaults
 * @param network its networks, addresses and resolver; null for the default network
 * @param labels the container's labels ({@code --label}), over the image's; in the order given
 * @param restartPolicy docker's {@code --restart} as given (checked by the container service); null for none
 * @param healthcheck the health check's settings over the image's ({@code --health-*}, {@code
 *     --no-healthcheck}, the Engine API's {@code Config.Healthcheck}), or null for the image's
 */
public record CreateRequest(String image, String name, List<String> cmd, List<String> entrypoint, List<String> env,
                            String workdir, String user, String hostname, boolean tty, boolean openStdin,
                            boolean autoRemove, long memoryBytes, int cpus, long diskBytes,
                            Map<String, String> logOptions, NetworkOptions network, Map<String, String> labels,
                            RestartPolicy restartPolicy, HealthConfig healthcheck) {
    public static final long DEFAULT_MEMORY = 256L << 20;
    public static final long DEFAULT_DISK = 2L << 30;

    public CreateRequest {
        Objects.requireNonNull(image, "image");
        cmd = cmd == null ? List.of() : List.copyOf(cmd);
        entrypoint = entrypoint == null ? null : List.copyOf(entrypoint);
        env = env == null ? List.of() : List.copyOf(env);
        logOptions = logOptions == null ? Map.of() : Map.copyOf(logOptions);
        network = network == null ? NetworkOptions.DEFAULT : network;
        labels = labels == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(labels));
        restartPolicy = restartPolicy == null ? RestartPolicy.NONE : restartPolicy;
    }

    /** The same, with {@code n} for networking. */
    public CreateRequest withNetwork(NetworkOptions n) {
        return new CreateRequest(image, name, cmd, entrypoint, env, workdir, user, hostname, tty, openStdin, autoRemove,
                memoryBytes, cpus, diskBytes, logOptions, n, labels, restartPolicy, healthcheck);
    }

    /** The image's command with defaults for everything else. */
    public static CreateRequest of(String image) {
        return new CreateRequest(image, null, List.of(), null, List.of(), null, null, null, false, false, false, 0, 0, 0,
                Map.of(), null, Map.of(), null, null);
    }

    /** A request without a restart policy or health check settings of its own. */
    public CreateRequest(String image, String name, List<String> cmd, List<String> entrypoint, List<String> env,
                         String workdir, String user, String hostname, boolean tty, boolean openStdin,
                         boolean autoRemove, long memoryBytes, int cpus, long diskBytes,
                         Map<String, String> logOptions, NetworkOptions network, Map<String, String> labels) {
        this(image, name, cmd, entrypoint, env, workdir, user, hostname, tty, openStdin, autoRemove, memoryBytes, cpus,
                diskBytes, logOptions, network, labels, null, null);
    }

    public CreateRequest withName(String n) {
        return new CreateRequest(image, n, cmd, entrypoint, env, workdir, user, hostname, tty, openStdin, autoRemove,
                memoryBytes, cpus, diskBytes, logOptions, network, labels, restartPolicy, healthcheck);
    }

    public CreateRequest withCmd(List<String> c) {
        return new CreateRequest(image, name, c, entrypoint, env, workdir, user, hostname, tty, openStdin, autoRemove,
                memoryBytes, cpus, diskBytes, logOptions, network, labels, restartPolicy, healthcheck);
    }

    public CreateRequest withEntrypoint(List<String> e) {
        return new CreateRequest(image, name, cmd, e, env, workdir, user, hostname, tty, openStdin, autoRemove,
                memoryBytes, cpus, diskBytes, logOptions, network, labels, restartPolicy, healthcheck);
    }

    public CreateRequest withEnv(List<String> e) {
        return new CreateRequest(image, name, cmd, entrypoint, e, workdir, user, hostname, tty, openStdin, autoRemove,
                memoryBytes, cpus, diskBytes, logOptions, network, labels, restartPolicy, healthcheck);
    }

    /** Working directory, user and hostname (each null for the default). */
    public CreateRequest withProcess(String newWorkdir, String newUser, String newHostname) {
        return new CreateRequest(image, name, cmd, entrypoint, env, newWorkdir, newUser, newHostname, tty, openStdin,
                autoRemove, memoryBytes, cpus, diskBytes, logOptions, network, labels, restartPolicy, healthcheck);
    }

    public CreateRequest withStreams(boolean newTty, boolean newOpenStdin) {
        return new CreateRequest(image, name, cmd, entrypoint, env, workdir, user, hostname, newTty, newOpenStdin,
                autoRemove, memoryBytes, cpus, diskBytes, logOptions, network, labels, restartPolicy, healthcheck);
    }

    public CreateRequest withAutoRemove(boolean remove) {
        return new CreateRequest(image, name, cmd, entrypoint, env, workdir, user, hostname, tty, openStdin, remove,
                memoryBytes, cpus, diskBytes, logOptions, network, labels, restartPolicy, healthcheck);
    }

    /** Docker's {@code --log-opt}s ({@code max-size}, {@code max-file}). */
    public CreateRequest withLogOptions(Map<String, String> options) {
        return new CreateRequest(image, name, cmd, entrypoint, env, workdir, user, hostname, tty, openStdin, autoRemove,
                memoryBytes, cpus, diskBytes, options, network, labels, restartPolicy, healthcheck);
    }

    /** The VM's size (each 0 for the default). */
    public CreateRequest withResources(long newMemoryBytes, int newCpus, long newDiskBytes) {
        return new CreateRequest(image, name, cmd, entrypoint, env, workdir, user, hostname, tty, openStdin, autoRemove,
                newMemoryBytes, newCpus, newDiskBytes, logOptions, network, labels, restartPolicy, healthcheck);
    }

    /** Labels over the image's ({@code --label}, the Engine API's {@code Config.Labels}). */
    public CreateRequest withLabels(Map<String, String> l) {
        return new CreateRequest(image, name, cmd, entrypoint, env, workdir, user, hostname, tty, openStdin, autoRemove,
                memoryBytes, cpus, diskBytes, logOptions, network, l, restartPolicy, healthcheck);
    }

    /** Docker's {@code --restart} (the Engine API's {@code HostConfig.RestartPolicy}). */
    public CreateRequest withRestartPolicy(RestartPolicy p) {
        return new CreateRequest(image, name, cmd, entrypoint, env, workdir, user, hostname, tty, openStdin, autoRemove,
                memoryBytes, cpus, diskBytes, logOptions, network, labels, p, healthcheck);
    }

    /** The health check's settings over the image's (null: the image's). */
    public CreateRequest withHealthcheck(HealthConfig h) {
        return new CreateRequest(image, name, cmd, entrypoint, env, workdir, user, hostname, tty, openStdin, autoRemove,
                memoryBytes, cpus, diskBytes, logOptions, network, labels, restartPolicy, h);
    }
}
