package dev.vessel.image;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * {@code docker save}: images in the archive docker 25 and later writes, which {@code docker load}
 * (with either of its image stores) and {@link ArchiveLoader} read: an OCI image layout
 * ({@code oci-layout}, {@code index.json} naming each image with containerd's annotation,
 * {@code blobs/sha256/*}) with docker's {@code manifest.json} and {@code repositories} beside it.
 * The blobs go as the store keeps them, so each image keeps its manifest digest (a pulled layer
 * stays compressed, as its manifest says; docker's legacy store would write it uncompressed). Every
 * entry has time 0, so the same images make the same bytes.
 *
 * <p>{@link #prepare} resolves the names and opens every blob under the index lock, then lets it
 * go: an image removed while the archive streams to a slow reader is still read whole from the
 * files it opened.
 */
public final class ArchiveWriter implements AutoCloseable {
    private static final FileTime EPOCH = FileTime.fromMillis(0);
    /** How much blob data goes out between flushes (each flush is one chunk of an API answer). */
    private static final int FLUSH_EVERY = 1 << 20;

    /** One image to write, with the names it goes under (none when it was named by id). */
    private record Entry(Image image, Descriptor manifest, List<Reference> tags) {}

    private final List<Entry> entries;
    /** By digest, in the order they are written (sorted, as docker's walk of its folder). */
    private final Map<Digest, FileChannel> blobs;

    private ArchiveWriter(List<Entry> entries, Map<Digest, FileChannel> blobs) {
        this.entries = entries;
        this.blobs = blobs;
    }

    /**
     * Resolves {@code names} as docker save does: {@code NAME:TAG} is that tag; a repository alone
     * is every tag of it (or, when it has none, an id prefix); an id is the image without names.
     *
     * @throws NoSuchImageException for a name the store lacks (before anything is written)
     */
    static ArchiveWriter prepare(ImageStore store, List<String> names) throws IOException, ImageException {
        if (names.isEmpty()) {
            throw new InvalidReferenceException("no image names given");
        }
        Map<Digest, FileChannel> open = new TreeMap<>((a, b) -> a.hex().compareTo(b.hex()));
        try (FileLocks.Held l = FileLocks.shared(store.indexLock())) {
            Map<Digest, Entry> byId = new LinkedHashMap<>();
            for (String name : names) {
                for (Map.Entry<Image, List<Reference>> found : resolve(store, name).entrySet()) {
                    Image img = found.getKey();
                    Entry e = byId.get(img.id());
                    if (e == null) {
                        e = new Entry(img, manifestOf(store, img), new ArrayList<>());
                        byId.put(img.id(), e);
                    }
                    for (Reference r : found.getValue()) {
                        if (!e.tags().contains(r)) {
                            e.tags().add(r);
                        }
                    }
                }
            }
            try {
                for (Entry e : byId.values()) {
                    openBlob(store, open, e.manifest().digest());
                    openBlob(store, open, e.image().id());
                    for (Descriptor layer : e.image().layers()) {
                        openBlob(store, open, layer.digest());
                    }
                }
            } catch (IOException | RuntimeException x) {
                closeAll(open.values(), x);
                throw x;
            }
            return new ArchiveWriter(List.copyOf(byId.values()), open);
        }
    }

    /** The images one name stands for, each with the tags it is saved under. */
    private static Map<Image, List<Reference>> resolve(ImageStore store, String name) throws IOException, ImageException {
        Map<Image, List<Reference>> out = new LinkedHashMap<>();
        if (Digest.isValid(name)) {
            out.put(store.resolve(name), List.of());
            return out;
        }
        boolean repositoryOnly = name.indexOf('@') < 0 && name.lastIndexOf(':') <= name.lastIndexOf('/');
        if (repositoryOnly && Reference.isValid(name)) {
            String repository = Reference.parse(name).repository();
            for (ImageSummary s : store.list()) {
                Reference r = s.reference();
                if (r != null && r.tag() != null && !r.isDigest() && r.repository().equals(repository)) {
                    out.computeIfAbsent(store.image(s.manifestDigest()), i -> new ArrayList<>()).add(r);
                }
            }
            if (!out.isEmpty()) {
                return out;
            }
        }
        Image img = store.resolve(name);
        // A tag names the image under it; a digest reference or an id prefix saves it without names, as docker does.
        List<Reference> tags = new ArrayList<>();
        if (Reference.isValid(name) && !repositoryOnly) {
            Reference r = Reference.parse(name);
            if (r.tag() != null && !r.isDigest()) {
                tags.add(r);
            }
        }
        out.put(img, tags);
        return out;
    }

    /** The index entry of the image's manifest, for its media type and size. */
    private static Descriptor manifestOf(ImageStore store, Image img) throws IOException {
        for (Descriptor d : store.readIndex()) {
            if (d.digest().equals(img.manifestDigest())) {
                return Descriptor.of(d.mediaType() != null ? d.mediaType() : MediaTypes.OCI_MANIFEST, d.digest(),
                        store.blobs().size(d.digest()));
            }
        }
        throw new java.nio.file.NoSuchFileException("manifest " + img.manifestDigest());
    }

    private static void openBlob(ImageStore store, Map<Digest, FileChannel> open, Digest d) throws IOException {
        if (!open.containsKey(d)) {
            open.put(d, FileChannel.open(store.blobs().path(d)));
        }
    }

    /** Writes the archive (uncompressed tar) to {@code out}, which stays open. */
    public void write(OutputStream out) throws IOException {
        TarArchiveOutputStream tar = new TarArchiveOutputStream(out, "UTF-8");
        tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        directory(tar, "blobs/");
        directory(tar, "blobs/sha256/");
        byte[] buffer = new byte[1 << 16];
        for (Map.Entry<Digest, FileChannel> b : blobs.entrySet()) {
            FileChannel ch = b.getValue();
            long size = ch.size();
            tar.putArchiveEntry(file("blobs/sha256/" + b.getKey().hex(), size));
            long sent = 0;
            long unflushed = 0;
            ch.position(0);
            while (sent < size) {
                int n = ch.read(ByteBuffer.wrap(buffer, 0, (int) Math.min(buffer.length, size - sent)));
                if (n < 0) {
                    throw new IOException("blob " + b.getKey() + " ended after " + sent + " of " + size + " bytes");
                }
                tar.write(buffer, 0, n);
                sent += n;
                unflushed += n;
                if (unflushed >= FLUSH_EVERY) {
                    tar.flush();
                    unflushed = 0;
                }
            }
            tar.closeArchiveEntry();
        }
        small(tar, "index.json", Json.write(index()));
        small(tar, "manifest.json", line(manifest()));
        small(tar, "oci-layout", "{\"imageLayoutVersion\": \"1.0.0\"}".getBytes(StandardCharsets.UTF_8));
        ObjectNode repositories = repositories();
        if (!repositories.isEmpty()) {
            small(tar, "repositories", line(repositories));
        }
        tar.finish();
        tar.flush();
    }

    /** The OCI index: an entry per name (containerd's annotation has the full one), or one without for an unnamed image. */
    private ObjectNode index() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        o.put("schemaVersion", 2);
        o.put("mediaType", MediaTypes.OCI_INDEX);
        ArrayNode manifests = o.putArray("manifests");
        for (Entry e : entries) {
            if (e.tags().isEmpty()) {
                descriptor(manifests.addObject(), e.manifest());
            }
            for (Reference r : e.tags()) {
                ObjectNode d = descriptor(manifests.addObject(), e.manifest());
                ObjectNode a = d.putObject("annotations");
                a.put(Descriptor.CONTAINERD_IMAGE_NAME, r.toString());
                a.put(Descriptor.REF_NAME, r.tag());
            }
        }
        return o;
    }

    private static ObjectNode descriptor(ObjectNode o, Descriptor d) {
        o.put("mediaType", d.mediaType());
        o.put("digest", d.digest().toString());
        o.put("size", d.size());
        return o;
    }

    /** docker's manifest.json: per image its config, its names and its layers, as paths in the archive. */
    private ArrayNode manifest() {
        ArrayNode out = Json.MAPPER.createArrayNode();
        for (Entry e : entries) {
            ObjectNode o = out.addObject();
            o.put("Config", "blobs/sha256/" + e.image().id().hex());
            if (e.tags().isEmpty()) {
                o.putNull("RepoTags");
            } else {
                ArrayNode tags = o.putArray("RepoTags");
                e.tags().forEach(t -> tags.add(t.familiar()));
            }
            ArrayNode layers = o.putArray("Layers");
            e.image().layers().forEach(l -> layers.add("blobs/sha256/" + l.digest().hex()));
        }
        return out;
    }

    /** The pre-1.10 {@code repositories} file docker still writes: repository, tag, top layer. */
    private ObjectNode repositories() {
        ObjectNode o = Json.MAPPER.createObjectNode();
        for (Entry e : entries) {
            List<Digest> diffIds = e.image().diffIds();
            for (Reference r : e.tags()) {
                ObjectNode repo = o.has(r.familiarRepository()) ? (ObjectNode) o.get(r.familiarRepository())
                        : o.putObject(r.familiarRepository());
                repo.put(r.tag(), diffIds.isEmpty() ? "" : diffIds.getLast().hex());
            }
        }
        return o;
    }

    private static void directory(TarArchiveOutputStream tar, String name) throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(name);
        e.setMode(040755);
        e.setLastModifiedTime(EPOCH);
        tar.putArchiveEntry(e);
        tar.closeArchiveEntry();
    }

    private static TarArchiveEntry file(String name, long size) {
        TarArchiveEntry e = new TarArchiveEntry(name);
        e.setMode(0100644);
        e.setSize(size);
        e.setLastModifiedTime(EPOCH);
        return e;
    }

    private static void small(TarArchiveOutputStream tar, String name, byte[] content) throws IOException {
        tar.putArchiveEntry(file(name, content.length));
        tar.write(content);
        tar.closeArchiveEntry();
    }

    @Override
    public void close() throws IOException {
        IOException failure = new IOException("cannot close the blobs of a save");
        closeAll(blobs.values(), failure);
        if (failure.getSuppressed().length > 0) {
            throw failure;
        }
    }

    private static void closeAll(Iterable<FileChannel> channels, Exception failure) {
        for (FileChannel ch : channels) {
            try {
                ch.close();
            } catch (IOException e) {
                failure.addSuppressed(e);
            }
        }
    }

    /** As Go's {@code json.Encoder} writes a document: compact, ended by a newline ({@code json.Marshal} adds none). */
    private static byte[] line(Object node) {
        byte[] b = Json.write(node);
        byte[] out = java.util.Arrays.copyOf(b, b.length + 1);
        out[b.length] = '\n';
        return out;
    }
}
