package dev.vessel.container;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The host's side of {@code vessel cp}: a host path as a tar (to send into a container), and a
 * container's tar extracted at a host path. Extraction never leaves its target: names are cleaned
 * as for a container, and nothing is written through a symlink the tar made or found.
 */
public final class HostArchive {
    private HostArchive() {}

    /**
     * Writes {@code source} (and what is below it) as a tar whose top entry is {@code topName}
     * ("." names the contents); symlinks stay links, except {@code source} itself when
     * {@code followSource}.
     */
    public static void write(Path source, String topName, boolean followSource, OutputStream tar) throws IOException {
        TarArchiveOutputStream out = new TarArchiveOutputStream(tar, StandardCharsets.UTF_8.name());
        out.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        out.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        out.setAddPaxHeadersForNonAsciiNames(true);
        add(out, source, topName, followSource);
        out.finish();
        out.flush();
    }

    private static void add(TarArchiveOutputStream out, Path p, String name, boolean follow) throws IOException {
        LinkOption[] how = follow ? new LinkOption[0] : new LinkOption[] {LinkOption.NOFOLLOW_LINKS};
        Map<String, Object> a = Files.readAttributes(p, "unix:mode,uid,gid,lastModifiedTime,isDirectory,isSymbolicLink,isRegularFile,size", how);
        int mode = (Integer) a.get("mode");
        TarArchiveEntry e;
        if ((Boolean) a.get("isSymbolicLink")) {
            e = new TarArchiveEntry(name, TarConstants.LF_SYMLINK, true);
            e.setLinkName(Files.readSymbolicLink(p).toString());
        } else if ((Boolean) a.get("isDirectory")) {
            e = new TarArchiveEntry(name.endsWith("/") ? name : name + "/", TarConstants.LF_DIR, true);
        } else if ((Boolean) a.get("isRegularFile")) {
            e = new TarArchiveEntry(name, TarConstants.LF_NORMAL, true);
            e.setSize((Long) a.get("size"));
        } else {
            return; // devices, fifos and sockets of the host stay on the host
        }
        e.setMode(mode);
        e.setUserId((Integer) a.get("uid"));
        e.setGroupId((Integer) a.get("gid"));
        e.setModTime(((FileTime) a.get("lastModifiedTime")).toMillis());
        out.putArchiveEntry(e);
        if (e.isFile()) {
            try (InputStream in = Files.newInputStream(p)) {
                long copied = in.transferTo(new Bounded(out, e.getSize()));
                if (copied < e.getSize()) {
                    out.write(new byte[(int) Math.min(Integer.MAX_VALUE, e.getSize() - copied)]);
                }
            }
        }
        out.closeArchiveEntry();
        if (e.isDirectory()) {
            List<Path> children;
            try (Stream<Path> s = Files.list(p)) {
                children = s.sorted().toList();
            }
            String prefix = name.equals(".") ? "./" : name + "/";
            for (Path c : children) {
                add(out, c, prefix + c.getFileName(), false);
            }
        }
    }

    /** Writes at most {@code limit} bytes on: a file that grows while it is read is cut at its size. */
    private static final class Bounded extends OutputStream {
        private final OutputStream out;
        private long left;

        Bounded(OutputStream out, long limit) {
            this.out = out;
            this.left = limit;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            int n = (int) Math.min(len, left);
            out.write(b, off, n);
            left -= n;
        }
    }

    /**
     * Extracts a container's tar at {@code target}: its top entry becomes {@code target}, the
     * entries below it go below {@code target}. Owners are kept only with {@code keepOwners}
     * (docker cp -a); the files are this process's otherwise.
     */
    public static void extract(InputStream tar, Path target, boolean keepOwners) throws IOException, ContainerException {
        TarArchiveInputStream in = new TarArchiveInputStream(tar, StandardCharsets.UTF_8.name());
        List<Map.Entry<Path, FileTime>> dirTimes = new ArrayList<>();
        String top = null;
        TarArchiveEntry e;
        while ((e = in.getNextEntry()) != null) {
            String name = ContainerArchive.clean(e.getName());
            if (top == null) {
                top = name;
            }
            String rest = below(name, top, e.getName());
            Path dest = rest.isEmpty() ? target : target.resolve(rest);
            noLinkOnTheWay(target, dest);
            FileTime mtime = FileTime.fromMillis(e.getModTime().getTime());
            if (e.isDirectory()) {
                if (!Files.isDirectory(dest, LinkOption.NOFOLLOW_LINKS)) {
                    Files.deleteIfExists(dest);
                    Files.createDirectory(dest);
                }
                dirTimes.add(Map.entry(dest, mtime));
            } else {
                if (Files.isDirectory(dest, LinkOption.NOFOLLOW_LINKS)) {
                    throw ContainerException.invalid("cannot overwrite directory " + dest + " with non-directory");
                }
                if (e.isSymbolicLink()) {
                    Files.deleteIfExists(dest);
                    Files.createSymbolicLink(dest, Path.of(e.getLinkName()));
                } else if (e.isLink()) {
                    Path from = target.resolve(below(ContainerArchive.clean(e.getLinkName()), top, e.getLinkName()));
                    noLinkOnTheWay(target, from);
                    Files.deleteIfExists(dest);
                    Files.createLink(dest, from);
                } else if (e.isFile()) {
                    Path tmp = dest.resolveSibling("." + dest.getFileName() + ".vessel-cp");
                    Files.copy(in, tmp, StandardCopyOption.REPLACE_EXISTING);
                    Files.move(tmp, dest, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                } else {
                    continue; // devices and fifos of the container stay in the container
                }
            }
            if (!e.isSymbolicLink() && !e.isLink()) {
                Files.setPosixFilePermissions(dest, permissions(e.getMode()));
                Files.setLastModifiedTime(dest, mtime);
            }
            if (keepOwners) {
                Files.setAttribute(dest, "unix:uid", (int) e.getLongUserId(), LinkOption.NOFOLLOW_LINKS);
                Files.setAttribute(dest, "unix:gid", (int) e.getLongGroupId(), LinkOption.NOFOLLOW_LINKS);
            }
        }
        for (int i = dirTimes.size() - 1; i >= 0; i--) {
            Files.setLastModifiedTime(dirTimes.get(i).getKey(), dirTimes.get(i).getValue());
        }
    }

    /** Where {@code name} is below the top entry {@code top}: "" for the top itself. */
    private static String below(String name, String top, String original) throws ContainerException {
        if (name.equals(top)) {
            return "";
        }
        if (top.isEmpty()) {
            return name;
        }
        if (name.startsWith(top + "/")) {
            return name.substring(top.length() + 1);
        }
        throw ContainerException.invalid("the container's archive has an entry outside its path: " + original);
    }

    /** No directory between {@code target} and {@code dest} may be a symlink (one the tar made would lead the rest out). */
    private static void noLinkOnTheWay(Path target, Path dest) throws ContainerException {
        for (Path p = dest.getParent(); p != null && p.startsWith(target) && !p.equals(target); p = p.getParent()) {
            if (Files.isSymbolicLink(p)) {
                throw ContainerException.invalid("the container's archive writes through the symlink " + p);
            }
        }
    }

    private static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> s = EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] all = {PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE,
                PosixFilePermission.OTHERS_READ, PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE,
                PosixFilePermission.GROUP_READ, PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE,
                PosixFilePermission.OWNER_READ};
        for (int i = 0; i < all.length; i++) {
            if ((mode & (1 << i)) != 0) {
                s.add(all[i]);
            }
        }
        return s;
    }
}
