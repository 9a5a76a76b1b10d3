package dev.vessel.api;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The {@code filters} query parameter as dockerd reads it: a JSON object from a filter's name to
 * its values, either {@code {"name": {"web": true}}} or the older {@code {"name": ["web"]}}. A
 * filter the endpoint does not know is dockerd's 400 "invalid filter 'NAME'".
 */
final class Filters {
    private final Map<String, List<String>> values;

    private Filters(Map<String, List<String>> values) {
        this.values = values;
    }

    static final Filters NONE = new Filters(Map.of());

    static Filters parse(ApiRequest r, Set<String> known) throws ApiException {
        String text = r.param("filters");
        if (text == null || text.isBlank()) {
            return NONE;
        }
        JsonNode n;
        try {
            n = EngineApi.JSON.readTree(text);
        } catch (IOException e) {
            throw ApiException.badRequest("invalid filter: " + text);
        }
        if (n == null || !n.isObject()) {
            throw ApiException.badRequest("invalid filter: " + text);
        }
        Map<String, List<String>> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!known.contains(e.getKey())) {
                throw ApiException.badRequest("invalid filter '" + e.getKey() + "'");
            }
            List<String> list = new ArrayList<>();
            JsonNode v = e.getValue();
            if (v.isObject()) {
                for (Iterator<Map.Entry<String, JsonNode>> vs = v.fields(); vs.hasNext(); ) {
                    Map.Entry<String, JsonNode> value = vs.next();
                    if (!value.getValue().isBoolean()) {
                        throw ApiException.badRequest("invalid filter: " + text);
                    }
                    if (value.getValue().booleanValue()) {
                        list.add(value.getKey());
                    }
                }
            } else if (v.isArray()) {
                for (JsonNode value : v) {
                    if (!value.isTextual()) {
                        throw ApiException.badRequest("invalid filter: " + text);
                    }
                    list.add(value.textValue());
                }
            } else {
                throw ApiException.badRequest("invalid filter: " + text);
            }
            if (!list.isEmpty()) {
                out.put(e.getKey(), List.copyOf(list));
            }
        }
        return new Filters(out);
    }

    /** Every filter given, with its values. */
    Map<String, List<String>> all() {
        return values;
    }

    boolean has(String name) {
        return values.containsKey(name);
    }

    /** A filter's values (empty when it was not given). */
    List<String> get(String name) {
        return values.getOrDefault(name, List.of());
    }

    /**
     * dockerd's label filters: true when filter {@code name} was not given, or {@code labels} has
     * every one of its values, a {@code KEY} by having the label at all, a {@code KEY=VALUE} by
     * having it with that very value (cut at the first {@code =}, so {@code KEY=} wants an empty one).
     */
    boolean labels(String name, Map<String, String> labels) {
        for (String v : values.getOrDefault(name, List.of())) {
            int eq = v.indexOf('=');
            String has = labels.get(eq < 0 ? v : v.substring(0, eq));
            if (has == null || (eq >= 0 && !has.equals(v.substring(eq + 1)))) {
                return false;
            }
        }
        return true;
    }

    /** True when filter {@code name} was not given, or one of its values passes {@code test}. */
    boolean any(String name, java.util.function.Predicate<String> test) {
        List<String> v = values.get(name);
        return v == null || v.stream().anyMatch(test);
    }
}
