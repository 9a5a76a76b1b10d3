package dev.vessel.machine;

import dev.vessel.host.HostCommand;
import dev.vessel.host.PrivateFiles;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The helper machine's network tools, for container networks (bridges, TAPs, NAT, DNS): the host's
 * own {@code ip} (iproute2), {@code nft} (nftables) and {@code dnsmasq} (dnsmasq-base) with the
 * shared libraries they load, on a small read-only ext4 disk that the machine mounts at /usr. Its
 * dynamic loader searches /usr/lib/MULTIARCH by default, so the tools run unchanged; the glibc
 * they share with the JVM is the initramfs's.
 *
 * <p>In the machine the tools are in {@value #MACHINE_BIN} and linked into /sbin, which comes first
 * in the PATH of the agent's commands, so {@code machine exec -- ip ...} runs iproute2's. A script of
 * busybox's sh must name it {@code /usr/sbin/ip}: Debian's busybox runs its own applet of a name
 * before searching PATH, and has an {@code ip} applet (not an {@code nft} or {@code dnsmasq} one).
 *
 * <p>The disk is cached under a key of every file on it (source path, size, modification time), so
 * an upgrade of any of the packages, a library's included, builds a new one.
 */
final class NetworkToolsDisk {
    /** The tools, run in the machine by these names. */
    static final List<String> TOOLS = List.of("ip", "nft", "dnsmasq");
    /** The Debian packages that provide them (scripts/packages.sh, group machine). */
    static final List<String> PACKAGES = List.of("iproute2", "nftables", "dnsmasq-base");
    /** Where the tools are in the machine, which mounts the disk at /usr. */
    static final String MACHINE_BIN = "/usr/sbin";
    /** Where the host keeps programs, searched in this order. */
    static final List<Path> HOST_BIN_DIRS = List.of(Path.of("/usr/sbin"), Path.of("/usr/bin"), Path.of("/sbin"), Path.of("/bin"));
    /** The disk's layout; a change here must change the key. */
    static final String LAYOUT = "tools-v1";
    private static final String PREFIX = "tools-";

    private final Path dir;

    NetworkToolsDisk(Path dir) {
        this.dir = dir;
    }

    /** One file of the disk: where it goes (relative to the disk's root) and what it is on the host. */
    record Entry(String target, Path source, boolean executable) {}

    /**
     * The disk, built unless one with the same files exists. {@code provided}: libraries the
     * initramfs already carries (glibc), left off the disk.
     */
    Path ensure(Set<Path> provided) throws IOException {
        List<Entry> entries = entries(provided);
        String manifest = manifest(entries);
        Path image = dir.resolve(PREFIX + key(manifest) + ".img");
        if (Files.isRegularFile(image)) {
            return image;
        }
        Path work = Files.createTempDirectory(dir, ".tools-");
        try {
            Path root = work.resolve("root");
            for (Entry e : entries) {
                Path to = root.resolve(e.target());
                Files.createDirectories(to.getParent(), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
                Files.copy(e.source(), to);
                Files.setPosixFilePermissions(to, PosixFilePermissions.fromString(e.executable() ? "rwxr-xr-x" : "rw-r--r--"));
            }
            Path manifestFile = root.resolve("share/vessel/network-tools");
            Files.createDirectories(manifestFile.getParent());
            Files.writeString(manifestFile, manifest);
            Path tmp = work.resolve("tools.img");
            long size = MachineImage.du(root) * 5 / 4 + (8L << 20);
            // Read-only in the machine: no journal.
            HostCommand.run(null, List.of("mkfs.ext4", "-q", "-F", "-O", "^has_journal", "-L", "vessel-tools",
                    "-d", root.toString(), tmp.toString(), ((size + (1 << 20) - 1) >> 20) + "M"));
            PrivateFiles.restrict(tmp);
            Files.move(tmp, image, StandardCopyOption.ATOMIC_MOVE);
            deleteOthers(image);
            return image;
        } finally {
            MachineImage.deleteTree(work);
        }
    }

    /** The tools and the libraries they need that {@code provided} does not hold, as placed on the disk. */
    static List<Entry> entries(Set<Path> provided) throws IOException {
        Map<String, Path> programs = new LinkedHashMap<>();
        for (String tool : TOOLS) {
            programs.put(tool, findOnHost(tool, HOST_BIN_DIRS));
        }
        return entries(programs, provided);
    }

    /** {@code programs} (name in the machine to file on the host) and their libraries, as placed on the disk. */
    static List<Entry> entries(Map<String, Path> programs, Set<Path> provided) throws IOException {
        List<Entry> entries = new ArrayList<>();
        List<String> binaries = new ArrayList<>();
        for (Map.Entry<String, Path> p : programs.entrySet()) {
            entries.add(new Entry("sbin/" + p.getKey(), p.getValue(), true));
            binaries.add(p.getValue().toString());
        }
        Set<Path> providedReal = new HashSet<>();
        for (Path p : provided) {
            providedReal.add(p.toRealPath());
        }
        MachineImage.Libraries libraries = MachineImage.sharedLibraries(binaries);
        if (!libraries.missing().isEmpty()) {
            throw new IOException("the helper machine's network tools need " + String.join(", ", libraries.missing())
                    + ", which this host's loader cannot find: apt-get install --reinstall " + String.join(" ", PACKAGES));
        }
        Set<String> placed = new HashSet<>();
        for (Path lib : libraries.found()) {
            Path real = lib.toRealPath();
            // One library reached by two paths (/lib and /usr/lib on a merged /usr) goes on once.
            if (!providedReal.contains(real) && placed.add(libraryTarget(lib))) {
                entries.add(new Entry(libraryTarget(lib), real, false));
            }
        }
        return entries;
    }

    /** A tool's program on the host, its links resolved; missing, which package to install. */
    static Path findOnHost(String tool, List<Path> dirs) throws IOException {
        for (Path d : dirs) {
            Path p = d.resolve(tool);
            if (Files.isExecutable(p) && Files.isRegularFile(p)) {
                return p.toRealPath();
            }
        }
        throw new IOException("the helper machine needs " + tool + " from this host for container networks: apt-get install "
                + String.join(" ", PACKAGES));
    }

    /**
     * Where a library goes on the disk, which the machine mounts at /usr: the directory the host's
     * loader found it in, under lib/ (/lib/x86_64-linux-gnu/libz.so.1 to lib/x86_64-linux-gnu/libz.so.1),
     * by the name the loader asked for (not the file a link points to).
     */
    static String libraryTarget(Path lib) throws IOException {
        String s = lib.normalize().toString();
        for (String root : List.of("/usr/lib/", "/lib/")) {
            if (s.startsWith(root) && s.length() > root.length()) {
                return "lib/" + s.substring(root.length());
            }
        }
        throw new IOException("cannot place " + s + " on the helper machine's tools disk: not under /lib or /usr/lib");
    }

    /** One line per file: its place on the disk, its source on the host, size and modification time. */
    static String manifest(List<Entry> entries) throws IOException {
        StringBuilder sb = new StringBuilder();
        for (Entry e : entries) {
            sb.append(e.target()).append(' ').append(e.source()).append(' ').append(Files.size(e.source())).append(' ')
                    .append(Files.getLastModifiedTime(e.source()).toMillis()).append('\n');
        }
        return sb.toString();
    }

    static String key(String manifest) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            sha.update((LAYOUT + "\n" + manifest).getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(sha.digest(), 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Tools disks of earlier packages; nothing uses them once a new one is built under the start lock. */
    private void deleteOthers(Path keep) throws IOException {
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir, PREFIX + "*.img")) {
            for (Path p : s) {
                if (!p.equals(keep)) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }
}
