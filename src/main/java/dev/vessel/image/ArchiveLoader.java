package dev.vessel.image;

import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonProperty;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.compressors.bzip2.BZip2CompressorInputStream;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * {@code docker load}: reads an image archive into the store, all or nothing. Two formats:
 *
 * <ul>
 *   <li>an OCI image layout in a tar ({@code oci-layout}, {@code index.json}, {@code blobs/sha256/*}),
 *       which is also what docker 25+ saves: names come from the {@code io.containerd.image.name}
 *       annotation, else from an {@code org.opencontainers.image.ref.name} that is a full reference
 *       (a bare tag names no repository: the image is loaded unnamed); an index entry that is
 *       itself an index is narrowed to linux/amd64;</li>
 *   <li>docker's classic {@code docker save} format ({@code manifest.json} with Config, RepoTags
 *       and Layers paths; layers as {@code ID/layer.tar}, possibly symlinks to one another), for
 *       which an OCI manifest is written.</li>
 * </ul>
 *
 * The archive may be gzip, bzip2 or zstd compressed. Every file is staged as a blob (verified
 * against its name where the name is a digest); the images are then committed through
 * {@link Ingest#commit(List)}, which verifies everything.
 */
public final class ArchiveLoader {
    private ArchiveLoader() {}

    /** At most this many entries in an archive. */
    static final int MAX_ENTRIES = 1_000_000;

    /** One image loaded: its name (null when the archive gives none) and the image. */
    public record Loaded(Reference name, Image image) {
        /** docker's line for it: {@code Loaded image: busybox:latest} or {@code Loaded image ID: sha256:...}. */
        public String message() {
            return name != null ? "Loaded image: " + name.familiar() : "Loaded image ID: " + image.id();
        }
    }

    @JsonIgnoreProperties(ignoreUnknown = true)
    record SaveEntry(@JsonProperty("Config") String config, @JsonProperty("RepoTags") List<String> repoTags,
                     @JsonProperty("Layers") List<String> layers) {}

    static List<Loaded> load(ImageStore store, Path archive) throws IOException, ImageException {
        try (InputStream in = Files.newInputStream(archive)) {
            return load(store, in, archive.getFileName().toString());
        }
    }

    /**
     * Reads an archive from a stream, front to back, as it arrives (the Engine API's request
     * body); {@code name} says which archive in messages. The stream is not closed.
     */
    static List<Loaded> load(ImageStore store, InputStream archive, String name) throws IOException, ImageException {
        try (Ingest ingest = store.ingest()) {
            Map<String, Digest> files = new LinkedHashMap<>();
            Map<String, String> links = new HashMap<>();
            try {
                InputStream in = decompressed(new BufferedInputStream(archive, 1 << 16));
                read(ingest, in, files, links);
            } catch (InvalidImageException e) {
                throw new InvalidImageException("invalid archive " + name + ": " + e.getMessage(), e);
            } catch (IOException e) {
                throw new InvalidImageException("invalid archive " + name + ": " + e.getMessage(), e);
            }
            for (Map.Entry<String, String> l : links.entrySet()) {
                Digest d = resolve(files, links, l.getKey(), 0);
                if (d != null) {
                    files.put(l.getKey(), d);
                }
            }
            try {
                if (files.containsKey("index.json")) {
                    return loadOci(ingest, files);
                }
                if (files.containsKey("manifest.json")) {
                    return loadDockerSave(ingest, files);
                }
                throw new InvalidImageException("neither manifest.json nor index.json found: not a docker save or OCI archive");
            } catch (InvalidImageException e) {
                throw new InvalidImageException("invalid archive " + name + ": " + e.getMessage(), e);
            }
        }
    }

    static InputStream decompressed(BufferedInputStream in) throws IOException, InvalidImageException {
        String other = Compression.unsupported(in);
        if ("bzip2".equals(other)) {
            return new BZip2CompressorInputStream(in, true);
        }
        if (other != null) {
            in.close();
            throw new InvalidImageException(other + "-compressed archives are not supported (decompress it first)");
        }
        return Compression.sniff(in).decompress(in);
    }

    private static Digest resolve(Map<String, Digest> files, Map<String, String> links, String name, int depth) {
        if (depth > 16) {
            return null;
        }
        Digest d = files.get(name);
        if (d != null) {
            return d;
        }
        String target = links.get(name);
        return target == null ? null : resolve(files, links, target, depth + 1);
    }

    /** Stages every regular file of the archive; records symlinks (docker save links shared layers). */
    private static void read(Ingest ingest, InputStream in, Map<String, Digest> files, Map<String, String> links)
            throws IOException, InvalidImageException {
        TarArchiveInputStream tar = new TarArchiveInputStream(in, 10240, 512, "UTF-8", false);
        TarArchiveEntry e;
        int count = 0;
        boolean any = false;
        while ((e = tar.getNextEntry()) != null) {
            any = true;
            if (++count > MAX_ENTRIES) {
                throw new InvalidImageException("more than " + MAX_ENTRIES + " entries");
            }
            String name;
            try {
                name = LayerApplier.clean(e.getName());
            } catch (IllegalArgumentException x) {
                throw new InvalidImageException("entry \"" + e.getName() + "\": " + x.getMessage());
            }
            if (e.isSymbolicLink() || e.isLink()) {
                String target = e.getLinkName();
                if (e.isSymbolicLink()) {
                    int slash = name.lastIndexOf('/');
                    target = (slash < 0 ? "" : name.substring(0, slash + 1)) + target;
                }
                try {
                    links.put(name, normalize(target));
                } catch (IllegalArgumentException x) {
                    throw new InvalidImageException("entry \"" + e.getName() + "\": link " + x.getMessage());
                }
                continue;
            }
            byte flag = e.getLinkFlag();
            if (!(flag == '0' || flag == 0 || flag == '7') || e.getName().endsWith("/")) {
                continue;
            }
            Digest expected = null;
            if (name.startsWith("blobs/sha256/")) {
                String hex = name.substring("blobs/sha256/".length());
                if (!Digest.isHex64(hex)) {
                    throw new InvalidImageException("entry \"" + e.getName() + "\": not a sha256 blob name");
                }
                expected = new Digest(hex);
            }
            Digest d = ingest.putBlob(tar, expected, e.getSize(), "entry \"" + name + "\"");
            files.put(name, d);
        }
        if (!any) {
            throw new InvalidImageException("empty or not a tar archive");
        }
    }

    /** Resolves {@code ..} and {@code .} in a link target inside the archive. */
    private static String normalize(String path) {
        List<String> parts = new ArrayList<>();
        for (String p : path.split("/")) {
            if (p.isEmpty() || p.equals(".")) {
                continue;
            }
            if (p.equals("..")) {
                if (parts.isEmpty()) {
                    throw new IllegalArgumentException("target escapes the archive");
                }
                parts.removeLast();
            } else {
                parts.add(p);
            }
        }
        return String.join("/", parts);
    }

    private static List<Loaded> loadOci(Ingest ingest, Map<String, Digest> files) throws IOException, ImageException {
        ImageIndex index = ImageIndex.parse(ingest.read(files.get("index.json")), "index.json");
        if (index.manifests().isEmpty()) {
            throw new InvalidImageException("index.json lists no images");
        }
        Map<String, List<Reference>> legacyNames = new HashMap<>();
        if (files.containsKey("manifest.json")) {
            for (SaveEntry s : saveEntries(ingest, files)) {
                if (s.config() != null && s.repoTags() != null) {
                    List<Reference> refs = new ArrayList<>();
                    for (String t : s.repoTags()) {
                        refs.add(Reference.parse(t));
                    }
                    legacyNames.put(configHex(s.config()), refs);
                }
            }
        }
        List<Ingest.Commit> commits = new ArrayList<>();
        Map<Digest, Integer> byManifest = new LinkedHashMap<>();
        for (Descriptor d : index.manifests()) {
            Descriptor m = d;
            if (MediaTypes.isIndex(d.mediaType()) || looksLikeIndex(ingest, d)) {
                ImageIndex nested = ImageIndex.parse(ingest.read(d.digest()), "index " + d.digest());
                Optional<Descriptor> sel = nested.selectPlatform("linux", "amd64");
                if (sel.isEmpty()) {
                    throw new InvalidImageException("index " + d.digest() + " has no linux/amd64 image");
                }
                m = sel.get();
            }
            if (!ingest.has(m.digest())) {
                throw new InvalidImageException("manifest " + m.digest() + " is not in the archive");
            }
            List<Reference> refs = new ArrayList<>();
            Reference name = nameOf(d);
            if (name != null) {
                refs.add(name);
            } else {
                Manifest parsed = Manifest.parse(ingest.read(m.digest()), m.mediaType(), "manifest " + m.digest());
                refs.addAll(legacyNames.getOrDefault(parsed.config().digest().hex(), List.of()));
            }
            Integer at = byManifest.get(m.digest());
            if (at == null) {
                byManifest.put(m.digest(), commits.size());
                commits.add(new Ingest.Commit(m.digest(), refs));
            } else {
                List<Reference> merged = new ArrayList<>(commits.get(at).names());
                for (Reference r : refs) {
                    if (!merged.contains(r)) {
                        merged.add(r);
                    }
                }
                commits.set(at, new Ingest.Commit(m.digest(), merged));
            }
        }
        return finish(ingest, commits);
    }

    private static boolean looksLikeIndex(Ingest ingest, Descriptor d) throws IOException, InvalidImageException {
        if (d.mediaType() != null) {
            return false;
        }
        byte[] b = ingest.read(d.digest());
        String s = new String(b, java.nio.charset.StandardCharsets.UTF_8);
        return s.contains("\"manifests\"") && !s.contains("\"layers\"");
    }

    /** The full name an index.json entry gives, if any. */
    static Reference nameOf(Descriptor d) {
        String full = d.annotation(Descriptor.CONTAINERD_IMAGE_NAME);
        if (full != null && Reference.isValid(full)) {
            try {
                return Reference.parse(full);
            } catch (InvalidReferenceException e) {
                return null;
            }
        }
        String ref = d.annotation(Descriptor.REF_NAME);
        if (ref != null && (ref.indexOf('/') >= 0 || ref.indexOf(':') >= 0) && Reference.isValid(ref)) {
            try {
                return Reference.parse(ref);
            } catch (InvalidReferenceException e) {
                return null;
            }
        }
        return null;
    }

    private static String configHex(String path) {
        String f = path.substring(path.lastIndexOf('/') + 1);
        if (f.endsWith(".json")) {
            f = f.substring(0, f.length() - 5);
        }
        return f;
    }

    private static List<SaveEntry> saveEntries(Ingest ingest, Map<String, Digest> files) throws IOException, InvalidImageException {
        byte[] bytes = ingest.read(files.get("manifest.json"));
        SaveEntry[] entries = Json.parse(bytes, SaveEntry[].class, "manifest.json");
        return List.of(entries);
    }

    private static List<Loaded> loadDockerSave(Ingest ingest, Map<String, Digest> files) throws IOException, ImageException {
        List<SaveEntry> entries = saveEntries(ingest, files);
        if (entries.isEmpty()) {
            throw new InvalidImageException("manifest.json lists no images");
        }
        List<Ingest.Commit> commits = new ArrayList<>();
        for (SaveEntry s : entries) {
            if (s == null || s.config() == null || s.layers() == null) {
                throw new InvalidImageException("manifest.json: an entry without Config or Layers");
            }
            Digest config = file(files, s.config());
            String hex = configHex(s.config());
            if (Digest.isHex64(hex) && !hex.equals(config.hex())) {
                throw new DigestMismatchException("config " + s.config(), new Digest(hex), config);
            }
            List<Descriptor> layers = new ArrayList<>();
            for (String l : s.layers()) {
                Digest d = file(files, l);
                Compression c;
                try (BufferedInputStream in = new BufferedInputStream(ingest.open(d))) {
                    c = Compression.sniff(in);
                }
                layers.add(Descriptor.of(MediaTypes.ociLayer(c), d, ingest.size(d)));
            }
            Manifest m = Manifest.oci(Descriptor.of(MediaTypes.OCI_CONFIG, config, ingest.size(config)), layers);
            Descriptor md = ingest.putJson(m, MediaTypes.OCI_MANIFEST);
            List<Reference> refs = new ArrayList<>();
            if (s.repoTags() != null) {
                for (String t : s.repoTags()) {
                    refs.add(Reference.parse(t));
                }
            }
            commits.add(new Ingest.Commit(md.digest(), refs));
        }
        return finish(ingest, commits);
    }

    private static Digest file(Map<String, Digest> files, String path) throws InvalidImageException {
        String p;
        try {
            p = LayerApplier.clean(path);
        } catch (IllegalArgumentException e) {
            throw new InvalidImageException("manifest.json names \"" + path + "\": " + e.getMessage());
        }
        Digest d = files.get(p);
        if (d == null) {
            throw new InvalidImageException("manifest.json names \"" + path + "\", which is not in the archive");
        }
        return d;
    }

    private static List<Loaded> finish(Ingest ingest, List<Ingest.Commit> commits) throws IOException, ImageException {
        List<Image> images = ingest.commit(commits);
        List<Loaded> out = new ArrayList<>();
        for (int i = 0; i < commits.size(); i++) {
            Image img = images.get(i);
            if (commits.get(i).names().isEmpty()) {
                out.add(new Loaded(null, img));
            }
            for (Reference r : commits.get(i).names()) {
                out.add(new Loaded(r, img));
            }
        }
        return out;
    }
}
