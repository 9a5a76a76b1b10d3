package dev.vessel.guest;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;

/** Finds a statically linked busybox to put into guest images (Debian's busybox-static). */
public final class Busybox {
    private Busybox() {}

    private static final Path[] CANDIDATES = {Path.of("/bin/busybox"), Path.of("/usr/bin/busybox")};

    public static Path find() throws IOException {
        String override = System.getenv("VESSEL_BUSYBOX");
        if (override != null && !override.isEmpty()) {
            Path p = Path.of(override);
            requireStatic(p);
            return p;
        }
        for (Path p : CANDIDATES) {
            if (Files.isRegularFile(p)) {
                requireStatic(p);
                return p;
            }
        }
        throw new IOException("no busybox found: install Debian's busybox-static (apt-get install busybox-static)");
    }

    /** A dynamically linked busybox would need a libc in the guest; refuse it with a clear fix. */
    static void requireStatic(Path p) throws IOException {
        if (!isStaticElf(p)) {
            throw new IOException(p + " is not a statically linked busybox: install busybox-static (apt-get install busybox-static)");
        }
    }

    /** True for an ELF64 executable without a PT_INTERP program header. */
    static boolean isStaticElf(Path p) throws IOException {
        try (InputStream in = Files.newInputStream(p)) {
            byte[] head = in.readNBytes(64);
            if (head.length < 64 || head[0] != 0x7f || head[1] != 'E' || head[2] != 'L' || head[3] != 'F' || head[4] != 2) {
                return false;
            }
            java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(head).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            long phoff = b.getLong(0x20);
            int phentsize = Short.toUnsignedInt(b.getShort(0x36));
            int phnum = Short.toUnsignedInt(b.getShort(0x38));
            if (phoff < 64 || phentsize < 56 || phnum > 64) {
                return false;
            }
            byte[] ph = new byte[phentsize * phnum];
            in.skipNBytes(phoff - 64);
            if (in.readNBytes(ph, 0, ph.length) != ph.length) {
                return false;
            }
            java.nio.ByteBuffer pb = java.nio.ByteBuffer.wrap(ph).order(java.nio.ByteOrder.LITTLE_ENDIAN);
            for (int i = 0; i < phnum; i++) {
                if (pb.getInt(i * phentsize) == 3 /* PT_INTERP */) {
                    return false;
                }
            }
            return true;
        }
    }
}
