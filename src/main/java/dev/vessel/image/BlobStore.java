package dev.vessel.image;

import dev.vessel.host.PrivateFiles;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;

/**
 * Content-addressed blobs: {@code DIR/<hex>} holds exactly the bytes whose sha256 is {@code hex}.
 * A blob is written to a temporary file in the same directory, hashed while written, fsynced,
 * checked against the digest it was announced with, and only then renamed to its name: a killed
 * writer leaves at most a {@code .tmp-*} file, never a wrong or partial blob.
 */
public final class BlobStore {
    private final Path dir;

    BlobStore(Path dir) {
        this.dir = dir;
    }

    /** The directory of the blobs ({@code images/blobs/sha256}). */
    public Path directory() {
        return dir;
    }

    public Path path(Digest d) {
        return dir.resolve(d.hex());
    }

    public boolean has(Digest d) {
        return Files.isRegularFile(path(d));
    }

    public long size(Digest d) throws IOException {
        return Files.size(path(d));
    }

    public InputStream open(Digest d) throws IOException {
        return Files.newInputStream(path(d));
    }

    /** A blob's bytes, refused when larger than {@code max}. */
    public byte[] read(Digest d, int max) throws IOException, InvalidImageException {
        return readCapped(path(d), d, max);
    }

    static byte[] readCapped(Path p, Digest d, int max) throws IOException, InvalidImageException {
        long size = Files.size(p);
        if (size > max) {
            throw new InvalidImageException("blob " + d + ": too large for a JSON document (" + size + " bytes)");
        }
        return Files.readAllBytes(p);
    }

    /** Re-hashes a stored blob; a mismatch (disk corruption, tampering) throws. */
    public void verify(Digest d) throws IOException, DigestMismatchException {
        MessageDigest md = Digest.sha256();
        try (InputStream in = open(d)) {
            byte[] buf = new byte[1 << 16];
            int n;
            while ((n = in.read(buf)) > 0) {
                md.update(buf, 0, n);
            }
        }
        Digest actual = Digest.of(md);
        if (!actual.equals(d)) {
            throw new DigestMismatchException("blob " + d, d, actual);
        }
    }

    /** Every blob's digest (temporary files and foreign names are not blobs). */
    public Set<Digest> list() throws IOException {
        Set<Digest> out = new TreeSet<>();
        if (!Files.isDirectory(dir)) {
            return out;
        }
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (Digest.isHex64(n)) {
                    out.add(new Digest(n));
                }
            }
        }
        return out;
    }

    void delete(Digest d) throws IOException {
        Files.deleteIfExists(path(d));
    }

    /** The result of a verified write. */
    record Written(Digest digest, long size) {}

    /**
     * Streams {@code in} into {@code dir/<hex>} through a temporary file: hashed, counted, fsynced,
     * verified against {@code expected} (when not null) and {@code expectedSize} (when not
     * negative), then renamed into place. {@code what} names the content in errors.
     */
    static Written write(Path dir, InputStream in, Digest expected, long expectedSize, String what)
            throws IOException, InvalidImageException {
        Path tmp = dir.resolve(".tmp-" + UUID.randomUUID());
        try {
            MessageDigest md = Digest.sha256();
            long size = 0;
            try (FileChannel ch = PrivateFiles.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                 OutputStream out = AtomicFiles.syncedOutput(ch)) {
                byte[] buf = new byte[1 << 16];
                int n;
                while ((n = in.read(buf)) > 0) {
                    md.update(buf, 0, n);
                    out.write(buf, 0, n);
                    size += n;
                    if (expectedSize >= 0 && size > expectedSize) {
                        throw new InvalidImageException(what + ": larger than its announced size of " + expectedSize + " bytes");
                    }
                }
            }
            Digest actual = Digest.of(md);
            if (expected != null && !actual.equals(expected)) {
                throw new DigestMismatchException(what, expected, actual);
            }
            if (expectedSize >= 0 && size != expectedSize) {
                throw new InvalidImageException(what + ": size " + size + " is not its announced size of " + expectedSize + " bytes");
            }
            Path target = dir.resolve(actual.hex());
            if (Files.isRegularFile(target)) {
                return new Written(actual, size); // same name, same bytes
            }
            AtomicFiles.move(tmp, target);
            return new Written(actual, size);
        } finally {
            try {
                Files.deleteIfExists(tmp);
            } catch (NoSuchFileException ignored) {
                // gone
            }
        }
    }
}
