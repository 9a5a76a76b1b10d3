package dev.vessel.api;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * What an endpoint answers. Each kind is written by {@link ApiServer}; a whole body for now.
 * Streamed answers (chunked progress, logs, {@code wait}) and the {@code 101 UPGRADED} hijack of
 * attach and exec will be further kinds here, which the server writes chunk by chunk or by handing
 * the connection over.
 */
public sealed interface ApiResponse {
    int status();

    /** A JSON body ({@code application/json}). */
    record Json(int status, JsonNode body) implements ApiResponse {}

    /** A text body, such as {@code _ping}'s {@code OK}, with headers of its own besides dockerd's. */
    record Text(int status, String body, java.util.Map<String, String> headers) implements ApiResponse {
        public Text {
            headers = java.util.Map.copyOf(headers);
        }
    }

    /** No body: 204, or 201/304 where dockerd sends none. */
    record Empty(int status) implements ApiResponse {}

    static ApiResponse ok(JsonNode body) {
        return new Json(200, body);
    }
}
