package dev.vessel.image;

import java.util.List;

/**
 * An image in the store: its manifest, its config (whose digest is the image id) and the
 * references that name it.
 *
 * @param manifestDigest the manifest's digest (what a {@code name@sha256:...} reference names)
 * @param manifest       the manifest (layers, lowest first)
 * @param id             the config's digest: the image id ({@code docker images} shows 12 hex digits of it)
 * @param config         the parsed config (Entrypoint, Cmd, Env, WorkingDir, User, ExposedPorts, Labels)
 * @param references     the names that point at it (empty for a dangling image)
 * @param size           bytes of its layers uncompressed (what {@code docker images} calls SIZE)
 */
public record Image(Digest manifestDigest, Manifest manifest, Digest id, ImageConfig config,
                    List<Reference> references, long size) {
    public Image {
        references = List.copyOf(references);
    }

    public String shortId() {
        return id.shortHex();
    }

    public List<Descriptor> layers() {
        return manifest.layers();
    }

    public List<Digest> diffIds() {
        return config.diffIds();
    }
}
