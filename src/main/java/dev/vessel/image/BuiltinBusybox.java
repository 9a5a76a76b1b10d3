package dev.vessel.image;

import dev.vessel.guest.Busybox;
import dev.vessel.host.HostCommand;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * The built-in {@code busybox} image, made on first use from the host's static busybox (Debian's
 * busybox-static): {@code /bin/busybox} with a symbolic link for each applet where
 * {@code busybox --list-full} puts it ({@code /bin/sh}, {@code /bin/ls}, {@code /usr/bin/wget}...),
 * {@code /etc/passwd} and {@code /etc/group} (root, nobody), and the directories a container
 * expects ({@code /tmp}, {@code /root}, {@code /dev}, {@code /proc}, {@code /sys}...). Config: Cmd
 * {@code ["sh"]} and a PATH. Every timestamp is the busybox binary's mtime, so the same busybox
 * always makes the same image (same digests).
 */
public final class BuiltinBusybox {
    private BuiltinBusybox() {}

    public static final Reference REFERENCE = new Reference("docker.io", "library/busybox", "latest", null);
    public static final String PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

    /** Makes the image from the host's busybox and names it {@code busybox:latest}. */
    public static Image create(ImageStore store) throws IOException, ImageException {
        return create(store, Busybox.find());
    }

    static Image create(ImageStore store, Path busybox) throws IOException, ImageException {
        FileTime mtime = Files.getLastModifiedTime(busybox);
        String created = DateTimeFormatter.ISO_INSTANT.format(mtime.toInstant().atOffset(ZoneOffset.UTC));
        List<String> applets = HostCommand.run(null, List.of(busybox.toString(), "--list-full")).lines()
                .map(String::strip).filter(s -> !s.isEmpty()).toList();
        try (Ingest ingest = store.ingest()) {
            Digest layer;
            long size;
            java.io.PipedInputStream pin = new java.io.PipedInputStream(1 << 16);
            java.io.PipedOutputStream pout = new java.io.PipedOutputStream(pin);
            IOException[] failure = new IOException[1];
            Thread writer = Thread.ofVirtual().start(() -> {
                try (OutputStream out = pout) {
                    writeTar(out, busybox, applets, mtime);
                } catch (IOException e) {
                    failure[0] = e;
                }
            });
            try (InputStream in = pin) {
                layer = ingest.putBlob(in, null, -1, "busybox layer");
            } finally {
                try {
                    writer.join();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted", e);
                }
            }
            if (failure[0] != null) {
                throw failure[0];
            }
            size = ingest.size(layer);
            ImageConfig.Config run = new ImageConfig.Config(null, null, List.of(PATH), null, List.of("sh"), null, null,
                    Map.of("dev.vessel.builtin", "busybox"), null);
            ImageConfig config = new ImageConfig(created, null, "amd64", null, "linux", run,
                    new ImageConfig.RootFs("layers", List.of(layer)),
                    List.of(new ImageConfig.History(created, "vessel: built-in busybox from " + busybox + " (busybox-static)", null, null)));
            Descriptor cd = ingest.putJson(config, MediaTypes.OCI_CONFIG);
            Descriptor md = ingest.putJson(Manifest.oci(cd, List.of(Descriptor.of(MediaTypes.OCI_LAYER, layer, size))), MediaTypes.OCI_MANIFEST);
            return ingest.commit(md.digest(), List.of(REFERENCE));
        }
    }

    private static void writeTar(OutputStream out, Path busybox, List<String> applets, FileTime mtime) throws IOException {
        TreeMap<String, Integer> dirs = new TreeMap<>();
        for (String d : List.of("bin", "dev", "etc", "home", "proc", "root", "sbin", "sys", "tmp", "usr", "usr/bin", "usr/sbin",
                "var", "var/tmp")) {
            dirs.put(d, 0755);
        }
        dirs.put("root", 0700);
        dirs.put("tmp", 01777);
        dirs.put("var/tmp", 01777);
        TreeSet<String> links = new TreeSet<>();
        for (String a : applets) {
            String p;
            try {
                p = LayerApplier.clean(a);
            } catch (IllegalArgumentException e) {
                continue;
            }
            if (p.isEmpty() || p.equals("bin/busybox")) {
                continue;
            }
            links.add(p);
            for (int i = p.indexOf('/'); i > 0; i = p.indexOf('/', i + 1)) {
                dirs.putIfAbsent(p.substring(0, i), 0755);
            }
        }
        try (TarArchiveOutputStream tar = new TarArchiveOutputStream(out, "UTF-8")) {
            tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
            for (Map.Entry<String, Integer> d : dirs.entrySet()) {
                TarArchiveEntry e = new TarArchiveEntry(d.getKey() + "/", TarConstants.LF_DIR);
                put(tar, e, d.getValue(), mtime, null);
            }
            TarArchiveEntry bb = new TarArchiveEntry("bin/busybox");
            bb.setSize(Files.size(busybox));
            try (InputStream in = Files.newInputStream(busybox)) {
                put(tar, bb, 0755, mtime, in);
            }
            small(tar, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n", mtime);
            small(tar, "etc/group", "root:x:0:\nnobody:x:65534:\n", mtime);
            for (String l : links) {
                TarArchiveEntry e = new TarArchiveEntry(l, TarConstants.LF_SYMLINK);
                e.setLinkName("/bin/busybox");
                put(tar, e, 0777, mtime, null);
            }
            tar.finish();
        }
    }

    private static void small(TarArchiveOutputStream tar, String name, String content, FileTime mtime) throws IOException {
        TarArchiveEntry e = new TarArchiveEntry(name);
        byte[] b = content.getBytes(StandardCharsets.UTF_8);
        e.setSize(b.length);
        put(tar, e, 0644, mtime, new ByteArrayInputStream(b));
    }

    private static void put(TarArchiveOutputStream tar, TarArchiveEntry e, int mode, FileTime mtime, InputStream content) throws IOException {
        e.setMode(e.isDirectory() ? 040000 | mode : e.isSymbolicLink() ? 0120000 | mode : 0100000 | mode);
        e.setUserId(0);
        e.setGroupId(0);
        e.setUserName("root");
        e.setGroupName("root");
        e.setModTime(mtime);
        tar.putArchiveEntry(e);
        if (content != null) {
            content.transferTo(tar);
        }
        tar.closeArchiveEntry();
    }
}
