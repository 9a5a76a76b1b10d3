package dev.vessel.api;

import com.fasterxml.jackson.databind.JsonNode;
import dev.vessel.registry.Credentials;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;

/**
 * The client's {@code X-Registry-Auth}: base64 (URL alphabet, as docker's CLI writes it; the
 * standard one too) of a JSON auth config. As dockerd does for a pull, a header that does not
 * decode counts as none, and the server's own credentials apply.
 */
final class RegistryAuth {
    private RegistryAuth() {}

    static final String HEADER = "x-registry-auth";

    static Optional<Credentials> decode(String header) {
        if (header == null || header.isBlank()) {
            return Optional.empty();
        }
        byte[] json;
        try {
            json = Base64.getUrlDecoder().decode(header.strip());
        } catch (IllegalArgumentException notUrl) {
            try {
                json = Base64.getDecoder().decode(header.strip());
            } catch (IllegalArgumentException notStandard) {
                return Optional.empty();
            }
        }
        JsonNode n;
        try {
            n = EngineApi.JSON.readTree(json);
        } catch (java.io.IOException e) {
            return Optional.empty();
        }
        if (n == null || !n.isObject()) {
            return Optional.empty();
        }
        String user = text(n, "username");
        String password = text(n, "password");
        String auth = text(n, "auth");
        if (user == null && auth != null) {
            // "auth" is base64 of user:password, as in config.json.
            try {
                String pair = new String(Base64.getDecoder().decode(auth), StandardCharsets.UTF_8);
                int colon = pair.indexOf(':');
                if (colon > 0) {
                    user = pair.substring(0, colon);
                    password = pair.substring(colon + 1);
                }
            } catch (IllegalArgumentException ignored) {
                // not usable: as if absent
            }
        }
        String identity = text(n, "identitytoken");
        String registry = text(n, "registrytoken");
        if (user == null && identity == null && registry == null) {
            return Optional.empty();
        }
        return Optional.of(new Credentials(user, password, identity, registry));
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v != null && v.isTextual() && !v.asText().isEmpty() ? v.asText() : null;
    }
}
