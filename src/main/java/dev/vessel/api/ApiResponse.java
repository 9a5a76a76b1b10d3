package dev.vessel.api;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * What an endpoint answers; {@link ApiServer} writes each kind. A whole body, or a {@link Stream}
 * written as it is produced. The {@code 101 UPGRADED} hijack of attach and exec will be a further
 * kind here, for which the server hands the connection over.
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

    /**
     * A body written as it is produced, in HTTP chunks: pull progress and logs now; {@code wait}
     * and events later. The status and headers go with the first chunk, so a writer that fails before
     * it writes anything (an {@link ApiException}) is answered as any other failure; once it has
     * written, a failure can only end the body.
     */
    record Stream(int status, String contentType, BodyWriter writer) implements ApiResponse {}

    /** Writes a streamed body; each flush of {@code body} sends what was written as a chunk. */
    @FunctionalInterface
    interface BodyWriter {
        void write(java.io.OutputStream body) throws java.io.IOException, ApiException;
    }

    static ApiResponse ok(JsonNode body) {
        return new Json(200, body);
    }
}
