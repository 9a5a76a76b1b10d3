package dev.vessel.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * A JSON object of a request body, read strictly: a field of the wrong type is dockerd's 400 in
 * Go's words ("invalid JSON: json: cannot unmarshal number into Go struct field Config.Tty of type
 * bool"), null is the zero value as in Go, and a field Vessel does not implement is refused unless
 * it holds its zero value, so that a client never believes it got what it asked for.
 */
final class JsonBody {
    private final ObjectNode node;
    /** The Go struct's name, for messages. */
    private final String struct;

    private JsonBody(ObjectNode node, String struct) {
        this.node = node;
        this.struct = struct;
    }

    /** The request's body as an object of Go type {@code goType}; dockerd's 400 for anything else. */
    static JsonBody parse(ApiRequest r, String goType) throws ApiException {
        if (r.contentType() != null && !r.contentType().toLowerCase(Locale.ROOT).startsWith("application/json")) {
            throw ApiException.badRequest("unsupported Content-Type header (" + r.contentType() + "): must be 'application/json'");
        }
        if (r.body().length == 0 || r.bodyText().isBlank()) {
            throw ApiException.badRequest("invalid JSON: got EOF while reading request body");
        }
        JsonNode n;
        try {
            n = EngineApi.JSON.readTree(r.body());
        } catch (JsonProcessingException e) {
            throw ApiException.badRequest("invalid JSON: " + e.getOriginalMessage());
        } catch (IOException e) {
            throw ApiException.badRequest("invalid JSON: " + e.getMessage());
        }
        if (!(n instanceof ObjectNode o)) {
            throw ApiException.badRequest("invalid JSON: json: cannot unmarshal " + goKind(n) + " into Go value of type " + goType);
        }
        return new JsonBody(o, goType.substring(goType.lastIndexOf('.') + 1));
    }

    /** The value of a field, or null when absent or null. */
    private JsonNode value(String field) {
        JsonNode v = node.get(field);
        return v == null || v.isNull() ? null : v;
    }

    private ApiException wrongType(String field, JsonNode v, String goType) {
        return ApiException.badRequest("invalid JSON: json: cannot unmarshal " + goKind(v) + " into Go struct field "
                + struct + "." + field + " of type " + goType);
    }

    /** Go's name for a JSON value's kind, as its decoder says it. */
    private static String goKind(JsonNode v) {
        if (v.isTextual()) {
            return "string";
        }
        if (v.isNumber()) {
            return "number";
        }
        if (v.isBoolean()) {
            return "bool";
        }
        return v.isArray() ? "array" : "object";
    }

    /** A string field; null when absent. */
    String string(String field) throws ApiException {
        JsonNode v = value(field);
        if (v == null) {
            return null;
        }
        if (!v.isTextual()) {
            throw wrongType(field, v, "string");
        }
        return v.textValue();
    }

    boolean bool(String field) throws ApiException {
        JsonNode v = value(field);
        if (v == null) {
            return false;
        }
        if (!v.isBoolean()) {
            throw wrongType(field, v, "bool");
        }
        return v.booleanValue();
    }

