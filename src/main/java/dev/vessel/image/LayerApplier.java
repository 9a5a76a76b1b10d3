package dev.vessel.image;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Applies image layers (uncompressed tar streams), lowest first, to a directory tree with the OCI
 * whiteout rules, treating every layer as hostile.
 *
 * <ul>
 *   <li>{@code DIR/.wh.NAME} deletes {@code DIR/NAME} as lower layers left it; {@code DIR/.wh..wh..opq}
 *       hides every child of {@code DIR} from lower layers. Neither touches what its own layer
 *       writes, wherever the marker sits in the tar; markers are never created. Other
 *       {@code .wh..wh.} names (aufs metadata) are ignored.</li>
 *   <li>Entry names are cleaned ({@code ./} prefixes, repeated slashes) and refused when absolute,
 *       when a component is {@code ..}, when they pass through a symbolic link or a non-directory
 *       already in the tree, or when they are longer than PATH_MAX. (Commons Compress makes a name
 *       from a PAX or GNU long-name record relative, dropping its leading slashes: such a name lands
 *       inside the tree, as docker puts it; only the tar header's own name reaches this check
 *       absolute.) Hard links must name an entry already in the tree (same rules, their targets
 *       are never made relative) that is not a directory. Symbolic links are created as they
 *       are, whatever they point to: nothing here ever follows one (the guest resolves them in its
 *       own root).</li>
 *   <li>Device nodes are kept, rejected or skipped, setuid/setgid bits kept, stripped or rejected,
 *       per {@link UnpackPolicy}; file bytes and entries are capped over all layers applied by one
 *       applier (decompression bombs).</li>
 *   <li>A device node kept is never made on the host: an empty regular file (mode 0) holds its
 *       place in the tree, so later entries and layers meet it as they would the node (a whiteout
 *       or a replacement removes it, nothing can be written below it), and the node itself is
 *       listed by {@link #deviceNodes()} for the image's filesystem to hold ({@link RootfsDisk}).</li>
 *   <li>Modes, numeric uids/gids, mtimes, symlinks, hard links and FIFOs are preserved; user and
 *       group names and extended attributes are not.</li>
 * </ul>
 *
 * A failure is a {@link LayerException} naming the layer and the entry; the tree is then half
 * applied, so callers unpack into a private temporary directory and discard it on failure.
 */
public final class LayerApplier {
    private static final String WHITEOUT_PREFIX = ".wh.";
    private static final String OPAQUE = ".wh..wh..opq";
    private static final String META_PREFIX = ".wh..wh.";
    private static final boolean ROOT = isRoot();

    private final Path root;
    private final UnpackPolicy policy;
    private long bytes;
    private long entries;
    /** The checker's symbolic links so far (over all layers), with the layer pass that made each. */
    private final Map<String, Object> symlinks = new java.util.HashMap<>();
    /** The device nodes in the tree so far, by path, each held by a placeholder file. */
    private final Map<String, DeviceNode> devices = new LinkedHashMap<>();

    /** Largest device numbers an image can hold: what debugfs's mknod records (major 12 bits). */
    static final int MAX_DEVICE_MAJOR = 4095;
    static final int MAX_DEVICE_MINOR = 65535;
    /** Longest device node path (UTF-8 bytes, quotes doubled) a debugfs command line takes whole. */
    private static final int MAX_DEVICE_PATH = 8000;

    /**
     * A device node of the image, at {@code path} (relative to the root) in the tree: an empty
     * regular file there holds its place.
     *
     * @param mode permission bits (07777)
     * @param mtime modification time, seconds since the epoch
     */
    record DeviceNode(String path, boolean block, int major, int minor, int mode, long uid, long gid, long mtime) {
        DeviceNode at(String other) {
            return new DeviceNode(other, block, major, minor, mode, uid, gid, mtime);
        }
    }

    public LayerApplier(Path root, UnpackPolicy policy) {
        this.root = root;
        this.policy = policy;
    }

    /** File bytes written so far over all layers. */
    public long bytes() {
        return bytes;
    }

    /** Entries read so far over all layers. */
    public long entries() {
        return entries;
    }

    /**
     * The device nodes the layers applied so far leave in the tree (whiteouts and replacements
     * honoured), in the order they were made; the tree holds an empty regular file at each path.
     */
    List<DeviceNode> deviceNodes() {
        return List.copyOf(devices.values());
    }

    /** Applies one layer. {@code layer} names it in errors (its digest). */
    public void apply(InputStream uncompressedTar, String layer) throws IOException, LayerException {
        new Pass(layer, root == null).run(uncompressedTar);
    }

    /**
     * An applier that writes nothing: it checks names, types, link targets, device nodes, setuid
     * bits and the caps (what can be checked without the tree), and consumes each stream to its
     * end (so a digest over it is complete). One checker per image: the caps add up over its layers.
     */
    public static LayerApplier checker(UnpackPolicy policy) {
        return new LayerApplier(null, policy);
    }

    /**
     * The cleaned relative path of a tar entry name ("" for the root), or throws with why it is
     * refused.
     */
    static String clean(String name) throws IllegalArgumentException {
        if (name.indexOf('\0') >= 0) {
            throw new IllegalArgumentException("name contains a NUL byte");
        }
        if (name.length() > UnpackPolicy.MAX_PATH) {
            throw new IllegalArgumentException("name longer than " + UnpackPolicy.MAX_PATH + " characters");
        }
        if (name.startsWith("/")) {
            throw new IllegalArgumentException("absolute path");
        }
        StringBuilder sb = new StringBuilder();
        for (String part : name.split("/")) {
            if (part.isEmpty() || part.equals(".")) {
                continue;
            }
            if (part.equals("..")) {
                throw new IllegalArgumentException("path escapes the root (\"..\")");
            }
            if (!sb.isEmpty()) {
                sb.append('/');
            }
            sb.append(part);
        }
        return sb.toString();
    }

    private enum Kind { FILE, DIRECTORY, SYMLINK, HARDLINK, FIFO, DEVICE, OTHER }

    /** The entry's type by its type flag (Commons Compress's isFile() is true for unknown types). */
    private static Kind kind(TarArchiveEntry e) {
        byte f = e.getLinkFlag();
        return switch (f) {
            case '5' -> Kind.DIRECTORY;
            case '0', 0, '7' -> e.getName().endsWith("/") ? Kind.DIRECTORY : Kind.FILE;
            case '1' -> Kind.HARDLINK;
            case '2' -> Kind.SYMLINK;
            case '3', '4' -> Kind.DEVICE;
            case '6' -> Kind.FIFO;
            default -> Kind.OTHER;
        };
    }

    private static String printable(byte f) {
        return f >= 32 && f < 127 ? Character.toString((char) f) : "\\" + Integer.toOctalString(f & 0xff);
    }

    /** One layer's application (or check). */
    private final class Pass {
        private final String layer;
        private final boolean dryRun;
        /** Paths this layer wrote: whiteouts in it do not touch them. */
        private final Set<String> own = new HashSet<>();
        private final Map<Path, FileTime> dirTimes = new LinkedHashMap<>();
        private String entryName;

        Pass(String layer, boolean dryRun) {
            this.layer = layer;
            this.dryRun = dryRun;
        }

        private LayerException fail(String problem) {
            return new LayerException(layer, entryName, problem);
        }

        void run(InputStream in) throws IOException, LayerException {
            TarArchiveInputStream tar = new TarArchiveInputStream(in, 10240, 512, "UTF-8", false);
            try {
                TarArchiveEntry e;
                while ((e = nextEntry(tar)) != null) {
                    entryName = e.getName();
                    if (++entries > policy.maxEntries()) {
                        throw fail("too many entries: the image exceeds the limit of " + policy.maxEntries());
                    }
                    if (e.isGlobalPaxHeader()) {
                        continue;
                    }
                    String rel;
                    try {
                        rel = clean(e.getName());
                    } catch (IllegalArgumentException x) {
                        throw fail(x.getMessage());
                    }
                    entry(tar, e, rel);
                }
                entryName = null;
                // The rest of the stream (end-of-archive blocks, padding) counts for its digest.
                in.transferTo(OutputStream.nullOutputStream());
            } catch (LayerException x) {
                throw x;
            } catch (InvalidPathException x) {
                throw fail("file name cannot be represented on this host (" + x.getReason() + "): run Vessel in a UTF-8 locale");
            } catch (IOException x) {
                if (x instanceof java.nio.file.FileSystemException fse) {
                    throw fail(fse.getClass().getSimpleName() + ": " + fse.getMessage());
                }
                throw fail("malformed tar archive: " + x.getMessage());
            }
            if (!dryRun) {
                for (Map.Entry<Path, FileTime> t : dirTimes.entrySet()) {
                    setTimes(t.getKey(), t.getValue());
                }
            }
        }

        private TarArchiveEntry nextEntry(TarArchiveInputStream tar) throws IOException {
            try {
                return tar.getNextEntry();
            } catch (IllegalArgumentException x) {
                throw new IOException(x.getMessage(), x);
            }
        }

        private void entry(TarArchiveInputStream tar, TarArchiveEntry e, String rel) throws IOException, LayerException {
            int slash = rel.lastIndexOf('/');
            String base = rel.substring(slash + 1);
            String parentRel = slash < 0 ? "" : rel.substring(0, slash);
            if (base.startsWith(WHITEOUT_PREFIX)) {
                whiteout(parentRel, base);
                return;
            }
            Kind kind = kind(e);
            if (kind == Kind.DEVICE) {
                switch (policy.devices()) {
                    case SKIP -> {
                        return;
                    }
                    case REJECT -> throw fail("device node (" + (e.isCharacterDevice() ? "character" : "block") + " "
                            + e.getDevMajor() + ":" + e.getDevMinor() + ") not allowed in an image");
                    case KEEP -> checkDevice(e, rel);
                }
            }
            if (kind == Kind.OTHER) {
                throw fail("unsupported tar entry type '" + printable(e.getLinkFlag()) + "'");
            }
            int mode = e.getMode() & 07777;
            if ((mode & 06000) != 0 && kind != Kind.SYMLINK && kind != Kind.HARDLINK) {
                switch (policy.setuid()) {
                    case KEEP -> { }
                    case STRIP -> mode &= ~06000;
                    case REJECT -> throw fail("setuid/setgid bit (mode " + Integer.toOctalString(mode) + ") not allowed");
                }
            }
            if (kind == Kind.FILE && e.getRealSize() > policy.maxBytes() - bytes) {
                throw fail("file of " + e.getRealSize() + " bytes exceeds the image size limit of " + policy.maxBytes() + " bytes");
            }
            long uid = e.getLongUserId();
            long gid = e.getLongGroupId();
            if (uid < 0 || uid >= 0xffffffffL || gid < 0 || gid >= 0xffffffffL) {
                throw fail("invalid owner " + uid + ":" + gid);
            }
            String linkRel = null;
            if (kind == Kind.HARDLINK) {
                try {
                    linkRel = clean(e.getLinkName());
                } catch (IllegalArgumentException x) {
                    throw fail("hard link target \"" + e.getLinkName() + "\": " + x.getMessage());
                }
                if (linkRel.isEmpty()) {
                    throw fail("hard link to the root directory");
                }
            }
            if (kind == Kind.SYMLINK && (e.getLinkName().isEmpty() || e.getLinkName().indexOf('\0') >= 0
                    || e.getLinkName().length() > UnpackPolicy.MAX_PATH)) {
                throw fail("invalid symbolic link target");
            }
            if (dryRun) {
                trackSymlinks(rel, kind, linkRel);
                if (kind == Kind.FILE) {
                    copy(tar, OutputStream.nullOutputStream());
                }
                return;
            }
            if (rel.isEmpty()) {
                // The root itself ("./"): only a directory can be it.
                if (kind != Kind.DIRECTORY) {
                    throw fail("the root of a layer must be a directory");
                }
                metadata(root, e, mode, true);
                return;
            }
            Path parent = parent(parentRel, true);
            Path path = parent.resolve(base);
            own.add(rel);
            if (kind == Kind.DIRECTORY) {
                BasicFileAttributes a = attrs(path);
                if (a == null || !a.isDirectory()) {
                    if (a != null) {
                        remove(path);
                    }
                    Files.createDirectory(path);
                }
                metadata(path, e, mode, true);
            } else if (kind == Kind.FILE) {
                replace(path);
                try (OutputStream out = Files.newOutputStream(path, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                        LinkOption.NOFOLLOW_LINKS)) {
                    copy(tar, out);
                }
                metadata(path, e, mode, false);
            } else if (kind == Kind.SYMLINK) {
                replace(path);
                Files.createSymbolicLink(path, Path.of(e.getLinkName()));
                metadata(path, e, mode, false);
            } else if (kind == Kind.DEVICE) {
                replace(path);
                placeholder(path);
                java.nio.file.attribute.FileTime mtime = e.getLastModifiedTime();
                devices.put(rel, new DeviceNode(rel, e.isBlockDevice(), e.getDevMajor(), e.getDevMinor(), mode, uid, gid,
                        mtime == null ? 0 : mtime.toInstant().getEpochSecond()));
            } else if (kind == Kind.HARDLINK) {
                DeviceNode node = devices.get(linkRel);
                if (node != null) {
                    // A placeholder of its own rather than a link to the target's: the image gets a
                    // second node of the same device.
                    if (!linkRel.equals(rel)) {
                        replace(path);
                        if (!devices.containsKey(linkRel)) {
                            throw fail("hard link target \"" + e.getLinkName() + "\" is not in the image");
                        }
                        placeholder(path);
                        devices.put(rel, node.at(rel));
                    }
                    return;
                }
                int ls = linkRel.lastIndexOf('/');
                Path targetParent = parent(ls < 0 ? "" : linkRel.substring(0, ls), false);
                Path target = targetParent == null ? null : targetParent.resolve(linkRel.substring(ls + 1));
                BasicFileAttributes ta = target == null ? null : attrs(target);
                if (ta == null) {
                    throw fail("hard link target \"" + e.getLinkName() + "\" is not in the image");
                }
                if (ta.isDirectory()) {
                    throw fail("hard link to a directory");
                }
                if (!linkRel.equals(rel)) {
                    replace(path);
                    Files.createLink(path, target);
                }
                // A hard link shares its target's inode: its header's metadata would overwrite the target's.
            } else if (kind == Kind.FIFO) {
                replace(path);
                NativeFs.mkfifo(path, 0600);
                metadata(path, e, mode, false);
            }
        }

        /**
         * Refuses a device node the image's filesystem cannot hold as it is: device numbers out of
         * range, or a name a debugfs command line cannot carry.
         */
        private void checkDevice(TarArchiveEntry e, String rel) throws LayerException {
            int major = e.getDevMajor();
            int minor = e.getDevMinor();
            if (major < 0 || major > MAX_DEVICE_MAJOR || minor < 0 || minor > MAX_DEVICE_MINOR) {
                throw fail("device number " + major + ":" + minor + " cannot be recorded in an image (major up to "
                        + MAX_DEVICE_MAJOR + ", minor up to " + MAX_DEVICE_MINOR + ")");
            }
            if (rel.indexOf('\n') >= 0 || rel.indexOf('\r') >= 0) {
                throw fail("a device node whose name holds a line break cannot be recorded in an image");
            }
            long quotes = rel.chars().filter(c -> c == '"').count();
            if (rel.getBytes(java.nio.charset.StandardCharsets.UTF_8).length + quotes + 1 > MAX_DEVICE_PATH) {
                throw fail("device node name too long to be recorded in an image");
            }
        }

        /** An empty regular file holding a device node's place: nobody's to read or write. */
        private void placeholder(Path path) throws IOException {
            Files.newByteChannel(path, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)).close();
            Files.setAttribute(path, "unix:mode", 0);
        }

        /**
         * The checker has no tree: it remembers which paths the entries so far made symbolic links,
         * and refuses an entry (or hard link target) below one, as applying it would.
         */
        private void trackSymlinks(String rel, Kind kind, String linkRel) throws LayerException {
            if (rel.isEmpty()) {
                return;
            }
            String through = symlinkAbove(rel);
            if (through == null && linkRel != null) {
                through = symlinkAbove(linkRel);
            }
            if (through != null) {
                throw fail("parent directory \"" + through + "\" is a symbolic link");
            }
            if (kind == Kind.SYMLINK) {
                symlinks.put(rel, this);
            } else {
                symlinks.remove(rel);
            }
        }

        /** What a whiteout hides from lower layers ({@code victim} null: an opaque directory). */
        private void forgetSymlinks(String parentRel, String victim) {
            String hidden = victim == null ? parentRel : parentRel.isEmpty() ? victim : parentRel + "/" + victim;
            String below = hidden.isEmpty() ? "" : hidden + "/";
            symlinks.entrySet().removeIf(s -> s.getValue() != this
                    && ((victim != null && s.getKey().equals(hidden)) || s.getKey().startsWith(below)));
        }

        private String symlinkAbove(String rel) {
            for (int i = rel.indexOf('/'); i >= 0; i = rel.indexOf('/', i + 1)) {
                if (symlinks.containsKey(rel.substring(0, i))) {
                    return rel.substring(0, i);
                }
            }
            return null;
        }

        private void copy(TarArchiveInputStream tar, OutputStream out) throws IOException, LayerException {
            byte[] buf = new byte[65536];
            int n;
            while ((n = tar.read(buf)) > 0) {
                bytes += n;
                if (bytes > policy.maxBytes()) {
                    throw fail("the image exceeds the size limit of " + policy.maxBytes() + " bytes");
                }
                out.write(buf, 0, n);
            }
        }

        /**
         * The directory {@code rel} (relative to the root), every component checked: a symbolic link
         * or a non-directory on the way is refused. Missing components are created when
         * {@code create} (as 0755 root:root, like docker), else null is returned.
         */
        private Path parent(String rel, boolean create) throws IOException, LayerException {
            Path cur = root;
            if (rel.isEmpty()) {
                return cur;
            }
            StringBuilder prefix = new StringBuilder();
            for (String part : rel.split("/")) {
                if (!prefix.isEmpty()) {
                    prefix.append('/');
                }
                prefix.append(part);
                cur = cur.resolve(part);
                BasicFileAttributes a = attrs(cur);
                if (a == null) {
                    if (!create) {
                        return null;
                    }
                    Files.createDirectory(cur);
                    Files.setAttribute(cur, "unix:mode", 0755);
                    own.add(prefix.toString());
                } else if (a.isSymbolicLink()) {
                    throw fail("parent directory \"" + prefix + "\" is a symbolic link");
                } else if (!a.isDirectory()) {
                    throw fail("parent \"" + prefix + "\" is not a directory");
                }
            }
            return cur;
        }

        private void whiteout(String parentRel, String base) throws IOException, LayerException {
            String victim = null;
            boolean opaque = base.equals(OPAQUE);
            if (!opaque) {
                if (base.startsWith(META_PREFIX)) {
                    return; // aufs metadata (.wh..wh.plnk, .wh..wh.aufs): not content, not a whiteout
                }
                victim = base.substring(WHITEOUT_PREFIX.length());
                if (victim.isEmpty() || victim.equals(".") || victim.equals("..")) {
                    throw fail("invalid whiteout");
                }
            }
            if (dryRun) {
                forgetSymlinks(parentRel, victim);
                return;
            }
            Path dir = parent(parentRel, false);
            if (dir == null) {
                return; // nothing below to hide
            }
            if (opaque) {
                try (DirectoryStream<Path> children = Files.newDirectoryStream(dir)) {
                    for (Path child : children) {
                        String childRel = parentRel.isEmpty() ? child.getFileName().toString() : parentRel + "/" + child.getFileName();
                        removeLower(child, childRel);
                    }
                }
            } else {
                Path p = dir.resolve(victim);
                if (attrs(p) != null) {
                    removeLower(p, parentRel.isEmpty() ? victim : parentRel + "/" + victim);
                }
            }
        }

        /**
         * Deletes what lower layers put at {@code p}, keeping what this layer wrote (and the
         * directories that hold it). Returns whether anything was kept.
         */
        private boolean removeLower(Path p, String rel) throws IOException {
            BasicFileAttributes a = attrs(p);
            if (a == null) {
                return false;
            }
            boolean mine = own.contains(rel);
            if (a.isDirectory()) {
                boolean kept = mine;
                List<Path> children = new ArrayList<>();
                try (DirectoryStream<Path> ds = Files.newDirectoryStream(p)) {
                    ds.forEach(children::add);
                }
                for (Path c : children) {
                    kept |= removeLower(c, rel + "/" + c.getFileName());
                }
                if (!kept) {
                    Files.delete(p);
                }
                return kept;
            }
            if (mine) {
                return true;
            }
            Files.delete(p);
            devices.remove(rel);
            return false;
        }

        /** Makes room for a non-directory at {@code path}. */
        private void replace(Path path) throws IOException {
            if (attrs(path) != null) {
                remove(path);
            }
        }

        private void remove(Path path) throws IOException {
            AtomicFiles.deleteTree(path);
            String rel = root.relativize(path).toString();
            devices.keySet().removeIf(d -> d.equals(rel) || d.startsWith(rel + "/"));
            // This layer's directories under it went too, and so do their deferred times: setting
            // them at the end would fail, or follow a symbolic link a later entry put on the way.
            dirTimes.keySet().removeIf(d -> d.startsWith(path));
        }

        private void metadata(Path p, TarArchiveEntry e, int mode, boolean directory) throws IOException {
            boolean symlink = kind(e) == Kind.SYMLINK;
            if (ROOT) {
                Files.setAttribute(p, "unix:uid", (int) e.getLongUserId(), LinkOption.NOFOLLOW_LINKS);
                Files.setAttribute(p, "unix:gid", (int) e.getLongGroupId(), LinkOption.NOFOLLOW_LINKS);
            }
            if (!symlink) {
                // After chown, which clears setuid bits. The path was just made by this pass and is
                // not a symbolic link; chmod by path (opening a FIFO to fchmod it would block).
                Files.setAttribute(p, "unix:mode", mode);
            }
            FileTime mtime = e.getLastModifiedTime();
            if (mtime == null) {
                return;
            }
            if (directory) {
                dirTimes.put(p, mtime);
            } else {
                setTimes(p, mtime);
            }
        }
    }

    private static void setTimes(Path p, FileTime mtime) throws IOException {
        java.time.Instant t = mtime.toInstant();
        NativeFs.setMtime(p, t.getEpochSecond(), t.getNano());
    }

    private static BasicFileAttributes attrs(Path p) throws IOException {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return null;
        } catch (FileAlreadyExistsException e) {
            throw e;
        }
    }

    private static boolean isRoot() {
        try {
            return ((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0;
        } catch (IOException | RuntimeException e) {
            return "root".equals(System.getProperty("user.name"));
        }
    }
}
