package dev.vessel.image;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LayerApplierTest {
    @TempDir
    Path tmp;

    private Path root() throws IOException {
        Path r = tmp.resolve("root");
        Files.createDirectories(r);
        return r;
    }

    private static void apply(LayerApplier a, Tars t, String name) throws Exception {
        a.apply(new ByteArrayInputStream(t.bytes()), name);
    }

    private static int mode(Path p) throws IOException {
        return ((Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS)) & 07777;
    }

    private static int uid(Path p) throws IOException {
        return (Integer) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS);
    }

    private static boolean exists(Path p) {
        return Files.exists(p, LinkOption.NOFOLLOW_LINKS);
    }

    @Test
    void preservesModesOwnersLinksAndTimes() throws Exception {
        Path r = root();
        LayerApplier a = new LayerApplier(r, UnpackPolicy.defaults());
        apply(a, Tars.tar().dir("./etc", 0750).file("./etc/passwd", "root".getBytes(), 0600, 1000, 1001)
                .file("usr/bin/tool", "x".getBytes(), 04755, 0, 0).symlink("bin", "usr/bin")
                .symlink("etc/abs", "/etc/passwd").hardlink("etc/passwd.hard", "etc/passwd").fifo("run.fifo"), "L1");
        assertEquals(0750, mode(r.resolve("etc")));
        assertEquals(0600, mode(r.resolve("etc/passwd")));
        assertEquals(1000, uid(r.resolve("etc/passwd")));
        assertEquals(1001, (Integer) Files.getAttribute(r.resolve("etc/passwd"), "unix:gid"));
        assertEquals(04755, mode(r.resolve("usr/bin/tool")));
        assertEquals(0755, mode(r.resolve("usr")), "implied parents are 0755");
        assertEquals(Path.of("usr/bin"), Files.readSymbolicLink(r.resolve("bin")));
        assertEquals(Path.of("/etc/passwd"), Files.readSymbolicLink(r.resolve("etc/abs")));
        assertEquals(Files.getAttribute(r.resolve("etc/passwd"), "unix:ino"), Files.getAttribute(r.resolve("etc/passwd.hard"), "unix:ino"));
        assertTrue(Files.readAttributes(r.resolve("run.fifo"), BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).isOther());
        assertEquals(Tars.MTIME, Files.getLastModifiedTime(r.resolve("etc/passwd")));
        assertEquals(Tars.MTIME, Files.getLastModifiedTime(r.resolve("etc")), "directory times are set after their children");
        assertEquals(Tars.MTIME, Files.getLastModifiedTime(r.resolve("bin"), LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void aDirectoryReplacedLaterInTheSameLayerGetsNoDeferredTimeNorThroughALink() throws Exception {
        Path r = root();
        Path outside = Files.createDirectories(tmp.resolve("outside/sub"));
        java.nio.file.attribute.FileTime before = java.nio.file.attribute.FileTime.fromMillis(1_000_000_000L);
        Files.setLastModifiedTime(outside, before);
        // a/sub's time waits for the end of the layer; by then `a` is a file, or a link out of the root.
        apply(new LayerApplier(r, UnpackPolicy.defaults()), Tars.tar().dir("a/sub").file("a", "now a file"), "L1");
        assertEquals("now a file", Files.readString(r.resolve("a")));
        apply(new LayerApplier(r, UnpackPolicy.defaults()),
                Tars.tar().dir("b/sub").symlink("b", tmp.resolve("outside").toString()), "L2");
        assertEquals(tmp.resolve("outside"), Files.readSymbolicLink(r.resolve("b")));
        assertEquals(before, Files.getLastModifiedTime(outside), "a time was set outside the root");
    }

    @Test
    void whiteoutDeletesFromLowerLayers() throws Exception {
        Path r = root();
        LayerApplier a = new LayerApplier(r, UnpackPolicy.defaults());
        apply(a, Tars.tar().file("a/keep", "1").file("a/gone", "2").dir("d").file("d/x", "3").file("top", "4"), "L1");
        apply(a, Tars.tar().whiteout("a/gone").whiteout("d").whiteout("top").whiteout("a/never-there"), "L2");
        assertTrue(exists(r.resolve("a/keep")));
        assertFalse(exists(r.resolve("a/gone")));
        assertFalse(exists(r.resolve("d")));
        assertFalse(exists(r.resolve("top")));
        assertFalse(exists(r.resolve("a/.wh.gone")), "markers are never created");
        assertFalse(exists(r.resolve(".wh.d")));
    }

    @Test
    void whiteoutDoesNotTouchItsOwnLayer() throws Exception {
        Path r = root();
        LayerApplier a = new LayerApplier(r, UnpackPolicy.defaults());
        apply(a, Tars.tar().file("d/lower", "1").file("f", "lower"), "L1");
        // The same layer re-creates f (before the marker) and d/new (after it).
        apply(a, Tars.tar().file("f", "upper").whiteout("f").whiteout("d").file("d/new", "2"), "L2");
        assertEquals("upper", Files.readString(r.resolve("f")));
        assertTrue(exists(r.resolve("d/new")));
        assertFalse(exists(r.resolve("d/lower")));
    }

    @Test
    void opaqueDirectoryHidesLowerChildrenOnly() throws Exception {
        Path r = root();
        LayerApplier a = new LayerApplier(r, UnpackPolicy.defaults());
        apply(a, Tars.tar().file("d/a", "1").file("d/sub/b", "2").file("other/c", "3"), "L1");
        apply(a, Tars.tar().dir("d").file("d/before", "x").opaque("d").file("d/after", "y"), "L2");
        assertTrue(exists(r.resolve("d/before")));
        assertTrue(exists(r.resolve("d/after")));
        assertFalse(exists(r.resolve("d/a")));
        assertFalse(exists(r.resolve("d/sub")));
        assertTrue(exists(r.resolve("other/c")));
        assertFalse(exists(r.resolve("d/.wh..wh..opq")));
        // An opaque marker in the lowest layer hides nothing and is not created either.
        Path r2 = tmp.resolve("r2");
        Files.createDirectories(r2);
        LayerApplier b = new LayerApplier(r2, UnpackPolicy.defaults());
        apply(b, Tars.tar().file("d/a", "1").opaque("d"), "L1");
        assertTrue(exists(r2.resolve("d/a")));
        assertFalse(exists(r2.resolve("d/.wh..wh..opq")));
    }

    @Test
    void laterLayerReplacesTypes() throws Exception {
        Path r = root();
        LayerApplier a = new LayerApplier(r, UnpackPolicy.defaults());
        apply(a, Tars.tar().file("x/y", "1").file("f", "2").symlink("s", "/nowhere"), "L1");
        apply(a, Tars.tar().file("x", "now a file").dir("f").file("s", "now a file"), "L2");
        assertEquals("now a file", Files.readString(r.resolve("x")));
        assertTrue(Files.isDirectory(r.resolve("f"), LinkOption.NOFOLLOW_LINKS));
        assertFalse(Files.isSymbolicLink(r.resolve("s")));
    }

    private LayerException hostile(Tars t, UnpackPolicy policy) throws IOException {
        Path r = root();
        LayerApplier a = new LayerApplier(r, policy);
        return assertThrows(LayerException.class, () -> a.apply(new ByteArrayInputStream(t.bytes()), "sha256:bad"));
    }

    @Test
    void rejectsDotDot() throws Exception {
        LayerException e = hostile(Tars.tar().raw("../../etc/evil", "x"), UnpackPolicy.defaults());
        assertTrue(e.getMessage().contains("sha256:bad"), e.getMessage());
        assertTrue(e.getMessage().contains("../../etc/evil"), e.getMessage());
        assertFalse(exists(tmp.resolve("etc/evil")));
        hostile(Tars.tar().raw("a/../../x", "x"), UnpackPolicy.defaults());
    }

    @Test
    void rejectsAbsolutePaths() throws Exception {
        LayerException e = hostile(Tars.tar().raw("/tmp/evil", "x"), UnpackPolicy.defaults());
        assertTrue(e.getMessage().contains("absolute"), e.getMessage());
    }

    @Test
    void rejectsWritingThroughASymlinkedParent() throws Exception {
        Path outside = tmp.resolve("outside");
        Files.createDirectories(outside);
        LayerException e = hostile(Tars.tar().symlink("escape", outside.toString()).file("escape/pwned", "x"), UnpackPolicy.defaults());
        assertTrue(e.getMessage().contains("symbolic link"), e.getMessage());
        assertFalse(exists(outside.resolve("pwned")));
        // Also when the symlink came from a lower layer, and relative.
        Path r = tmp.resolve("r3");
        Files.createDirectories(r);
        LayerApplier a = new LayerApplier(r, UnpackPolicy.defaults());
        apply(a, Tars.tar().symlink("up", "../outside"), "L1");
        assertThrows(LayerException.class, () -> apply(a, Tars.tar().file("up/pwned2", "x"), "L2"));
        assertThrows(LayerException.class, () -> apply(a, Tars.tar().whiteout("up/victim"), "L3"));
        assertFalse(exists(outside.resolve("pwned2")));
    }

    @Test
    void whiteoutThroughSymlinkDeletesNothingOutside() throws Exception {
        Path outside = tmp.resolve("outside2");
        Files.createDirectories(outside);
        Files.writeString(outside.resolve("victim"), "safe");
        Path r = root();
        LayerApplier a = new LayerApplier(r, UnpackPolicy.defaults());
        apply(a, Tars.tar().symlink("link", outside.toString()), "L1");
        assertThrows(LayerException.class, () -> apply(a, Tars.tar().opaque("link"), "L2"));
        assertTrue(exists(outside.resolve("victim")));
        // Whiting out the symlink itself removes the link, not its target.
        apply(a, Tars.tar().whiteout("link"), "L3");
        assertFalse(exists(r.resolve("link")));
        assertTrue(exists(outside.resolve("victim")));
    }

    @Test
    void replacingASymlinkDoesNotWriteThroughIt() throws Exception {
        Path outside = tmp.resolve("target-file");
        Files.writeString(outside, "safe");
        Path r = root();
        LayerApplier a = new LayerApplier(r, UnpackPolicy.defaults());
        apply(a, Tars.tar().symlink("f", outside.toString()), "L1");
        apply(a, Tars.tar().file("f", "inside"), "L2");
        assertEquals("safe", Files.readString(outside));
        assertEquals("inside", Files.readString(r.resolve("f")));
    }

    @Test
    void rejectsHardlinksOutsideOrMissing() throws Exception {
        LayerException e = hostile(Tars.tar().hardlink("passwd", "../../../etc/passwd"), UnpackPolicy.defaults());
        assertTrue(e.getMessage().contains("hard link"), e.getMessage());
        hostile(Tars.tar().hardlink("passwd", "/etc/passwd"), UnpackPolicy.defaults());
        e = hostile(Tars.tar().hardlink("x", "not/there"), UnpackPolicy.defaults());
        assertTrue(e.getMessage().contains("not in the image"), e.getMessage());
        // Through a symlinked directory pointing outside.
        e = hostile(Tars.tar().symlink("etc", "/etc").hardlink("shadow", "etc/passwd"), UnpackPolicy.defaults());
        assertTrue(e.getMessage().contains("symbolic link"), e.getMessage());
        hostile(Tars.tar().dir("d").hardlink("dl", "d"), UnpackPolicy.defaults());
    }

    @Test
    void deviceNodesRejectedOrSkipped() throws Exception {
        LayerException e = hostile(Tars.tar().charDevice("dev/mem", 1, 1), UnpackPolicy.defaults().withDevices(UnpackPolicy.Devices.REJECT));
        assertTrue(e.getMessage().contains("dev/mem") && e.getMessage().contains("device"), e.getMessage());
        Path r = tmp.resolve("skip");
        Files.createDirectories(r);
        new LayerApplier(r, UnpackPolicy.defaults().withDevices(UnpackPolicy.Devices.SKIP))
                .apply(new ByteArrayInputStream(Tars.tar().charDevice("dev/mem", 1, 1).file("ok", "1").bytes()), "L");
        assertFalse(exists(r.resolve("dev/mem")));
        assertTrue(exists(r.resolve("ok")));
    }

    @Test
    void setuidKeptStrippedOrRejected() throws Exception {
        Tars t = Tars.tar().file("su", "x".getBytes(), 06755, 0, 0);
        LayerException e = hostile(t, UnpackPolicy.defaults().withSetuid(UnpackPolicy.Setuid.REJECT));
        assertTrue(e.getMessage().contains("setuid"), e.getMessage());
        Path r = tmp.resolve("strip");
        Files.createDirectories(r);
        new LayerApplier(r, UnpackPolicy.defaults().withSetuid(UnpackPolicy.Setuid.STRIP)).apply(new ByteArrayInputStream(t.bytes()), "L");
        assertEquals(0755, mode(r.resolve("su")));
    }

    @Test
    void capsEntriesAndBytes() throws Exception {
        Tars many = Tars.tar();
        for (int i = 0; i < 20; i++) {
            many.file("f" + i, "x");
        }
        LayerException e = hostile(many, UnpackPolicy.defaults().withMaxEntries(10));
        assertTrue(e.getMessage().contains("too many entries"), e.getMessage());
        // A decompression bomb: 64 MiB of zeros, gzip-compressed to ~64 KiB; the cap is 1 MiB.
        byte[] zeros = new byte[64 << 20];
        byte[] bomb = Tars.gzip(Tars.tar().file("zeros", zeros, 0644, 0, 0).bytes());
        assertTrue(bomb.length < (1 << 20));
        Path r = tmp.resolve("bomb");
        Files.createDirectories(r);
        LayerApplier a = new LayerApplier(r, UnpackPolicy.defaults().withMaxBytes(1 << 20));
        try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(bomb))) {
            e = assertThrows(LayerException.class, () -> a.apply(in, "sha256:bomb"));
        }
        assertTrue(e.getMessage().contains("zeros") && e.getMessage().contains("limit"), e.getMessage());
        // The caps add up over layers.
        Path r2 = tmp.resolve("sum");
        Files.createDirectories(r2);
        LayerApplier b = new LayerApplier(r2, UnpackPolicy.defaults().withMaxBytes(150));
        byte[] hundred = new byte[100];
        Arrays.fill(hundred, (byte) 'a');
        b.apply(new ByteArrayInputStream(Tars.tar().file("one", hundred, 0644, 0, 0).bytes()), "L1");
        assertThrows(LayerException.class, () -> b.apply(new ByteArrayInputStream(Tars.tar().file("two", hundred, 0644, 0, 0).bytes()), "L2"));
    }

    @Test
    void malformedTarNamesTheLayer() throws Exception {
        byte[] t = Tars.tar().file("a", "hello world").bytes();
        byte[] truncated = Arrays.copyOf(t, 600);
        Path r = root();
        LayerException e = assertThrows(LayerException.class,
                () -> new LayerApplier(r, UnpackPolicy.defaults()).apply(new ByteArrayInputStream(truncated), "sha256:trunc"));
        assertTrue(e.getMessage().contains("sha256:trunc"), e.getMessage());
        byte[] garbage = new byte[1024];
        Arrays.fill(garbage, (byte) 7);
        assertThrows(LayerException.class, () -> new LayerApplier(r, UnpackPolicy.defaults()).apply(new ByteArrayInputStream(garbage), "g"));
    }

    @Test
    void invalidWhiteoutNamesRejected() throws Exception {
        hostile(Tars.tar().raw("d/.wh..", ""), UnpackPolicy.defaults());
        hostile(Tars.tar().raw(".wh.", ""), UnpackPolicy.defaults());
    }

    @Test
    void checkerReadsWithoutWriting() throws Exception {
        LayerApplier c = LayerApplier.checker(UnpackPolicy.defaults());
        c.apply(new ByteArrayInputStream(Tars.tar().file("a", "1").whiteout("b").bytes()), "L");
        assertThrows(LayerException.class, () -> LayerApplier.checker(UnpackPolicy.defaults())
                .apply(new ByteArrayInputStream(Tars.tar().raw("../x", "1").bytes()), "L"));
    }

    @Test
    void checkerRefusesWhatPassesThroughASymlink() throws Exception {
        LayerApplier c = LayerApplier.checker(UnpackPolicy.defaults());
        c.apply(new ByteArrayInputStream(Tars.tar().symlink("evil", "/etc").symlink("lib", "usr/lib").bytes()), "L1");
        LayerException e = assertThrows(LayerException.class,
                () -> c.apply(new ByteArrayInputStream(Tars.tar().file("evil/passwd", "x").bytes()), "L2"));
        assertTrue(e.getMessage().contains("evil/passwd") && e.getMessage().contains("symbolic link"), e.getMessage());
        // Hard link targets too.
        assertThrows(LayerException.class, () -> LayerApplier.checker(UnpackPolicy.defaults())
                .apply(new ByteArrayInputStream(Tars.tar().symlink("s", "/").hardlink("h", "s/etc/shadow").bytes()), "L"));
    }

    @Test
    void checkerForgetsSymlinksReplacedOrWhitedOut() throws Exception {
        LayerApplier c = LayerApplier.checker(UnpackPolicy.defaults());
        c.apply(new ByteArrayInputStream(Tars.tar().symlink("a", "/x").symlink("b", "/y").symlink("o/c", "/z").bytes()), "L1");
        // a becomes a directory, b is whited out, o is opaque: writing below them is fine now.
        c.apply(new ByteArrayInputStream(Tars.tar().dir("a").file("a/f", "1").whiteout("b").dir("b").file("b/f", "2")
                .opaque("o").dir("o/c").file("o/c/f", "3").bytes()), "L2");
    }

    @Test
    void cleanNames() {
        assertEquals("", LayerApplier.clean("./"));
        assertEquals("a/b", LayerApplier.clean("./a//b/"));
        assertEquals("a/b", LayerApplier.clean("a/./b"));
        assertThrows(IllegalArgumentException.class, () -> LayerApplier.clean("a/../b"));
        assertThrows(IllegalArgumentException.class, () -> LayerApplier.clean("/a"));
    }
}
