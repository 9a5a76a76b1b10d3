package dev.vessel.image;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** An OCI content descriptor: what a manifest, index or index.json says about a blob. */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
@JsonIgnoreProperties(ignoreUnknown = true)
public record Descriptor(String mediaType, Digest digest, long size, List<String> urls,
                         Map<String, String> annotations, Platform platform, String artifactType) {
    /** The annotation that names a ref in an OCI image layout's index.json. */
    public static final String REF_NAME = "org.opencontainers.image.ref.name";
    /** containerd's (and docker's) annotation with the full image name in archives. */
    public static final String CONTAINERD_IMAGE_NAME = "io.containerd.image.name";

    public Descriptor {
        annotations = annotations == null ? Map.of() : Map.copyOf(annotations);
        urls = urls == null ? List.of() : List.copyOf(urls);
    }

    public static Descriptor of(String mediaType, Digest digest, long size) {
        return new Descriptor(mediaType, digest, size, null, null, null, null);
    }

    public String annotation(String key) {
        return annotations.get(key);
    }

    public Descriptor withAnnotations(Map<String, String> extra) {
        Map<String, String> m = new HashMap<>(annotations);
        m.putAll(extra);
        return new Descriptor(mediaType, digest, size, urls, m, platform, artifactType);
    }

    /** An OCI platform (architecture, os, variant). */
    @JsonInclude(JsonInclude.Include.NON_EMPTY)
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Platform(String architecture, String os, String variant) {}
}
