package dev.vessel.image;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * An image's configuration (OCI image config, which Docker's container image v1 JSON is a superset
 * of). Only what Vessel uses is modelled; the blob itself is kept byte for byte in the store.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
@JsonIgnoreProperties(ignoreUnknown = true)
public record ImageConfig(String created, String author, String architecture, String variant, String os,
                          Config config, RootFs rootfs, List<History> history) {

    /** The run-time defaults of containers made from the image (docker's capitalised field names). */
    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Config(@JsonProperty("User") String user,
                         @JsonProperty("ExposedPorts") Map<String, Object> exposedPorts,
                         @JsonProperty("Env") List<String> env,
                         @JsonProperty("Entrypoint") List<String> entrypoint,
                         @JsonProperty("Cmd") List<String> cmd,
                         @JsonProperty("Volumes") Map<String, Object> volumes,
                         @JsonProperty("WorkingDir") String workingDir,
                         @JsonProperty("Labels") Map<String, String> labels,
                         @JsonProperty("StopSignal") String stopSignal,
                         @JsonProperty("Healthcheck") HealthConfig healthcheck) {
        public static final Config EMPTY = new Config(null, null, null, null, null, null, null, null, null, null);

        /** A config without a health check. */
        public Config(String user, Map<String, Object> exposedPorts, List<String> env, List<String> entrypoint,
                      List<String> cmd, Map<String, Object> volumes, String workingDir, Map<String, String> labels,
                      String stopSignal) {
            this(user, exposedPorts, env, entrypoint, cmd, volumes, workingDir, labels, stopSignal, null);
        }
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    public record RootFs(String type, @JsonProperty("diff_ids") List<Digest> diffIds) {
        public RootFs {
            diffIds = diffIds == null ? List.of() : List.copyOf(diffIds);
        }
    }

    @JsonInclude(JsonInclude.Include.NON_NULL)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record History(String created, @JsonProperty("created_by") String createdBy, String comment,
                          @JsonProperty("empty_layer") Boolean emptyLayer) {}

    public static ImageConfig parse(byte[] bytes, String what) throws InvalidImageException {
        ImageConfig c = Json.parse(bytes, ImageConfig.class, what);
        if (c.rootfs() == null || !"layers".equals(c.rootfs().type())) {
            throw new InvalidImageException(what + ": config has no rootfs of type \"layers\"");
        }
        return c;
    }

    /** The container defaults, never null. */
    public Config runConfig() {
        return config != null ? config : Config.EMPTY;
    }

    public List<String> entrypoint() {
        return runConfig().entrypoint() != null ? runConfig().entrypoint() : List.of();
    }

    public List<String> cmd() {
        return runConfig().cmd() != null ? runConfig().cmd() : List.of();
    }

    public List<String> env() {
        return runConfig().env() != null ? runConfig().env() : List.of();
    }

    public String workingDir() {
        return runConfig().workingDir() != null ? runConfig().workingDir() : "";
    }

    public String user() {
        return runConfig().user() != null ? runConfig().user() : "";
    }

    public List<String> exposedPorts() {
        return runConfig().exposedPorts() != null ? List.copyOf(new java.util.TreeSet<>(runConfig().exposedPorts().keySet())) : List.of();
    }

    public Map<String, String> labels() {
        return runConfig().labels() != null ? runConfig().labels() : Map.of();
    }

    /** The image's {@code HEALTHCHECK}, or null when it has none. */
    public HealthConfig healthcheck() {
        return runConfig().healthcheck();
    }

    public List<Digest> diffIds() {
        return rootfs != null ? rootfs.diffIds() : List.of();
    }

    /** When the image was created, if it says so parseably. */
    public Optional<Instant> createdAt() {
        if (created == null || created.isBlank()) {
            return Optional.empty();
        }
        try {
            return Optional.of(java.time.OffsetDateTime.parse(created).toInstant());
        } catch (DateTimeParseException e) {
            try {
                return Optional.of(Instant.parse(created));
            } catch (DateTimeParseException e2) {
                return Optional.empty();
            }
        }
    }
}
