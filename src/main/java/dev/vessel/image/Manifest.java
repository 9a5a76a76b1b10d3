package dev.vessel.image;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;

import java.util.List;
import java.util.Map;

/** An OCI image manifest or a Docker image manifest v2 schema 2 (the same shape). */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
@JsonIgnoreProperties(ignoreUnknown = true)
public record Manifest(int schemaVersion, String mediaType, Descriptor config, List<Descriptor> layers,
                       Map<String, String> annotations) {
    public Manifest {
        layers = layers == null ? List.of() : List.copyOf(layers);
        annotations = annotations == null ? Map.of() : Map.copyOf(annotations);
    }

    public static Manifest oci(Descriptor config, List<Descriptor> layers) {
        return new Manifest(2, MediaTypes.OCI_MANIFEST, config, layers, null);
    }

    /**
     * Parses and checks a manifest: schema version 2, a config descriptor and layers with digests.
     * {@code descriptorMediaType} is what the referrer said it is (may be null).
     */
    public static Manifest parse(byte[] bytes, String descriptorMediaType, String what) throws InvalidImageException {
        Manifest m = Json.parse(bytes, Manifest.class, what);
        String mt = m.mediaType() != null ? m.mediaType() : descriptorMediaType;
        if (MediaTypes.isIndex(mt)) {
            throw new InvalidImageException(what + ": is an image index, not an image manifest");
        }
        if (m.schemaVersion() != 2) {
            throw new InvalidImageException(what + ": unsupported manifest schema version " + m.schemaVersion());
        }
        if (mt != null && !MediaTypes.isManifest(mt)) {
            throw new InvalidImageException(what + ": unsupported manifest media type " + mt);
        }
        if (m.config() == null || m.config().digest() == null) {
            throw new InvalidImageException(what + ": manifest has no config descriptor");
        }
        if (m.config().mediaType() != null && !MediaTypes.isConfig(m.config().mediaType())) {
            throw new InvalidImageException(what + ": not a container image (config media type " + m.config().mediaType() + ")");
        }
        for (Descriptor l : m.layers()) {
            if (l == null || l.digest() == null) {
                throw new InvalidImageException(what + ": layer without a digest");
            }
            if (l.size() < 0) {
                throw new InvalidImageException(what + ": layer " + l.digest() + " has a negative size");
            }
        }
        return m;
    }
}
