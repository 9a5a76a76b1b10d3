package dev.vessel.container;

import dev.vessel.image.Image;

import java.time.Instant;
import java.time.ZoneId;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The filters of docker's prune verbs ({@code container prune}, {@code image prune}), read as
 * dockerd reads them: {@code until} (created before that time), {@code label} (has every one of
 * them) and {@code label!} (spared when it has every one of them). A label filter is {@code KEY}
 * (has the label) or {@code KEY=VALUE} (has it with that value).
 *
 * @param until null for no bound
 */
public record PruneFilter(Instant until, List<String> labels, List<String> notLabels) {
    public static final Set<String> CONTAINER_KEYS = Set.of("label", "label!", "until");
    public static final Set<String> IMAGE_KEYS = Set.of("dangling", "label", "label!", "until");
    public static final PruneFilter NONE = new PruneFilter(null, List.of(), List.of());

    public PruneFilter {
        labels = List.copyOf(labels);
        notLabels = List.copyOf(notLabels);
    }

    /**
     * {@code container prune}'s filters, by name with their values.
     *
     * @throws IllegalArgumentException with dockerd's message for an unknown filter or a bad time
     */
    public static PruneFilter forContainers(Map<String, List<String>> filters, Instant now) {
        check(filters, CONTAINER_KEYS);
        return new PruneFilter(until(filters, now, ""), get(filters, "label"), get(filters, "label!"));
    }

    /** {@code image prune}'s filters; {@code dangling} is read by {@link #danglingOnly}. */
    public static PruneFilter forImages(Map<String, List<String>> filters, Instant now) {
        check(filters, IMAGE_KEYS);
        danglingOnly(filters);
        return new PruneFilter(until(filters, now, "invalid value for 'until' filter: "), get(filters, "label"),
                get(filters, "label!"));
    }

    /**
     * Whether {@code image prune} removes dangling images only ({@code dangling=true}, the
     * default) or every unused one ({@code dangling=false}, {@code -a}).
     */
    public static boolean danglingOnly(Map<String, List<String>> filters) {
        List<String> v = filters.get("dangling");
        if (v == null) {
            return true;
        }
        boolean yes = v.contains("true") || v.contains("1");
        boolean no = v.contains("false") || v.contains("0");
        if (yes == no) {
            throw new IllegalArgumentException("invalid filter 'dangling=[" + String.join(" ", v) + "]'");
        }
        return yes;
    }

    /** Whether something created at {@code created} (null: unknown) with {@code labels} is pruned. */
    public boolean matches(Instant created, Map<String, String> labels) {
        if (until != null && (created == null || created.isAfter(until))) {
            return false;
        }
        return hasAll(this.labels, labels) && (notLabels.isEmpty() || !hasAll(notLabels, labels));
    }

    /** Whether {@code image prune} takes {@code image}: by its config's date and labels. */
    public boolean matches(Image image) {
        return matches(image.config().createdAt().orElse(null), image.config().labels());
    }

    /**
     * dockerd's label match: {@code labels} has every one of {@code wanted}, a {@code KEY} by
     * having the label at all, a {@code KEY=VALUE} by having it with that very value (cut at the
     * first {@code =}, so {@code KEY=} wants an empty one). True when nothing is wanted.
     */
    public static boolean hasAll(List<String> wanted, Map<String, String> labels) {
        for (String v : wanted) {
            int eq = v.indexOf('=');
            String has = labels.get(eq < 0 ? v : v.substring(0, eq));
            if (has == null || (eq >= 0 && !has.equals(v.substring(eq + 1)))) {
                return false;
            }
        }
        return true;
    }

    private static void check(Map<String, List<String>> filters, Set<String> known) {
        for (String k : filters.keySet()) {
            if (!known.contains(k)) {
                throw new IllegalArgumentException("invalid filter '" + k + "'");
            }
        }
    }

    private static List<String> get(Map<String, List<String>> filters, String key) {
        return filters.getOrDefault(key, List.of());
    }

    private static Instant until(Map<String, List<String>> filters, Instant now, String messagePrefix) {
        List<String> v = get(filters, "until");
        if (v.isEmpty()) {
            return null;
        }
        if (v.size() > 1) {
            throw new IllegalArgumentException("more than one until filter specified");
        }
        try {
            return DockerTimestamp.parse(v.getFirst(), now, ZoneId.systemDefault());
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(messagePrefix + e.getMessage(), e);
        }
    }
}
