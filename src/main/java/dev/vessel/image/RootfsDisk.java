package dev.vessel.image;

import dev.vessel.host.HostCommand;
import dev.vessel.host.PrivateFiles;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.List;

/**
 * Builds an image's root filesystem disk: its layers applied into a private temporary tree, then
 * {@code mkfs.ext4 -d} makes a read-only ext4 of it (no journal, no lost+found, root directory
 * with the tree's owner and mode; mkfs copies every file's mode, numeric owner, mtime, symlinks,
 * hard links and FIFOs when run as root). Device nodes are never made on the host: the tree holds
 * an empty file in each one's place, and debugfs then puts the node there in the image (see
 * {@link #deviceCommands}). It is renamed into {@code disks/ID.ext4} when complete, under
 * a per-image lock, so concurrent builders build it once and a killed one leaves nothing there.
 */
final class RootfsDisk {
    private RootfsDisk() {}

    private static final long BLOCK = 4096;
    private static final long INODE_SIZE = 256;

    static Path ensure(ImageStore store, Image image) throws IOException, ImageException {
        Path disk = store.diskPath(image);
        if (Files.isRegularFile(disk)) {
            return disk;
        }
        Path lockFile = store.directory().resolve("locks").resolve("disk-" + image.id().hex() + ".lock");
        try (FileLocks.Held l = FileLocks.exclusive(lockFile);
             ImageStore.Temp work = store.temp("disk")) {
            if (Files.isRegularFile(disk)) {
                return disk;
            }
            Path rootfs = work.path.resolve("rootfs");
            Files.createDirectory(rootfs);
            Files.setAttribute(rootfs, "unix:mode", 0755);
            List<LayerApplier.DeviceNode> devices = unpack(store, image, rootfs);
            Path img = work.path.resolve("disk.ext4");
            build(rootfs, devices, img, "vessel-" + image.id().hex().substring(0, 9));
            Files.setAttribute(img, "unix:mode", 0400); // read-only, and its owner's alone
            AtomicFiles.move(img, disk);
            return disk;
        }
    }

    /**
     * Applies the image's layers, lowest first, into {@code rootfs}, re-checking each diff_id.
     * Returns the device nodes the tree holds placeholders for.
     */
    static List<LayerApplier.DeviceNode> unpack(ImageStore store, Image image, Path rootfs) throws IOException, ImageException {
        LayerApplier applier = new LayerApplier(rootfs, store.policy());
        List<Digest> diffIds = image.diffIds();
        for (int i = 0; i < image.layers().size(); i++) {
            Descriptor layer = image.layers().get(i);
            if (!store.blobs().has(layer.digest())) {
                throw new InvalidImageException("image " + image.shortId() + ": layer " + layer.digest() + " is missing from the store");
            }
            Compression c = MediaTypes.layerCompression(layer.mediaType());
            if (c == null) {
                throw new InvalidImageException("layer " + layer.digest() + ": unsupported media type " + layer.mediaType());
            }
            MessageDigest md = Digest.sha256();
            try (InputStream raw = new BufferedInputStream(store.blobs().open(layer.digest()), 1 << 16);
                 InputStream in = new DigestInputStream(c.decompress(raw), md)) {
                applier.apply(in, layer.digest().toString());
            }
            Digest actual = Digest.of(md);
            if (i < diffIds.size() && !actual.equals(diffIds.get(i))) {
                throw new DigestMismatchException("layer " + layer.digest() + " uncompressed (rootfs.diff_ids)", diffIds.get(i), actual);
            }
        }
        return applier.deviceNodes();
    }

    /** Sizes of a tree, for the filesystem that holds it. */
    record Usage(long blocks, long inodes) {}

