package dev.vessel.guest.agent;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * The static vessel-agent binary that the build (make, in generate-resources) puts on the classpath, for guest images.
 */
public final class AgentBinary {
    private AgentBinary() {}

    /** Classpath resource of the binary. */
    public static final String RESOURCE = "/dev/vessel/guest/agent/vessel-agent";
    /** File name used by {@link #extractTo(Path)}. */
    public static final String FILE_NAME = "vessel-agent";

    public static boolean isAvailable() {
        return AgentBinary.class.getResource(RESOURCE) != null;
    }

    /** Opens the binary; the caller closes the stream. */
    public static InputStream open() throws IOException {
        InputStream in = AgentBinary.class.getResourceAsStream(RESOURCE);
        if (in == null) {
            throw new IOException("classpath resource " + RESOURCE
                    + " is missing: build with Maven (make -C src/main/c/agent needs gcc and libc6-dev)");
        }
        return in;
    }

    private static volatile String fingerprint;

    /**
     * A short name for this build of the binary (its size and CRC-32), for cache keys. From a jar
     * they come from the jar's directory, without reading the ~700 KiB binary: `vm run` asks on
     * every command, and a quick-start JVM under emulation pays milliseconds per 100 KiB read.
     */
    public static String fingerprint() throws IOException {
        String f = fingerprint;
        if (f == null) {
            java.net.URL url = AgentBinary.class.getResource(RESOURCE);
            if (url == null) {
                throw new IOException("classpath resource " + RESOURCE + " is missing");
            }
            java.util.zip.ZipEntry entry = null;
            if ("jar".equals(url.getProtocol())) {
                java.net.URLConnection c = url.openConnection();
                c.setUseCaches(true);
                if (c instanceof java.net.JarURLConnection jar) {
                    entry = jar.getJarEntry();
                }
            }
            if (entry != null && entry.getCrc() != -1 && entry.getSize() != -1) {
                f = Long.toHexString(entry.getSize()) + "-" + Long.toHexString(entry.getCrc());
            } else {
                byte[] b = bytes();
                java.util.zip.CRC32 crc = new java.util.zip.CRC32();
                crc.update(b);
                f = Long.toHexString(b.length) + "-" + Long.toHexString(crc.getValue());
            }
            fingerprint = f;
        }
        return f;
    }

    public static byte[] bytes() throws IOException {
        try (InputStream in = open()) {
            return in.readAllBytes();
        }
    }

    /**
     * Writes the binary to {@code dir/vessel-agent} with mode 0755 (created or replaced atomically) and returns that
     * path. The directory is created if needed.
     */
    public static Path extractTo(Path dir) throws IOException {
        Files.createDirectories(dir);
        Path target = dir.resolve(FILE_NAME);
        Path tmp = Files.createTempFile(dir, ".vessel-agent", ".tmp");
        try {
            try (InputStream in = open()) {
                Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
            }
            if (FileSystems.getDefault().supportedFileAttributeViews().contains("posix")) {
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rwxr-xr-x"));
            } else if (!tmp.toFile().setExecutable(true, false)) {
                throw new IOException("cannot make " + tmp + " executable");
            }
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
            return target;
        } finally {
            Files.deleteIfExists(tmp);
        }
    }
}
