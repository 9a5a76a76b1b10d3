package dev.vessel.container;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import dev.vessel.events.Event;
import dev.vessel.image.HealthConfig;

import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * How a container was created (docker create/run flags merged with the image's config); fixed
 * for the container's life but for its name (rename) and its networks (connect, disconnect).
 *
 * @param id 64 hex digits
 * @param name unique, docker's rules ({@code [a-zA-Z0-9][a-zA-Z0-9_.-]*})
 * @param image the reference the user gave
 * @param imageId the image's config digest ({@code sha256:...})
 * @param created RFC 3339 time
 * @param path argv[0] of the main process
 * @param args the rest of argv
 * @param env {@code NAME=VALUE}, image's first, then the user's
 * @param workingDir absolute, or empty for /
 * @param user docker's --user, or empty for root
 * @param hostname the guest's hostname
 * @param tty -t
 * @param openStdin -i
 * @param autoRemove --rm
 * @param memoryBytes guest RAM
 * @param cpus vCPUs
 * @param diskBytes size of the writable disk
 * @param logLimits how much output is kept ({@code --log-opt}); docker's local driver defaults when
 *     absent (a container created before it was recorded)
 * @param networking its networks and resolver; loopback only when absent (created before Vessel had networks)
 * @param labels the image's labels overlaid by the user's, in that order; none when absent (a
 *     container created before Vessel kept labels)
 * @param restartPolicy what its supervisor does when the main process ends ({@code --restart});
 *     {@code no} when absent (a container created before Vessel had restart policies)
 * @param healthcheck the user's health check settings merged over the image's, as docker keeps
 *     them; null when neither has one (and for a container created before Vessel had health checks)
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record ContainerConfig(String id, String name, String image, String imageId, String created,
                              String path, List<String> args, List<String> env, String workingDir, String user,
                              String hostname, boolean tty, boolean openStdin, boolean autoRemove,
                              long memoryBytes, int cpus, long diskBytes, ContainerLog.Limits logLimits,
                              ContainerNetworking networking, Map<String, String> labels,
                              RestartPolicy restartPolicy, HealthConfig healthcheck) {
    public ContainerConfig {
        networking = networking == null ? ContainerNetworking.NONE : networking;
        args = List.copyOf(args);
        env = List.copyOf(env);
        logLimits = logLimits == null ? ContainerLog.Limits.DEFAULT : logLimits;
        labels = labels == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(labels));
        restartPolicy = restartPolicy == null ? RestartPolicy.NONE : restartPolicy;
    }

    /** A container without a restart policy or health check settings. */
    public ContainerConfig(String id, String name, String image, String imageId, String created, String path,
                           List<String> args, List<String> env, String workingDir, String user, String hostname,
                           boolean tty, boolean openStdin, boolean autoRemove, long memoryBytes, int cpus,
                           long diskBytes, ContainerLog.Limits logLimits, ContainerNetworking networking,
                           Map<String, String> labels) {
        this(id, name, image, imageId, created, path, args, env, workingDir, user, hostname, tty, openStdin, autoRemove,
                memoryBytes, cpus, diskBytes, logLimits, networking, labels, null, null);
    }

    /** The same container on other networks (network connect and disconnect). */
    public ContainerConfig withNetworking(ContainerNetworking n) {
        return new ContainerConfig(id, name, image, imageId, created, path, args, env, workingDir, user, hostname, tty,
                openStdin, autoRemove, memoryBytes, cpus, diskBytes, logLimits, n, labels, restartPolicy, healthcheck);
    }

    /** The same container under another name (rename). */
    public ContainerConfig withName(String newName) {
        return new ContainerConfig(id, newName, image, imageId, created, path, args, env, workingDir, user, hostname, tty,
                openStdin, autoRemove, memoryBytes, cpus, diskBytes, logLimits, networking, labels, restartPolicy, healthcheck);
    }

    public String shortId() {
        return id.substring(0, 12);
    }

    /**
     * Docker's event of this container: {@code attributes}, then its labels, its image and its
     * name over them, as dockerd merges them.
     */
    public Event event(String action, Map<String, String> attributes) {
        Map<String, String> a = new HashMap<>(attributes);
        a.putAll(labels);
        a.put("image", image);
        a.put("name", name);
        return Event.of(Event.CONTAINER, action, id, a);
    }

    /** The main process's argv. */
    public List<String> argv() {
        java.util.ArrayList<String> a = new java.util.ArrayList<>();
        a.add(path);
        a.addAll(args);
        return a;
    }
}
