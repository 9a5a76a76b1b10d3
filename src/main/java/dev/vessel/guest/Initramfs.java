package dev.vessel.guest;

import org.apache.commons.compress.archivers.cpio.CpioArchiveEntry;
import org.apache.commons.compress.archivers.cpio.CpioArchiveOutputStream;
import org.apache.commons.compress.archivers.cpio.CpioConstants;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Set;
import java.util.TreeSet;

/**
 * Writes an initramfs: a newc cpio archive the kernel unpacks into its root tmpfs. Written by
 * Java with Commons Compress, so building one needs neither root nor mount. Parent directories
 * are added automatically; entries are owned by root.
 */
public final class Initramfs implements AutoCloseable {
    private final Path target;
    private final Path temp;
    private final CpioArchiveOutputStream cpio;
    private final Set<String> directories = new TreeSet<>();
    private long inode = 1;

    private Initramfs(Path target) throws IOException {
        this.target = target;
        Files.createDirectories(target.toAbsolutePath().getParent());
        this.temp = Files.createTempFile(target.toAbsolutePath().getParent(), target.getFileName() + ".", ".tmp");
        OutputStream out = new BufferedOutputStream(Files.newOutputStream(temp), 1 << 16);
        this.cpio = new CpioArchiveOutputStream(out, CpioConstants.FORMAT_NEW, 512, StandardCharsets.UTF_8.name());
    }

    /** Starts an archive that replaces {@code target} atomically when closed. */
    public static Initramfs create(Path target) throws IOException {
        return new Initramfs(target);
    }

    public Initramfs directory(String path) throws IOException {
        String p = normalize(path);
        if (p.isEmpty() || directories.contains(p)) {
            return this;
        }
        parents(p);
        directories.add(p);
        put(p, CpioConstants.C_ISDIR | 0755, new byte[0]);
        return this;
    }

    public Initramfs file(String path, int mode, byte[] content) throws IOException {
        String p = normalize(path);
        parents(p);
        put(p, CpioConstants.C_ISREG | (mode & 07777), content);
        return this;
    }

    public Initramfs file(String path, int mode, Path source) throws IOException {
        String p = normalize(path);
        parents(p);
        long size = Files.size(source);
        CpioArchiveEntry e = entry(p, CpioConstants.C_ISREG | (mode & 07777), size);
        cpio.putArchiveEntry(e);
        try (InputStream in = Files.newInputStream(source)) {
            in.transferTo(cpio);
        }
        cpio.closeArchiveEntry();
        return this;
    }

    public Initramfs text(String path, int mode, String content) throws IOException {
        return file(path, mode, content.getBytes(StandardCharsets.UTF_8));
    }

    public Initramfs symlink(String path, String target) throws IOException {
        String p = normalize(path);
        parents(p);
        put(p, CpioConstants.C_ISLNK | 0777, target.getBytes(StandardCharsets.UTF_8));
        return this;
    }

    /** A character device node, e.g. /dev/console (5,1), which the kernel needs before devtmpfs is up. */
    public Initramfs charDevice(String path, int mode, int major, int minor) throws IOException {
        String p = normalize(path);
        parents(p);
        CpioArchiveEntry e = entry(p, CpioConstants.C_ISCHR | (mode & 07777), 0);
        e.setRemoteDeviceMaj(major);
        e.setRemoteDeviceMin(minor);
        cpio.putArchiveEntry(e);
        cpio.closeArchiveEntry();
        return this;
    }

    private void parents(String p) throws IOException {
        int slash = p.lastIndexOf('/');
        if (slash > 0) {
            directory(p.substring(0, slash));
        }
    }

    private void put(String p, long mode, byte[] content) throws IOException {
        cpio.putArchiveEntry(entry(p, mode, content.length));
        cpio.write(content);
        cpio.closeArchiveEntry();
    }

    private CpioArchiveEntry entry(String p, long mode, long size) {
        CpioArchiveEntry e = new CpioArchiveEntry(CpioConstants.FORMAT_NEW, p, size);
        e.setMode(mode);
        e.setInode(inode++);
        e.setNumberOfLinks((mode & CpioConstants.S_IFMT) == CpioConstants.C_ISDIR ? 2 : 1);
        e.setUID(0);
        e.setGID(0);
        e.setTime(0);
        return e;
    }

    private static String normalize(String path) {
        String p = path;
        while (p.startsWith("/")) {
            p = p.substring(1);
        }
        while (p.endsWith("/")) {
            p = p.substring(0, p.length() - 1);
        }
        if (p.contains("//") || p.equals("..") || p.startsWith("../") || p.contains("/../") || p.endsWith("/..")) {
            throw new IllegalArgumentException("bad initramfs path: " + path);
        }
        return p;
    }

    @Override
    public void close() throws IOException {
        try {
            cpio.finish();
            cpio.close();
            Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } finally {
            Files.deleteIfExists(temp);
        }
    }
}