    long int64(String field) throws ApiException {
        JsonNode v = value(field);
        if (v == null) {
            return 0;
        }
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw wrongType(field, v, "int64");
        }
        return v.longValue();
    }

    /** A {@code []string}; empty when absent. */
    List<String> strings(String field) throws ApiException {
        JsonNode v = value(field);
        if (v == null) {
            return List.of();
        }
        if (!v.isArray()) {
            throw wrongType(field, v, "[]string");
        }
        List<String> out = new ArrayList<>();
        for (JsonNode e : v) {
            if (!e.isTextual()) {
                throw wrongType(field, e, "string");
            }
            out.add(e.textValue());
        }
        return out;
    }

    /** Docker's {@code StrSlice}: a string or an array of strings; null when absent. */
    List<String> strSlice(String field) throws ApiException {
        JsonNode v = value(field);
        if (v == null) {
            return null;
        }
        if (v.isTextual()) {
            return List.of(v.textValue());
        }
        if (!v.isArray()) {
            throw wrongType(field, v, "strslice.StrSlice");
        }
        return strings(field);
    }

    /** A {@code map[string]string}; empty when absent, and a null value is "" as Go decodes it. */
    Map<String, String> stringMap(String field) throws ApiException {
        JsonNode v = value(field);
        if (v == null) {
            return Map.of();
        }
        if (!v.isObject()) {
            throw wrongType(field, v, "map[string]string");
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = v.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (e.getValue().isNull()) {
                out.put(e.getKey(), "");
                continue;
            }
            if (!e.getValue().isTextual()) {
                throw wrongType(field, e.getValue(), "string");
            }
            out.put(e.getKey(), e.getValue().textValue());
        }
        return out;
    }

    /** An array field of Go type {@code goType}; an empty one when absent. */
    JsonNode array(String field, String goType) throws ApiException {
        JsonNode v = value(field);
        if (v == null) {
            return EngineApi.JSON.createArrayNode();
        }
        if (!v.isArray()) {
            throw wrongType(field, v, goType);
        }
        return v;
    }

    /** A nested object of Go type {@code goType}; null when absent. */
    JsonBody object(String field, String goType) throws ApiException {
        JsonNode v = value(field);
        if (v == null) {
            return null;
        }
        if (!(v instanceof ObjectNode o)) {
            throw wrongType(field, v, goType);
        }
        return new JsonBody(o, goType.substring(goType.lastIndexOf('.') + 1));
    }

    /** A {@code map[string]T} of objects (port bindings, endpoints); empty when absent. */
    Map<String, JsonNode> objectMap(String field, String goType) throws ApiException {
        JsonNode v = value(field);
        if (v == null) {
            return Map.of();
        }
        if (!v.isObject()) {
            throw wrongType(field, v, goType);
        }
        Map<String, JsonNode> out = new LinkedHashMap<>();
        v.fields().forEachRemaining(e -> out.put(e.getKey(), e.getValue()));
        return out;
    }

    /** A map entry's value as an array of Go type {@code goType}; an empty one for null. */
    JsonNode entryArray(String key, JsonNode v, String goType) throws ApiException {
        if (v == null || v.isNull()) {
            return EngineApi.JSON.createArrayNode();
        }
        if (!v.isArray()) {
            throw ApiException.badRequest("invalid JSON: json: cannot unmarshal " + goKind(v) + " into Go struct field "
                    + struct + "." + key + " of type " + goType);
        }
        return v;
    }

    /** A JSON value as an object of Go type {@code goType} (an entry of {@link #objectMap}); null for null. */
    JsonBody entry(String key, JsonNode v, String goType) throws ApiException {
        if (v == null || v.isNull()) {
            return null;
        }
        if (!(v instanceof ObjectNode o)) {
            throw ApiException.badRequest("invalid JSON: json: cannot unmarshal " + goKind(v) + " into Go struct field "
                    + struct + "." + key + " of type " + goType);
        }
        return new JsonBody(o, goType.substring(goType.lastIndexOf('.') + 1));
    }

    /**
     * Refuses every field but {@code handled} that holds more than its zero value: Vessel does not
     * implement it, and ignoring it would give the client less than it asked for.
     *
     * @param prefix the object's place in the request, for the message ({@code HostConfig.})
     */
    void rejectOthers(Set<String> handled, String prefix) throws ApiException {
        for (Iterator<Map.Entry<String, JsonNode>> it = node.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (!handled.contains(e.getKey()) && !isZero(e.getValue())) {
                throw ApiException.badRequest(prefix + e.getKey() + " is not supported by Vessel (yet): " + e.getValue());
            }
        }
    }

    /** Go's zero value: null, false, 0, "", and arrays and objects of nothing else. */
    static boolean isZero(JsonNode v) {
        if (v == null || v.isNull()) {
            return true;
        }
        if (v.isBoolean()) {
            return !v.booleanValue();
        }
        if (v.isNumber()) {
            return v.doubleValue() == 0;
        }
        if (v.isTextual()) {
            return v.textValue().isEmpty();
        }
        for (JsonNode child : v) {
            if (!isZero(child)) {
                return false;
            }
        }
        return true;
    }
}
