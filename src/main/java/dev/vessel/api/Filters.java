package dev.vessel.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.vessel.container.PruneFilter;

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
 * filter the endpoint does not know is dockerd's 400 "invalid filter 'NAME'"; filters that are
 * neither form are its bare 400 "invalid filter".
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
            throw malformed();
        }
        if (n == null || n.isNull()) {
            return NONE; // Go reads JSON null as no filters
        }
        if (!n.isObject()) {
            throw malformed();
        }
        Map<String, List<String>> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = n.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            List<String> list = new ArrayList<>();
            JsonNode v = e.getValue();
            if (v.isObject()) {
                for (Iterator<Map.Entry<String, JsonNode>> vs = v.fields(); vs.hasNext(); ) {
                    Map.Entry<String, JsonNode> value = vs.next();
                    if (!value.getValue().isBoolean()) {
                        throw malformed();
                    }
                    if (value.getValue().booleanValue()) {
                        list.add(value.getKey());
                    }
                }
            } else if (v.isArray()) {
                for (JsonNode value : v) {
                    if (!value.isTextual()) {
                        throw malformed();
                    }
                    list.add(value.textValue());
                }
            } else {
                throw malformed();
            }
            if (!list.isEmpty()) {
                out.put(e.getKey(), List.copyOf(list));
            }
        }
        // As dockerd: the JSON is read first, then its names are checked.
        for (Iterator<String> names = n.fieldNames(); names.hasNext(); ) {
            String name = names.next();
            if (!known.contains(name)) {
                throw ApiException.badRequest("invalid filter '" + name + "'");
            }
        }
        return new Filters(out);
    }

    /** dockerd's answer to filters that are not JSON of either form: it names nothing. */
    private static ApiException malformed() {
        return ApiException.badRequest("invalid filter");
    }

    boolean has(String name) {
        return values.containsKey(name);
    }

    /** A filter's values (empty when it was not given). */
    List<String> get(String name) {
        return values.getOrDefault(name, List.of());
    }

    /** Every filter given, by name with its values (for {@link PruneFilter}). */
    Map<String, List<String>> values() {
        return values;
    }

    /**
     * dockerd's label filters: true when filter {@code name} was not given, or {@code labels} has
     * every one of its values ({@link PruneFilter#hasAll}).
     */
    boolean labels(String name, Map<String, String> labels) {
        return PruneFilter.hasAll(values.getOrDefault(name, List.of()), labels);
    }

    /** True when filter {@code name} was not given, or one of its values passes {@code test}. */
    boolean any(String name, java.util.function.Predicate<String> test) {
        List<String> v = values.get(name);
        return v == null || v.stream().anyMatch(test);
    }
}
