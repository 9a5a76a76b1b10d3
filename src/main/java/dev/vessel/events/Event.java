package dev.vessel.events;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.UncheckedIOException;
import java.time.Instant;
import java.util.Collections;
import java.util.Iterator;
import java.util.Map;
import java.util.TreeMap;

/**
 * One event as dockerd reports it ({@code events.Message}): what happened ({@code action}) to
 * which object ({@code type}, the actor's id and attributes), and when.
 *
 * @param type {@link #CONTAINER}, {@link #IMAGE} or {@link #NETWORK}
 * @param action docker's action: {@code create}, {@code start}, {@code die}, {@code exec_create: sh -c x}...
 * @param actorId the container's or network's id, or the image's id or reference
 * @param attributes the actor's attributes ({@code name}, {@code image}, {@code exitCode}, labels...), in Go's
 *     map order (sorted), as dockerd sends them
 * @param timeNano nanoseconds since the epoch; 0 until the journal records the event
 */
public record Event(String type, String action, String actorId, Map<String, String> attributes, long timeNano) {
    public static final String CONTAINER = "container";
    public static final String IMAGE = "image";
    public static final String NETWORK = "network";

    private static final ObjectMapper JSON = new ObjectMapper();

    public Event {
        TreeMap<String, String> sorted = new TreeMap<>();
        attributes.forEach((k, v) -> {
            if (k != null && v != null) {
                sorted.put(k, v);
            }
        });
        attributes = Collections.unmodifiableMap(sorted);
    }

    /** An event not recorded yet: the journal gives it its time. */
    public static Event of(String type, String action, String actorId, Map<String, String> attributes) {
        return new Event(type, action, actorId, attributes, 0);
    }

    /** This event at {@code timeNano}. */
    public Event at(long timeNano) {
        return new Event(type, action, actorId, attributes, timeNano);
    }

    public Instant time() {
        return Instant.ofEpochSecond(0, timeNano);
    }

    /** An attribute's value, or null. */
    public String attribute(String name) {
        return attributes.get(name);
    }

    /**
     * dockerd's JSON of the event, with the fields API 1.21 clients read ({@code status},
     * {@code id}, {@code from}) that dockerd still fills for containers and images.
     */
    public ObjectNode toJson() {
        ObjectNode o = JSON.createObjectNode();
        if (type.equals(CONTAINER) || type.equals(IMAGE)) {
            o.put("status", action);
            o.put("id", actorId);
            String image = attributes.get("image");
            if (type.equals(CONTAINER) && image != null && !image.isEmpty()) {
                o.put("from", image);
            }
        }
        o.put("Type", type);
        o.put("Action", action);
        ObjectNode actor = o.putObject("Actor");
        actor.put("ID", actorId);
        ObjectNode attrs = actor.putObject("Attributes");
        attributes.forEach(attrs::put);
        o.put("scope", "local");
        o.put("time", Math.floorDiv(timeNano, 1_000_000_000L));
        o.put("timeNano", timeNano);
        return o;
    }

    /** The event as one line of JSON, without the line's end. */
    public String toJsonLine() {
        try {
            return JSON.writeValueAsString(toJson());
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }

    /** An event from its JSON line; null for a line that is not one (torn by a writer that was killed, say). */
    public static Event parse(String line) {
        JsonNode n;
        try {
            n = JSON.readTree(line);
        } catch (JsonProcessingException e) {
            return null;
        }
        if (n == null || !n.path("Type").isTextual() || !n.path("Action").isTextual()
                || !n.path("Actor").path("ID").isTextual() || !n.path("timeNano").canConvertToLong()) {
            return null;
        }
        Map<String, String> attributes = new TreeMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = n.path("Actor").path("Attributes").fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> a = it.next();
            if (a.getValue().isTextual()) {
                attributes.put(a.getKey(), a.getValue().textValue());
            }
        }
        return new Event(n.get("Type").textValue(), n.get("Action").textValue(), n.at("/Actor/ID").textValue(), attributes,
                n.get("timeNano").longValue());
    }
}
