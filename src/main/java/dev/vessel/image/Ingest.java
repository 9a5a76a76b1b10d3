package dev.vessel.image;

import dev.vessel.host.PrivateFiles;

import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Adds images to the store, all or nothing. Blobs are written (verified) into a private staging
 * directory; {@link #commit} then checks each image whole (manifest and config parse, every blob
 * present with its announced size, every layer's uncompressed digest equal to the config's
 * {@code rootfs.diff_ids}, every layer entry acceptable to {@link LayerApplier}) and only then, under
 * the index lock, moves the blobs into the store and names the images. Closing an ingest discards
 * whatever it did not commit, so a failed import, load or pull leaves nothing in the store; a
 * killed one leaves a staging directory that the next {@link ImageStore#gc} removes.
 *
 * <p>For pull: {@link #has} says whether a blob is there already (no need to fetch it),
 * {@link #writer} gives a resumable, verifying writer for a download.
 */
public final class Ingest implements AutoCloseable {
    private final ImageStore store;
    private final ImageStore.Temp staging;
    /** Layer blob → its verified uncompressed digest and size, so an image sharing a layer does not re-verify it. */
    private final Map<Digest, Verified> verified = new HashMap<>();

    private record Verified(Digest diffId, long size) {}

    Ingest(ImageStore store) throws IOException {
        this.store = store;
        this.staging = store.temp("ingest");
    }

    public ImageStore store() {
        return store;
    }

    private Path staged(Digest d) {
        return staging.path.resolve(d.hex());
    }

    /** Whether the blob is in the store or staged here. */
    public boolean has(Digest d) {
        return Files.isRegularFile(staged(d)) || store.blobs().has(d);
    }

    /** Opens a blob, staged or in the store. */
    public InputStream open(Digest d) throws IOException {
        Path p = staged(d);
        return Files.isRegularFile(p) ? Files.newInputStream(p) : store.blobs().open(d);
    }

    long size(Digest d) throws IOException {
        Path p = staged(d);
        return Files.isRegularFile(p) ? Files.size(p) : store.blobs().size(d);
    }

    /** A JSON document's bytes (at most {@link Json#MAX_DOCUMENT}). */
    public byte[] read(Digest d) throws IOException, InvalidImageException {
        Path p = staged(d);
        return BlobStore.readCapped(Files.isRegularFile(p) ? p : store.blobs().path(d), d, Json.MAX_DOCUMENT);
    }

    /**
     * Stages a blob from {@code in}, verified against {@code expected} and {@code expectedSize}
     * when given (null, -1 otherwise). Returns its digest.
     */
    public Digest putBlob(InputStream in, Digest expected, long expectedSize, String what) throws IOException, InvalidImageException {
        return BlobStore.write(staging.path, in, expected, expectedSize, what).digest();
    }

    public Digest putBytes(byte[] bytes) throws IOException {
        try {
            return putBlob(new ByteArrayInputStream(bytes), null, bytes.length, "blob");
        } catch (InvalidImageException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Stages a JSON document, serialised with the store's mapper; returns its descriptor. */
    public Descriptor putJson(Object document, String mediaType) throws IOException {
        byte[] b = Json.write(document);
        return Descriptor.of(mediaType, putBytes(b), b.length);
    }

    /**
     * A resumable writer for a blob being downloaded. Its bytes go to {@code tmp/partial-HEX}
     * (shared by successive attempts, locked by one at a time); {@link BlobWriter#offset} is how much
     * an earlier, interrupted attempt already wrote (resume from there, e.g. with an HTTP Range
     * request, or {@link BlobWriter#restart}). {@link BlobWriter#commit} verifies digest and size
     * and stages the blob.
     */
    public BlobWriter writer(Digest expected, long expectedSize) throws IOException {
        return new BlobWriter(expected, expectedSize);
    }

    /**
     * Deletes what an interrupted download of {@code d} left for resuming, unless a download holds
     * it: for a pull that failed on bad content, whose other blobs are not worth resuming.
     */
    public void discardPartial(Digest d) throws IOException {
        Path lf = store.directory().resolve("locks").resolve("partial-" + d.hex() + ".lock");
        FileLocks.Held l = FileLocks.tryExclusive(lf);
        if (l == null) {
            return;
        }
        try (l) {
            Files.deleteIfExists(store.directory().resolve("tmp").resolve("partial-" + d.hex()));
            Files.deleteIfExists(lf);
        }
    }

    /** See {@link #writer}. */
    public final class BlobWriter implements AutoCloseable {
        private final Digest expected;
        private final long expectedSize;
        private final Path file;
        private final FileLocks.Held lock;
        private final Path lockFile;
        private final boolean shared;
        private MessageDigest md;
        private FileChannel channel;
        private long offset;
        private boolean done;

        private BlobWriter(Digest expected, long expectedSize) throws IOException {
            this.expected = expected;
            this.expectedSize = expectedSize;
            Path tmp = store.directory().resolve("tmp");
            Path lf = store.directory().resolve("locks").resolve("partial-" + expected.hex() + ".lock");
            FileLocks.Held l = FileLocks.tryExclusive(lf);
            if (l != null) {
                lockFile = lf;
                lock = l;
                file = tmp.resolve("partial-" + expected.hex());
                shared = true;
            } else {
                // Another writer is downloading the same blob: download separately, no resume.
                lockFile = null;
                lock = null;
                file = staging.path.resolve(".partial-" + java.util.UUID.randomUUID());
                shared = false;
            }
            try {
                open(false);
            } catch (IOException | RuntimeException | Error e) {
                // No caller will close a writer it never got: let go of the lock here (it is held by
                // this thread, and a pull interrupted right now must still be able to discard the file).
                if (channel != null) {
                    channel.close();
                }
                if (lock != null) {
                    lock.close();
                }
                throw e;
            }
        }

        private void open(boolean truncate) throws IOException {
            if (channel != null) {
                channel.close();
            }
            md = Digest.sha256();
            channel = PrivateFiles.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.READ);
            if (truncate || (expectedSize >= 0 && channel.size() > expectedSize)) {
                channel.truncate(0);
            }
            offset = channel.size();
            // Hash what an earlier attempt wrote.
            try (InputStream in = Files.newInputStream(file)) {
                byte[] buf = new byte[1 << 16];
                long left = offset;
                while (left > 0) {
                    int n = in.read(buf, 0, (int) Math.min(buf.length, left));
                    if (n <= 0) {
                        break;
                    }
                    md.update(buf, 0, n);
                    left -= n;
                }
            }
            channel.position(offset);
        }

        /** Bytes already written (by this writer or an interrupted earlier one). */
        public long offset() {
            return offset;
        }

        /** Drops what was written: the next bytes are the blob's first. */
        public void restart() throws IOException {
            open(true);
        }

        /** Appends bytes at {@link #offset}. */
        public void write(byte[] b, int off, int len) throws IOException, InvalidImageException {
            if (expectedSize >= 0 && offset + len > expectedSize) {
                throw new InvalidImageException("blob " + expected + ": larger than its announced size of " + expectedSize + " bytes");
            }
            md.update(b, off, len);
            java.nio.ByteBuffer buf = java.nio.ByteBuffer.wrap(b, off, len);
            while (buf.hasRemaining()) {
                channel.write(buf);
            }
            offset += len;
        }

        /** An output stream over {@link #write}. */
        public OutputStream stream() {
            return new OutputStream() {
                @Override
                public void write(int b) throws IOException {
                    write(new byte[] {(byte) b}, 0, 1);
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    try {
                        BlobWriter.this.write(b, off, len);
                    } catch (InvalidImageException e) {
                        throw new IOException(e.getMessage(), e);
                    }
                }
            };
        }

        /** Verifies digest and size and stages the blob. A mismatch discards the bytes. */
        public Digest commit() throws IOException, InvalidImageException {
            channel.force(true);
            channel.close();
            Digest actual = Digest.of(md);
            long size = offset;
            if (!actual.equals(expected) || (expectedSize >= 0 && size != expectedSize)) {
                Files.deleteIfExists(file);
                done = true;
                if (!actual.equals(expected)) {
                    throw new DigestMismatchException("blob " + expected, expected, actual);
                }
                throw new InvalidImageException("blob " + expected + ": size " + size + " is not its announced size of " + expectedSize);
            }
            AtomicFiles.move(file, staged(expected));
            done = true;
            return expected;
        }

        /** Releases the writer; uncommitted bytes stay for the next attempt to resume. */
        @Override
        public void close() throws IOException {
            try {
                if (channel != null && channel.isOpen()) {
                    channel.force(true);
                    channel.close();
                }
                if (!shared && !done) {
                    Files.deleteIfExists(file);
                }
            } finally {
                if (lock != null) {
                    if (done) {
                        Files.deleteIfExists(lockFile);
                    }
                    lock.close();
                }
            }
        }
    }

    /**
     * Verifies a layer blob against its uncompressed digest (and checks its entries) now, in one
     * pass: for callers that want the failure before fetching the rest. {@link #commit} does it
     * for every layer not verified yet.
     */
    public void verifyLayer(Descriptor layer, Digest diffId, LayerApplier checker) throws IOException, InvalidImageException {
        Verified v = verified.get(layer.digest());
        if (v != null && v.diffId().equals(diffId)) {
            return;
        }
        Compression c = MediaTypes.layerCompression(layer.mediaType());
        if (c == null) {
            throw new InvalidImageException("layer " + layer.digest() + ": unsupported media type " + layer.mediaType());
        }
        MessageDigest md = Digest.sha256();
        long[] count = new long[1];
        try (InputStream raw = new BufferedInputStream(open(layer.digest()), 1 << 16);
             InputStream un = c.decompress(raw);
             InputStream hashed = new FilterInputStream(un) {
                 @Override
                 public int read() throws IOException {
                     int b = super.read();
                     if (b >= 0) {
                         md.update((byte) b);
                         count[0]++;
                     }
                     return b;
                 }

                 @Override
                 public int read(byte[] b, int off, int len) throws IOException {
                     int n = super.read(b, off, len);
                     if (n > 0) {
                         md.update(b, off, n);
                         count[0] += n;
                     }
                     return n;
                 }
             }) {
            checker.apply(hashed, layer.digest().toString());
        } catch (IOException e) {
            if (e instanceof java.nio.file.NoSuchFileException) {
                throw e;
            }
            throw new InvalidImageException("layer " + layer.digest() + ": cannot decompress (" + c.name().toLowerCase() + "): " + e.getMessage(), e);
        }
        Digest actual = Digest.of(md);
        if (!actual.equals(diffId)) {
            throw new DigestMismatchException("layer " + layer.digest() + " uncompressed (rootfs.diff_ids)", diffId, actual);
        }
        verified.put(layer.digest(), new Verified(diffId, count[0]));
    }

    /** One image to commit: its manifest (staged or in the store) and the names to give it. */
    public record Commit(Digest manifest, List<Reference> names) {
        public Commit {
            names = List.copyOf(names);
        }
    }

    /** {@link #commit(List)} of one image. */
    public Image commit(Digest manifest, List<Reference> names) throws IOException, ImageException {
        return commit(List.of(new Commit(manifest, names))).getFirst();
    }

    /**
     * Verifies every image whole, then moves their blobs into the store and names them, in one
     * change of index.json: either all of them are added or none.
     */
    public List<Image> commit(List<Commit> commits) throws IOException, ImageException {
        record Checked(Commit commit, Manifest manifest, long manifestSize, long size) {}
        List<Checked> checked = new ArrayList<>();
        Set<Digest> needed = new LinkedHashSet<>();
        for (Commit c : commits) {
            Digest md = c.manifest();
            if (!has(md)) {
                throw new InvalidImageException("manifest " + md + " is missing");
            }
            Manifest m = Manifest.parse(read(md), null, "manifest " + md);
            Descriptor cd = m.config();
            if (!has(cd.digest())) {
                throw new InvalidImageException("config " + cd.digest() + " is missing");
            }
            if (size(cd.digest()) != cd.size()) {
                throw new InvalidImageException("config " + cd.digest() + ": size " + size(cd.digest()) + " is not the manifest's " + cd.size());
            }
            ImageConfig config = ImageConfig.parse(read(cd.digest()), "config " + cd.digest());
            if (config.os() != null && !config.os().equals("linux")) {
                throw new InvalidImageException("image " + cd.digest().shortHex() + " is for " + config.os() + ", not linux");
            }
            List<Digest> diffIds = config.diffIds();
            if (diffIds.size() != m.layers().size()) {
                throw new InvalidImageException("config " + cd.digest() + " lists " + diffIds.size() + " diff_ids for "
                        + m.layers().size() + " layers");
            }
            LayerApplier checker = LayerApplier.checker(store.policy());
            long size = 0;
            for (int i = 0; i < m.layers().size(); i++) {
                Descriptor l = m.layers().get(i);
                if (!has(l.digest())) {
                    throw new InvalidImageException("layer " + l.digest() + " is missing"
                            + (l.urls().isEmpty() ? "" : " (a foreign layer: not supported)"));
                }
                if (size(l.digest()) != l.size()) {
                    throw new InvalidImageException("layer " + l.digest() + ": size " + size(l.digest()) + " is not the manifest's " + l.size());
                }
                verifyLayer(l, diffIds.get(i), checker);
                size += verified.get(l.digest()).size();
            }
            checked.add(new Checked(c, m, size(md), size));
            needed.add(md);
            needed.add(cd.digest());
            for (Descriptor l : m.layers()) {
                needed.add(l.digest());
            }
        }
        try (FileLocks.Held l = FileLocks.exclusive(store.indexLock())) {
            for (Digest d : needed) {
                Path p = staged(d);
                if (Files.isRegularFile(p)) {
                    if (!store.blobs().has(d)) {
                        AtomicFiles.move(p, store.blobs().path(d));
                    }
                } else if (!store.blobs().has(d)) {
                    throw new InvalidImageException("blob " + d + " was removed from the store while the image was being added; try again");
                }
            }
            List<Descriptor> index = store.readIndex();
            for (Checked c : checked) {
                String mt = c.manifest().mediaType() != null ? c.manifest().mediaType() : MediaTypes.OCI_MANIFEST;
                Descriptor entry = new Descriptor(mt, c.commit().manifest(), c.manifestSize(), null,
                        Map.of(ImageStore.SIZE_ANNOTATION, Long.toString(c.size()),
                                ImageStore.ID_ANNOTATION, c.manifest().config().digest().toString()), null, null);
                index = store.name(index, c.commit().manifest(), entry, c.commit().names());
            }
            store.writeIndex(index);
        }
        List<Image> out = new ArrayList<>();
        for (Checked c : checked) {
            out.add(store.image(c.commit().manifest()));
        }
        return out;
    }

    /** Discards everything not committed. */
    @Override
    public void close() throws IOException {
        staging.close();
    }
}
