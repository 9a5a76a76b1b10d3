package dev.vessel.registry;

import dev.vessel.image.Compression;
import dev.vessel.image.Digest;
import dev.vessel.image.Json;
import dev.vessel.image.MediaTypes;
import dev.vessel.image.Tars;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** An image built in memory for tests: its blobs, config and manifest, honest or crafted. */
public final class TestImage {
    public final Map<Digest, byte[]> blobs = new LinkedHashMap<>();
    byte[] manifest;
    String manifestType;
    Digest configDigest;
    final List<Map<String, Object>> layers = new ArrayList<>();
    final List<String> diffIds = new ArrayList<>();

    /** An OCI image of uncompressed tar layers compressed with {@code c}, for linux/{@code arch}. */
    public static TestImage oci(Compression c, String arch, byte[]... tars) {
        TestImage t = new TestImage();
        for (byte[] tar : tars) {
            t.layer(tar, c, MediaTypes.ociLayer(c));
        }
        return t.finish(MediaTypes.OCI_MANIFEST, MediaTypes.OCI_CONFIG, arch);
    }

    public static TestImage oci(byte[]... tars) {
        return oci(Compression.GZIP, "amd64", tars);
    }

    /** A layer blob with its diff_id (of {@code tar}), for crafting. */
    TestImage layer(byte[] tar, Compression c, String mediaType) {
        byte[] blob = compress(tar, c);
        return rawLayer(blob, mediaType, Digest.of(tar).toString());
    }

    TestImage rawLayer(byte[] blob, String mediaType, String diffId) {
        Digest d = Digest.of(blob);
        blobs.put(d, blob);
        Map<String, Object> l = new LinkedHashMap<>();
        l.put("mediaType", mediaType);
        l.put("digest", d.toString());
        l.put("size", blob.length);
        layers.add(l);
        diffIds.add(diffId);
        return this;
    }

    /** Writes config and manifest. */
    TestImage finish(String manifestMediaType, String configMediaType, String arch) {
        Map<String, Object> config = new LinkedHashMap<>();
        config.put("architecture", arch);
        config.put("os", "linux");
        config.put("config", Map.of("Cmd", List.of("/bin/sh")));
        config.put("rootfs", Map.of("type", "layers", "diff_ids", diffIds));
        return finish(manifestMediaType, configMediaType, Json.write(config));
    }

    TestImage finish(String manifestMediaType, String configMediaType, byte[] configBytes) {
        configDigest = Digest.of(configBytes);
        blobs.put(configDigest, configBytes);
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("schemaVersion", 2);
        m.put("mediaType", manifestMediaType);
        m.put("config", Map.of("mediaType", configMediaType, "digest", configDigest.toString(), "size", configBytes.length));
        m.put("layers", layers);
        manifest = Json.write(m);
        manifestType = manifestMediaType;
        return this;
    }

    public Digest digest() {
        return Digest.of(manifest);
    }

    /** An index entry for this image's manifest. */
    Map<String, Object> entry(String os, String arch, Map<String, String> annotations) {
        Map<String, Object> e = new LinkedHashMap<>();
        e.put("mediaType", manifestType);
        e.put("digest", digest().toString());
        e.put("size", manifest.length);
        e.put("platform", Map.of("os", os, "architecture", arch));
        if (annotations != null) {
            e.put("annotations", annotations);
        }
        return e;
    }

    static byte[] index(String mediaType, List<Map<String, Object>> entries) {
        return Json.write(Map.of("schemaVersion", 2, "mediaType", mediaType, "manifests", entries));
    }

    static byte[] compress(byte[] tar, Compression c) {
        return switch (c) {
            case NONE -> tar;
            case GZIP -> Tars.gzip(tar);
            case ZSTD -> Tars.zstd(tar);
        };
    }

    /** One small layer with a file. */
    static byte[] simpleLayer(String path, String content) {
        return Tars.tar().file(path, content).bytes();
    }

    static byte[] decompress(byte[] blob, Compression c) {
        try {
            return c.decompress(new ByteArrayInputStream(blob)).readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
