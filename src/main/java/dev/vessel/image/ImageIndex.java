package dev.vessel.image;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * An OCI image index or a Docker manifest list; also the shape of an image layout's
 * {@code index.json}.
 */
@JsonInclude(JsonInclude.Include.NON_EMPTY)
@JsonIgnoreProperties(ignoreUnknown = true)
public record ImageIndex(int schemaVersion, String mediaType, List<Descriptor> manifests, Map<String, String> annotations) {
    public ImageIndex {
        manifests = manifests == null ? List.of() : List.copyOf(manifests);
        annotations = annotations == null ? Map.of() : Map.copyOf(annotations);
    }

    public static ImageIndex of(List<Descriptor> manifests) {
        return new ImageIndex(2, MediaTypes.OCI_INDEX, manifests, null);
    }

    public static ImageIndex parse(byte[] bytes, String what) throws InvalidImageException {
        ImageIndex ix = Json.parse(bytes, ImageIndex.class, what);
        if (ix.schemaVersion() != 2) {
            throw new InvalidImageException(what + ": unsupported index schema version " + ix.schemaVersion());
        }
        for (Descriptor d : ix.manifests()) {
            if (d == null || d.digest() == null) {
                throw new InvalidImageException(what + ": manifest entry without a digest");
            }
        }
        return ix;
    }

    /**
     * The entry for linux/amd64 (the only platform Vessel runs), skipping attestation manifests
     * (docker's {@code vnd.docker.reference.type} and {@code unknown/unknown}). An entry without a
     * platform is taken when it is the only candidate.
     */
    public Optional<Descriptor> selectPlatform(String os, String architecture) {
        List<Descriptor> noPlatform = new ArrayList<>();
        for (Descriptor d : manifests) {
            if (d.annotation("vnd.docker.reference.type") != null) {
                continue;
            }
            Descriptor.Platform p = d.platform();
            if (p == null) {
                noPlatform.add(d);
                continue;
            }
            if (os.equals(p.os()) && architecture.equals(p.architecture())) {
                return Optional.of(d);
            }
        }
        return noPlatform.size() == 1 ? Optional.of(noPlatform.getFirst()) : Optional.empty();
    }
}