    static Usage usage(Path root) throws IOException {
        long[] blocks = {0};
        long[] inodes = {0};
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes a) {
                inodes[0]++;
                blocks[0] += Math.max(1, (a.size() + BLOCK - 1) / BLOCK);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes a) {
                inodes[0]++;
                if (a.isRegularFile()) {
                    long b = (a.size() + BLOCK - 1) / BLOCK;
                    blocks[0] += b + b / 512; // data, and extent tree blocks for fragmented files
                } else if (a.isSymbolicLink() && a.size() >= 60) {
                    blocks[0]++;
                }
                return FileVisitResult.CONTINUE;
            }
        });
        return new Usage(blocks[0], inodes[0]);
    }

    /**
     * Runs mkfs.ext4 on the tree (grows the filesystem and retries when the estimate was short),
     * then debugfs on the image: the mkfs-made lost+found goes, the root gets the tree's mode, and
     * each of {@code devices} replaces its placeholder.
     */
    static void build(Path rootfs, List<LayerApplier.DeviceNode> devices, Path img, String label) throws IOException, InvalidImageException {
        Usage u = usage(rootfs);
        long inodes = u.inodes() + 64 + u.inodes() / 16;
        long bytes = u.blocks() * BLOCK + u.blocks() * BLOCK / 8 + inodes * INODE_SIZE + (16L << 20);
        String owner;
        int mode;
        owner = Files.getAttribute(rootfs, "unix:uid", LinkOption.NOFOLLOW_LINKS) + ":"
                + Files.getAttribute(rootfs, "unix:gid", LinkOption.NOFOLLOW_LINKS);
        mode = ((Integer) Files.getAttribute(rootfs, "unix:mode", LinkOption.NOFOLLOW_LINKS)) & 07777;
        IOException last = null;
        for (int attempt = 0; attempt < 4; attempt++) {
            long mib = (bytes + (1 << 20) - 1) >> 20;
            Files.deleteIfExists(img);
            List<String> cmd = new ArrayList<>(List.of(program("mkfs.ext4"), "-q", "-F", "-t", "ext4", "-b", "4096", "-I", "256",
                    "-N", Long.toString(inodes), "-m", "0", "-O", "^has_journal,^resize_inode", "-L", label,
                    "-E", "root_owner=" + owner + ",lazy_itable_init=0", "-d", rootfs.toString(), img.toString(), mib + "M"));
            try {
                HostCommand.run(null, cmd);
                last = null;
                break;
            } catch (IOException e) {
                last = e;
                bytes = bytes * 3 / 2;
                inodes = inodes * 5 / 4;
            }
        }
        if (last != null) {
            throw new IOException("building the image's root filesystem failed: " + last.getMessage(), last);
        }
        StringBuilder cmds = new StringBuilder();
        if (!Files.exists(rootfs.resolve("lost+found"), LinkOption.NOFOLLOW_LINKS)) {
            cmds.append("rmdir /lost+found\n"); // mkfs's own; an image's lost+found stays
        }
        cmds.append("sif / mode 0").append(Integer.toOctalString(040000 | mode)).append('\n');
        cmds.append(deviceCommands(rootfs, devices));
        Path script = img.resolveSibling("debugfs.cmds");
        PrivateFiles.writeString(script, cmds.toString());
        HostCommand.Output out = HostCommand.runCapturing(null, List.of(program("debugfs"), "-w", "-f", script.toString(), img.toString()));
        Files.delete(script);
        // debugfs exits 0 whatever its commands did; a failed one says so on stderr, after the banner.
        for (String line : out.err().split("\n")) {
            if (!line.isBlank() && !line.matches("debugfs \\S+ \\(.*\\)")) {
                throw new IOException("writing the image's root filesystem with debugfs failed: " + line.strip());
            }
        }
    }

    /**
     * The debugfs commands that turn each placeholder into its device node: remove the file mkfs
     * copied, make the node in its directory (debugfs's mknod takes the name as it is, in the
     * current directory), then set its mode, owner and times. Names are double-quoted (a quote
     * doubled); the applier refused names debugfs cannot read (line breaks, too long).
     */
    static String deviceCommands(Path rootfs, List<LayerApplier.DeviceNode> devices) throws IOException {
        StringBuilder cmds = new StringBuilder();
        for (LayerApplier.DeviceNode d : devices) {
            BasicFileAttributes a = Files.readAttributes(rootfs.resolve(d.path()), BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!a.isRegularFile() || a.size() != 0) {
                throw new IOException("the placeholder of device node /" + d.path() + " is not in the tree");
            }
            int slash = d.path().lastIndexOf('/');
            String dir = slash < 0 ? "/" : "/" + d.path().substring(0, slash);
            String name = d.path().substring(slash + 1);
            String path = quote("/" + d.path());
            cmds.append("cd ").append(quote(dir)).append('\n');
            cmds.append("rm ").append(path).append('\n');
            cmds.append("mknod ").append(quote(name)).append(d.block() ? " b " : " c ").append(d.major()).append(' ').append(d.minor())
                    .append('\n');
            cmds.append("sif ").append(path).append(" mode 0").append(Integer.toOctalString((d.block() ? 060000 : 020000) | d.mode()))
                    .append('\n');
            cmds.append("sif ").append(path).append(" uid ").append(d.uid()).append('\n');
            cmds.append("sif ").append(path).append(" gid ").append(d.gid()).append('\n');
            cmds.append("sif ").append(path).append(" atime @").append(d.mtime()).append('\n');
            cmds.append("sif ").append(path).append(" mtime @").append(d.mtime()).append('\n');
        }
        if (!devices.isEmpty()) {
            cmds.append("cd /\n");
        }
        return cmds.toString();
    }

    private static String quote(String s) {
        return "\"" + s.replace("\"", "\"\"") + "\"";
    }

    /** A program of e2fsprogs: on PATH, else in /sbin or /usr/sbin (not on a normal user's PATH). */
    static String program(String name) {
        if (HostCommand.available(name)) {
            return name;
        }
        for (String d : List.of("/usr/sbin", "/sbin")) {
            Path p = Path.of(d, name);
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return name; // HostCommand reports it as not installed
    }
}
