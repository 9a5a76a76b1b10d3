package dev.vessel.image;

import java.util.List;

/**
 * What {@code rmi} did: the names removed ({@code Untagged: busybox:latest}) and the images
 * deleted ({@code Deleted: sha256:...}), in docker's order.
 */
public record RemoveResult(List<String> untagged, List<Digest> deleted) {
    public RemoveResult {
        untagged = List.copyOf(untagged);
        deleted = List.copyOf(deleted);
    }
}
