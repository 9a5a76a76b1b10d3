package dev.vessel.api;

import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * One request as the endpoints see it: the path without its version prefix, the path's
 * variables ({@code {id}}, {@code {name}}), the query and the whole body.
 *
 * @param method GET, HEAD, POST, DELETE...
 * @param path decoded, without the {@code /vX.Y} prefix
 * @param version the prefix's version, or {@link ApiVersion#CURRENT} when there was none
 * @param query decoded query parameters, each with every value given
 * @param contentType the Content-Type header, or null
 * @param body the body's bytes (empty when none)
 * @param headers the request's headers, by lower-case name (the last value of each)
 * @param variables the route's path variables, filled in by {@link Router}
 * @param streamedBody the body as it arrives, for the routes that stream theirs ({@code body} is
 *     empty then); null otherwise
 */
public record ApiRequest(String method, String path, ApiVersion version, Map<String, List<String>> query,
                         String contentType, byte[] body, Map<String, String> headers,
                         Map<String, String> variables, InputStream streamedBody) {
    public ApiRequest {
        query = Map.copyOf(query);
        headers = Map.copyOf(headers);
        variables = Map.copyOf(variables);
    }

    ApiRequest withVariables(Map<String, String> v) {
        return new ApiRequest(method, path, version, query, contentType, body, headers, v, streamedBody);
    }

    /** The body as a stream: as it arrives when it is streamed, else the whole body read. */
    public InputStream bodyStream() {
        return streamedBody != null ? streamedBody : new ByteArrayInputStream(body);
    }

    /** A path variable of the route. */
    public String variable(String name) {
        return variables.get(name);
    }

    /** A header's value, or null. */
    public String header(String name) {
        return headers.get(name.toLowerCase(Locale.ROOT));
    }

    /**
     * Whether the client asked to take the connection over ({@code Connection: Upgrade} and an
     * {@code Upgrade} header), as the docker CLI does for attach and exec.
     */
    public boolean wantsUpgrade() {
        String connection = header("connection");
        return connection != null && connection.toLowerCase(Locale.ROOT).contains("upgrade") && header("upgrade") != null;
    }

    /** The query parameter's first value, or null. */
    public String param(String name) {
        List<String> v = query.get(name);
        return v == null || v.isEmpty() ? null : v.getFirst();
    }

    /** A boolean parameter read as dockerd reads one: absent, "", 0, no, false and none are false. */
    public boolean flag(String name) {
        String v = param(name);
        if (v == null) {
            return false;
        }
        return switch (v.strip().toLowerCase(Locale.ROOT)) {
            case "", "0", "no", "false", "none" -> false;
            default -> true;
        };
    }

    /** An integer parameter, or {@code absent}; a value that is no integer is dockerd's 400. */
    public int intParam(String name, int absent) throws ApiException {
        String v = param(name);
        if (v == null || v.isEmpty()) {
            return absent;
        }
        try {
            return Integer.parseInt(v);
        } catch (NumberFormatException e) {
            throw ApiException.badRequest("invalid value for " + name + ": " + v);
        }
    }

    public String bodyText() {
        return new String(body, StandardCharsets.UTF_8);
    }
}
