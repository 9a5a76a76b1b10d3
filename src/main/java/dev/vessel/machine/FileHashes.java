package dev.vessel.machine;

import dev.vessel.host.PrivateFiles;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Pattern;

/**
 * SHA-256 of host files, remembered per file version: path, inode, size, and modification and
 * change times to the nanosecond (what git's index trusts). Kept for the process's life, and in
 * a folder ({@link #rememberIn}) across processes: each container's supervisor is a new process,
 * and hashing its kernel, initramfs and image disk again (tens of MiB, under the quick-start JIT
 * that lacks the SHA intrinsics) cost half a second per `vessel run`.
 */
public final class FileHashes {
    private FileHashes() {}

    private record Key(Path path, long inode, long size, long mtimeNanos, long ctimeNanos) {
        /** The remembered hash's file name: a hash of the key itself. */
        String fileName() {
            return sha256Hex((path + "\0" + inode + "\0" + size + "\0" + mtimeNanos + "\0" + ctimeNanos)
                    .getBytes(StandardCharsets.UTF_8));
        }
    }

    private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");
    private static final Map<Key, String> CACHE = new ConcurrentHashMap<>();
    private static volatile Path folder;

    /** Also remember hashes in {@code dir} (created when needed), for later processes. */
    public static void rememberIn(Path dir) {
        folder = dir;
    }

    /** Drops what this process remembers in memory (tests: as a new process would start). */
    static void forgetInMemory() {
        CACHE.clear();
    }

    public static String sha256(Path file) throws IOException {
        Path real = file.toRealPath();
        Map<String, Object> a = Files.readAttributes(real, "unix:ino,size,lastModifiedTime,ctime");
        Key key = new Key(real, ((Number) a.get("ino")).longValue(), ((Number) a.get("size")).longValue(),
                nanos((FileTime) a.get("lastModifiedTime")), nanos((FileTime) a.get("ctime")));
        String cached = CACHE.get(key);
        if (cached != null) {
            return cached;
        }
        Path dir = folder;
        Path remembered = dir == null ? null : dir.resolve(key.fileName());
        if (remembered != null) {
            try {
                String hex = Files.readString(remembered, StandardCharsets.US_ASCII).strip();
                if (HEX64.matcher(hex).matches()) {
                    CACHE.put(key, hex);
                    return hex;
                }
            } catch (IOException e) {
                // not remembered (or unreadable): hash it
            }
        }
        MessageDigest md = sha256();
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(real)) {
            int n;
            while ((n = in.read(buf)) > 0) {
                md.update(buf, 0, n);
            }
        }
        String hex = HexFormat.of().formatHex(md.digest());
        CACHE.put(key, hex);
        if (remembered != null) {
            remember(remembered, hex);
        }
        return hex;
    }

    /** Written whole or not at all (temporary file, then rename); a failure only costs a later hash. */
    private static void remember(Path target, String hex) {
        Path tmp = target.resolveSibling("." + target.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
        try {
            PrivateFiles.createDirectories(target.getParent());
            PrivateFiles.writeString(tmp, hex + "\n");
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } catch (IOException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // nothing more to do
            }
        }
    }

    private static long nanos(FileTime t) {
        java.time.Instant i = t.toInstant();
        return i.getEpochSecond() * 1_000_000_000L + i.getNano();
    }

    private static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static String sha256Hex(byte[] b) {
        return HexFormat.of().formatHex(sha256().digest(b));
    }
}
