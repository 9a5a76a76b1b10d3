package dev.vessel.api;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.CompletableFuture;

/**
 * What an endpoint answers; {@link ApiServer} writes each kind. A whole body, a {@link Stream}
 * written as it is produced, or an {@link Upgrade}: the connection handed over to attach and exec.
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
     * A body written as it is produced, in HTTP chunks: pull progress, logs, {@code wait}, events,
     * a container's tar. The status and headers (dockerd's, and {@code headers}) go with the first
     * chunk, so a writer that fails before it writes anything (an {@link ApiException}) is answered
     * as any other failure; once it has written, a failure can only end the body.
     *
     * @param endsWithClient the writer would go on for ever (events): the server interrupts its
     *     thread once the client goes away (its input ends or the connection closes, which dockerd
     *     takes alike), so nothing is left following for nobody
     */
    record Stream(int status, String contentType, BodyWriter writer, boolean endsWithClient,
                  java.util.Map<String, String> headers) implements ApiResponse {
        public Stream {
            headers = java.util.Map.copyOf(headers);
        }

        public Stream(int status, String contentType, BodyWriter writer, boolean endsWithClient) {
            this(status, contentType, writer, endsWithClient, java.util.Map.of());
        }

        public Stream(int status, String contentType, BodyWriter writer) {
            this(status, contentType, writer, false, java.util.Map.of());
        }
    }

    /** Writes a streamed body; each flush of {@code body} sends what was written as a chunk. */
    @FunctionalInterface
    interface BodyWriter {
        void write(java.io.OutputStream body) throws java.io.IOException, ApiException;
    }

    /**
     * Attach and exec: after the head the connection carries raw bytes both ways, handed to
     * {@code session}, and closes when the session returns. The head is {@code 101 UPGRADED} when
     * the client asked to upgrade (the docker CLI), else {@code 200} with no length (docker-java
     * without stdin), as dockerd answers both.
     *
     * @param contentType {@code application/vnd.docker.raw-stream} or {@code ...multiplexed-stream}
     */
    record Upgrade(String contentType, Session session) implements ApiResponse {
        @Override
        public int status() {
            return 101;
        }
    }

    /** What runs on a taken-over connection. */
    @FunctionalInterface
    interface Session {
        void run(Connection connection) throws IOException;
    }

    /**
     * A taken-over connection. Its input ends (-1) when the client half-closes or goes away (the
     * two look alike on a socket); its output sends on each flush and fails once the client went
     * away.
     */
    interface Connection {
        InputStream input();

        OutputStream output();

        /** Completes when the connection is closed: by the server, or after a write the client was gone for. */
        CompletableFuture<Void> closed();
    }

    static ApiResponse ok(JsonNode body) {
        return new Json(200, body);
    }
}
