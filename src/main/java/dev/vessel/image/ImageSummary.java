package dev.vessel.image;

import java.time.Instant;

/**
 * One line of {@code vessel images}: a name (or none, for a dangling image or a digest
 * reference) and the image it points at.
 *
 * @param reference the name, or null for a dangling image
 * @param created   from the config, or null when it has no parseable date
 */
public record ImageSummary(Reference reference, Digest manifestDigest, Digest id, Instant created, long size) {
    /** As docker shows it: {@code busybox}, {@code host:5000/a/b}, {@code <none>}. */
    public String repository() {
        return reference == null ? "<none>" : reference.familiarRepository();
    }

    /** The tag, or {@code <none>} for a dangling image or a digest reference. */
    public String tag() {
        return reference == null || reference.tag() == null ? "<none>" : reference.tag();
    }
}
