package dev.vessel.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vessel.image.Json;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import java.util.Iterator;
import java.util.Map;

/**
 * docker's client configuration, {@code $DOCKER_CONFIG/config.json} (default
 * {@code ~/.docker/config.json}): the {@code auths} section, read for credentials and written by
 * {@code vessel login}/{@code logout} the way docker writes it (base64 {@code user:password} in
 * {@code auth}). Other sections are kept as they are. Credential helpers ({@code credsStore},
 * {@code credHelpers}) are not run.
 */
public final class DockerConfig {
    private final Path file;

    public DockerConfig(Path file) {
        this.file = file;
    }

    /** The file docker uses: {@code $DOCKER_CONFIG/config.json}, else {@code ~/.docker/config.json}. */
    public static DockerConfig standard() {
        String dir = System.getenv("DOCKER_CONFIG");
        Path d = dir != null && !dir.isEmpty() ? Path.of(dir) : Path.of(System.getProperty("user.home"), ".docker");
        return new DockerConfig(d.resolve("config.json"));
    }

    public Path file() {
        return file;
    }

    /** The credentials for {@code endpoint}, or null. */
    public Credentials lookup(Endpoint endpoint) throws RegistryException {
        ObjectNode auths = auths(read());
        for (String key : keysFor(endpoint)) {
            JsonNode entry = auths.get(key);
            if (entry != null && entry.isObject()) {
                return decode(key, entry);
            }
        }
        // docker also matches keys written as URLs with a path: https://host/v1/ and the like.
        for (Iterator<Map.Entry<String, JsonNode>> it = auths.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            if (hostOfKey(e.getKey()).equals(endpoint.domain()) && e.getValue().isObject()) {
                return decode(e.getKey(), e.getValue());
            }
        }
        return null;
    }

    /** Saves {@code username}/{@code password} for {@code endpoint}. */
    public void store(Endpoint endpoint, String username, String password) throws RegistryException, IOException {
        ObjectNode root = read();
        ObjectNode auths = auths(root);
        root.set("auths", auths);
        ObjectNode entry = JsonNodeFactory.instance.objectNode();
        entry.put("auth", Base64.getEncoder().encodeToString((username + ":" + password).getBytes(StandardCharsets.UTF_8)));
        for (String key : keysFor(endpoint)) {
            auths.remove(key);
        }
        auths.set(endpoint.authKey(), entry);
        write(root);
    }

    /** Removes {@code endpoint}'s credentials; false when there were none. */
    public boolean remove(Endpoint endpoint) throws RegistryException, IOException {
        ObjectNode root = read();
        ObjectNode auths = auths(root);
        boolean removed = false;
        for (String key : keysFor(endpoint)) {
            removed |= auths.remove(key) != null;
        }
        if (removed) {
            root.set("auths", auths);
            write(root);
        }
        return removed;
    }

    private static String[] keysFor(Endpoint endpoint) {
        String d = endpoint.domain();
        if (d.equals("docker.io")) {
            return new String[] {Endpoint.DOCKER_HUB_AUTH_KEY, "index.docker.io", "docker.io", "https://index.docker.io/v1"};
        }
        return new String[] {d, "https://" + d, "http://" + d};
    }

    private static String hostOfKey(String key) {
        String k = key;
        int scheme = k.indexOf("://");
        if (scheme >= 0) {
            k = k.substring(scheme + 3);
        }
        int slash = k.indexOf('/');
        return slash < 0 ? k : k.substring(0, slash);
    }

    private Credentials decode(String key, JsonNode entry) throws RegistryException {
        String identity = text(entry, "identitytoken");
        String registryToken = text(entry, "registrytoken");
        String user = text(entry, "username");
        String password = text(entry, "password");
        String auth = text(entry, "auth");
        if (auth != null && !auth.isEmpty()) {
            String decoded;
            try {
                decoded = new String(Base64.getDecoder().decode(auth.strip()), StandardCharsets.UTF_8);
            } catch (IllegalArgumentException e) {
                throw new RegistryException(file + ": the \"auth\" of \"" + key + "\" is not base64");
            }
            int colon = decoded.indexOf(':');
            if (colon < 0) {
                throw new RegistryException(file + ": the \"auth\" of \"" + key + "\" is not user:password");
            }
            user = decoded.substring(0, colon);
            password = decoded.substring(colon + 1);
        }
        return new Credentials(user, password, identity, registryToken);
    }

    private static String text(JsonNode n, String field) {
        JsonNode v = n.get(field);
        return v != null && v.isTextual() ? v.asText() : null;
    }

    private ObjectNode read() throws RegistryException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (NoSuchFileException e) {
            return JsonNodeFactory.instance.objectNode();
        } catch (IOException e) {
            throw new RegistryException("cannot read " + file + ": " + e.getMessage(), e);
        }
        try {
            JsonNode n = Json.MAPPER.readTree(bytes);
            if (n == null || n.isMissingNode()) {
                return JsonNodeFactory.instance.objectNode();
            }
            if (!n.isObject()) {
                throw new RegistryException(file + ": not a JSON object");
            }
            return (ObjectNode) n;
        } catch (IOException e) {
            throw new RegistryException(file + ": malformed JSON", e);
        }
    }

    private static ObjectNode auths(ObjectNode root) {
        JsonNode a = root.get("auths");
        return a != null && a.isObject() ? (ObjectNode) a : JsonNodeFactory.instance.objectNode();
    }

    /** Written to a private temporary file then renamed: a crash never leaves half a config, and no one else can read the secrets. */
    private void write(ObjectNode root) throws IOException {
        Path dir = file.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        Path tmp = Files.createTempFile(dir, ".config.json-", ".tmp", PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        try {
            Files.write(tmp, Json.MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(root));
            Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
