package dev.vessel.container;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The host's side of vessel cp: a tree as a tar and back, and a container's tar that tries to leave its target. */
class HostArchiveTest {
    @TempDir
    Path dir;

    @Test
    void aTreeGoesIntoATarAndComesOutUnderAnotherName() throws Exception {
        Path src = Files.createDirectories(dir.resolve("src/conf"));
        Files.writeString(src.resolve("a.conf"), "a=1\n");
        Files.setPosixFilePermissions(src.resolve("a.conf"), PosixFilePermissions.fromString("rw-r-----"));
        Files.createSymbolicLink(src.resolve("link"), Path.of("a.conf"));
        ByteArrayOutputStream tar = new ByteArrayOutputStream();
        HostArchive.write(src, "conf", false, tar);

        Path target = dir.resolve("out/renamed");
        Files.createDirectories(target.getParent());
        HostArchive.extract(new ByteArrayInputStream(tar.toByteArray()), target, false);
        assertEquals("a=1\n", Files.readString(target.resolve("a.conf")));
        assertEquals("rw-r-----", PosixFilePermissions.toString(Files.getPosixFilePermissions(target.resolve("a.conf"))));
        assertEquals(Path.of("a.conf"), Files.readSymbolicLink(target.resolve("link")));

        ByteArrayOutputStream contents = new ByteArrayOutputStream();
        HostArchive.write(src, ".", false, contents);
        Path into = Files.createDirectories(dir.resolve("into"));
        HostArchive.extract(new ByteArrayInputStream(contents.toByteArray()), into, false);
        assertTrue(Files.isRegularFile(into.resolve("a.conf")), "path/. copies the contents");
    }

    @Test
    void aTarCannotWriteThroughALinkItMadeNorLeaveItsTarget() throws Exception {
        Path outside = Files.createDirectories(dir.resolve("outside"));
        byte[] viaLink = tar(entry("top/", TarConstants.LF_DIR, null), entry("top/l", TarConstants.LF_SYMLINK, outside.toString()),
                file("top/l/planted", "x"));
        Path target = dir.resolve("t1");
        assertThrows(ContainerException.class, () -> HostArchive.extract(new ByteArrayInputStream(viaLink), target, false));
        assertFalse(Files.exists(outside.resolve("planted")));

        byte[] up = tar(entry("top/", TarConstants.LF_DIR, null), file("top/../../escaped", "x"));
        assertThrows(ContainerException.class,
                () -> HostArchive.extract(new ByteArrayInputStream(up), dir.resolve("t2"), false));
        byte[] sideways = tar(file("top", "x"), file("other/file", "y"));
        assertThrows(ContainerException.class,
                () -> HostArchive.extract(new ByteArrayInputStream(sideways), dir.resolve("t3"), false));
        assertFalse(Files.exists(dir.resolve("escaped")));
        assertFalse(Files.exists(dir.resolve("other")));
    }

    private static TarArchiveEntry entry(String name, byte type, String link) {
        TarArchiveEntry e = new TarArchiveEntry(name, type, true);
        if (link != null) {
            e.setLinkName(link);
        }
        e.setMode(type == TarConstants.LF_DIR ? 040755 : 0120777);
        return e;
    }

    private static Object[] file(String name, String content) {
        TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_NORMAL, true);
        byte[] b = content.getBytes(StandardCharsets.UTF_8);
        e.setSize(b.length);
        e.setMode(0100644);
        return new Object[] {e, b};
    }

    private static byte[] tar(Object... entries) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (TarArchiveOutputStream out = new TarArchiveOutputStream(b)) {
            for (Object o : entries) {
                TarArchiveEntry e = o instanceof Object[] pair ? (TarArchiveEntry) pair[0] : (TarArchiveEntry) o;
                out.putArchiveEntry(e);
                if (o instanceof Object[] pair) {
                    out.write((byte[]) pair[1]);
                }
                out.closeArchiveEntry();
            }
        }
        return b.toByteArray();
    }
}
