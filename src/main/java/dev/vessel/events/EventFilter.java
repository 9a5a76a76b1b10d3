package dev.vessel.events;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * dockerd's event filters ({@code docker events --filter K=V}): values of one key are
 * alternatives, keys must all hold.
 *
 * <ul>
 *   <li>{@code type}, {@code scope}: the event's type, its scope ({@code local}), exactly;
 *   <li>{@code event}: the action, exactly ({@code exec_create}, {@code exec_start} and
 *       {@code health_status} also match the actions they begin, such as {@code exec_create: sh});
 *   <li>{@code container}, {@code network} and docker's other object keys: the actor's id or its
 *       {@code name} attribute, whole or by a prefix, whatever the event's type (so a container
 *       filter leaves network events out, as dockerd's does);
 *   <li>{@code image}: the image event's id or name, or the container event's {@code image}, each
 *       also without its tag;
 *   <li>{@code label}: {@code KEY} or {@code KEY=VALUE}, every one among the attributes.
 * </ul>
 */
public final class EventFilter implements Predicate<Event> {
    /** The keys dockerd knows; Vessel has no events of the last ones, so they only leave events out. */
    public static final Set<String> KEYS = Set.of("type", "event", "container", "image", "network", "label", "scope",
            "daemon", "volume", "plugin", "node", "service", "secret", "config");
    private static final List<String> NAMED = List.of("container", "network", "daemon", "volume", "plugin", "node",
            "service", "secret", "config");
    private static final Set<String> PREFIX_ACTIONS = Set.of("exec_create", "exec_start", "health_status");

    public static final EventFilter ALL = new EventFilter(Map.of());

    private final Map<String, List<String>> values;

    private EventFilter(Map<String, List<String>> values) {
        this.values = values;
    }

    /**
     * The filter of these values by key (empty lists are no filter).
     *
     * @throws IllegalArgumentException for a key dockerd does not know, as "invalid filter 'KEY'"
     */
    public static EventFilter of(Map<String, List<String>> values) {
        Map<String, List<String>> v = new LinkedHashMap<>();
        values.forEach((k, list) -> {
            if (!KEYS.contains(k)) {
                throw new IllegalArgumentException("invalid filter '" + k + "'");
            }
            if (!list.isEmpty()) {
                v.put(k, List.copyOf(list));
            }
        });
        return new EventFilter(v);
    }

    @Override
    public boolean test(Event e) {
        List<String> events = values.get("event");
        boolean prefix = events != null && events.stream().anyMatch(PREFIX_ACTIONS::contains);
        if (!(prefix ? fuzzy("event", e.action()) : exact("event", e.action()))
                || !exact("type", e.type()) || !exact("scope", "local") || !image(e) || !labels(e.attributes())) {
            return false;
        }
        for (String key : NAMED) {
            if (!fuzzy(key, e.actorId()) && !fuzzy(key, nullToEmpty(e.attribute("name")))) {
                return false;
            }
        }
        return true;
    }

    private boolean exact(String key, String source) {
        List<String> v = values.get(key);
        return v == null || v.contains(source);
    }

    private boolean fuzzy(String key, String source) {
        List<String> v = values.get(key);
        return v == null || v.stream().anyMatch(source::startsWith);
    }

    private boolean image(Event e) {
        String name = nullToEmpty(e.attribute(e.type().equals(Event.IMAGE) ? "name" : "image"));
        return exact("image", e.actorId()) || exact("image", name)
                || exact("image", familiarName(e.actorId())) || exact("image", familiarName(name));
    }

    private boolean labels(Map<String, String> attributes) {
        for (String want : values.getOrDefault("label", List.of())) {
            int eq = want.indexOf('=');
            String has = attributes.get(eq < 0 ? want : want.substring(0, eq));
            if (has == null || (eq >= 0 && !has.equals(want.substring(eq + 1)))) {
                return false;
            }
        }
        return true;
    }

    /**
     * An image reference's repository as docker shows it, without tag or digest, nor docker.io's
     * {@code docker.io/} and {@code library/} ({@code docker.io/library/busybox:1} is
     * {@code busybox}); anything else as it is.
     */
    static String familiarName(String ref) {
        if (ref.isEmpty() || ref.startsWith("sha256:")) {
            return ref;
        }
        String name = ref;
        int at = name.indexOf('@');
        if (at >= 0) {
            name = name.substring(0, at);
        }
        int colon = name.lastIndexOf(':');
        if (colon > name.lastIndexOf('/')) {
            name = name.substring(0, colon);
        }
        if (name.startsWith("docker.io/")) {
            name = name.substring("docker.io/".length());
            if (name.startsWith("library/") && name.indexOf('/', "library/".length()) < 0) {
                name = name.substring("library/".length());
            }
        }
        return name;
    }

    private static String nullToEmpty(String s) {
        return s == null ? "" : s;
    }
}
