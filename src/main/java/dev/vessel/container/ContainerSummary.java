package dev.vessel.container;

import java.util.List;

/**
 * One line of {@code docker ps} (the Engine API's container list entry).
 *
 * @param id 64 hex digits
 * @param name without docker's leading slash
 * @param image the reference the container was created from
 * @param imageId the image's id ({@code sha256:...})
 * @param command the main process's argv
 * @param created RFC 3339
 * @param state the observed state (a dead supervisor reads as exited)
 * @param status docker's status line: "Up 5 seconds", "Exited (0) 3 minutes ago", "Created"
 */
public record ContainerSummary(String id, String name, String image, String imageId, List<String> command,
                               String created, ContainerState state, String status) {
    public ContainerSummary {
        command = List.copyOf(command);
    }

    public String shortId() {
        return id.substring(0, 12);
    }

    /** Running or restarting, as docker counts it. */
    public boolean running() {
        return ContainerState.RUNNING.equals(state.status()) || ContainerState.RESTARTING.equals(state.status());
    }
}
