package dev.vessel.image;

import com.github.luben.zstd.ZstdOutputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.List;
import java.util.zip.GZIPOutputStream;

/** Builds tar archives (layers, rootfs tarballs, image archives) for tests, hostile ones included. */
public final class Tars {
    static final FileTime MTIME = FileTime.fromMillis(1_000_000_000_000L);

    private final List<Object[]> entries = new ArrayList<>();

    public static Tars tar() {
        return new Tars();
    }

    public Tars dir(String name) {
        return dir(name, 0755);
    }

    public Tars dir(String name, int mode) {
        TarArchiveEntry e = new TarArchiveEntry(name.endsWith("/") ? name : name + "/", TarConstants.LF_DIR);
        e.setMode(040000 | mode);
        return add(e, null);
    }

    public Tars file(String name, String content) {
        return file(name, content.getBytes(StandardCharsets.UTF_8), 0644, 0, 0);
    }

    public Tars file(String name, byte[] content, int mode, int uid, int gid) {
        TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_NORMAL, true);
        e.setMode(0100000 | mode);
        e.setSize(content.length);
        e.setUserId(uid);
        e.setGroupId(gid);
        return add(e, content);
    }

    public Tars symlink(String name, String target) {
        TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_SYMLINK, true);
        e.setLinkName(target);
        e.setMode(0120777);
        return add(e, null);
    }

    public Tars hardlink(String name, String target) {
        TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_LINK, true);
        e.setLinkName(target);
        e.setMode(0100644);
        return add(e, null);
    }

    public Tars charDevice(String name, int major, int minor) {
        TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_CHR, true);
        e.setDevMajor(major);
        e.setDevMinor(minor);
        e.setMode(020666);
        return add(e, null);
    }

    public Tars blockDevice(String name, int major, int minor) {
        return device(name, true, major, minor, 0660, 0, 6);
    }

    /** A character or block device node with the given permission bits and owner. */
    public Tars device(String name, boolean block, int major, int minor, int mode, int uid, int gid) {
        TarArchiveEntry e = new TarArchiveEntry(name, block ? TarConstants.LF_BLK : TarConstants.LF_CHR, true);
        e.setDevMajor(major);
        e.setDevMinor(minor);
        e.setMode((block ? 060000 : 020000) | mode);
        e.setUserId(uid);
        e.setGroupId(gid);
        return add(e, null);
    }

    public Tars fifo(String name) {
        TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_FIFO, true);
        e.setMode(010644);
        return add(e, null);
    }

    public Tars whiteout(String dirAndName) {
        int slash = dirAndName.lastIndexOf('/');
        String name = slash < 0 ? ".wh." + dirAndName : dirAndName.substring(0, slash + 1) + ".wh." + dirAndName.substring(slash + 1);
        return file(name, new byte[0], 0644, 0, 0);
    }

    public Tars opaque(String dir) {
        return file(dir + "/.wh..wh..opq", new byte[0], 0644, 0, 0);
    }

    /** An entry with a raw name (preserveAbsolutePath), for hostile names. */
    public Tars raw(String name, String content) {
        TarArchiveEntry e = new TarArchiveEntry(name, TarConstants.LF_NORMAL, true);
        byte[] b = content.getBytes(StandardCharsets.UTF_8);
        e.setMode(0100644);
        e.setSize(b.length);
        return add(e, b);
    }

    public Tars add(TarArchiveEntry e, byte[] content) {
        e.setModTime(MTIME);
        entries.add(new Object[] {e, content});
        return this;
    }

    public byte[] bytes() {
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        write(bo);
        return bo.toByteArray();
    }

    void write(OutputStream out) {
        try (TarArchiveOutputStream t = new TarArchiveOutputStream(out, "UTF-8")) {
            t.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            t.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
            t.setAddPaxHeadersForNonAsciiNames(true);
            for (Object[] x : entries) {
                t.putArchiveEntry((TarArchiveEntry) x[0]);
                if (x[1] != null) {
                    t.write((byte[]) x[1]);
                }
                t.closeArchiveEntry();
            }
            t.finish();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    public static byte[] gzip(byte[] b) {
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        try (GZIPOutputStream g = new GZIPOutputStream(bo)) {
            g.write(b);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bo.toByteArray();
    }

    public static byte[] zstd(byte[] b) {
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        try (ZstdOutputStream z = new ZstdOutputStream(bo)) {
            z.write(b);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bo.toByteArray();
    }
}
