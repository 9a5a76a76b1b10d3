package dev.vessel.guest;

import dev.vessel.host.HostCommand;
import dev.vessel.host.PrivateFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The default guest kernel: Debian's current cloud kernel, the package that
 * {@code linux-image-cloud-amd64} depends on. Fetched with {@code apt-get download}, so apt checks
 * it against the signed archive; unpacked with {@code dpkg-deb -x}; cached per version with its
 * modules, because only the current version stays in the archive.
 *
 * <p>Layout: {@code DIR/<release>/vmlinuz}, {@code config}, {@code modules/} (lib/modules/<release>),
 * {@code package} (package name and version), and {@code DIR/current} naming the release in use.
 */
public final class DebianKernel {
    public static final String META_PACKAGE = "linux-image-cloud-amd64";
    private static final Pattern DEPENDS = Pattern.compile("Depends:\\s*(linux-image-(\\S+)-cloud-amd64)\\b");

    private final Path dir;

    public DebianKernel(Path dir) {
        this.dir = dir;
    }

    /** A cached kernel release. */
    public record Release(String name, Path directory) {
        public Path vmlinuz() {
            return directory.resolve("vmlinuz");
        }

        public Path modules() {
            return directory.resolve("modules");
        }

        /** The module file for {@code name} (e.g. "kvm-amd"), searched by file name under modules/kernel. */
        public Path module(String moduleName) throws IOException {
            String file = moduleName + ".ko";
            try (Stream<Path> s = Files.walk(modules().resolve("kernel"))) {
                return s.filter(p -> p.getFileName().toString().equals(file)
                                || p.getFileName().toString().equals(file.replace('-', '_'))
                                || p.getFileName().toString().equals(file.replace('_', '-')))
                        .findFirst()
                        .orElseThrow(() -> new IOException("kernel " + name + " has no module " + moduleName));
            }
        }
    }

    /** The cached release, or null when none has been fetched. */
    public Release cached() throws IOException {
        Path current = dir.resolve("current");
        if (!Files.isRegularFile(current)) {
            return null;
        }
        String name = Files.readString(current, StandardCharsets.UTF_8).strip();
        Path d = dir.resolve(name);
        if (name.isEmpty() || name.contains("/") || !Files.isRegularFile(d.resolve("vmlinuz"))) {
            return null;
        }
        return new Release(name, d);
    }

    /** The cached release, fetching the current one first if there is none. */
    public Release ensure(java.io.PrintStream progress) throws IOException {
        Release r = cached();
        return r != null ? r : fetch(progress);
    }

    /** Downloads and unpacks the kernel {@value META_PACKAGE} currently depends on. */
    public Release fetch(java.io.PrintStream progress) throws IOException {
        for (String tool : List.of("apt-cache", "apt-get", "dpkg-deb")) {
            if (!HostCommand.available(tool)) {
                throw new IOException("fetching the default kernel needs " + tool
                        + " (a Debian host); or pass --kernel PATH");
            }
        }
        String depends = HostCommand.run(null, List.of("apt-cache", "depends", META_PACKAGE));
        Matcher m = DEPENDS.matcher(depends);
        if (!m.find()) {
            throw new IOException("apt does not know " + META_PACKAGE + ": run 'apt-get update' (or pass --kernel PATH)");
        }
        String pkg = m.group(1);
        Release current = cached();
        if (current != null && Files.readString(current.directory().resolve("package")).startsWith(pkg + " ")) {
            if (progress != null) {
                progress.println("vessel: guest kernel " + current.name() + " is current");
            }
            return current;
        }
        PrivateFiles.createDirectories(dir);
        Path work = Files.createTempDirectory(dir, ".fetch-");
        try {
            if (progress != null) {
                progress.println("vessel: fetching the default guest kernel (" + pkg + ") with apt-get download");
            }
            HostCommand.run(work, List.of("apt-get", "download", "-q", pkg));
            Path deb;
            try (Stream<Path> s = Files.list(work)) {
                deb = s.filter(p -> p.getFileName().toString().endsWith(".deb")).findFirst()
                        .orElseThrow(() -> new IOException("apt-get download " + pkg + " left no .deb"));
            }
            String version = HostCommand.run(null, List.of("dpkg-deb", "-f", deb.toString(), "Version")).strip();
            Path tree = work.resolve("tree");
            HostCommand.run(null, List.of("dpkg-deb", "-x", deb.toString(), tree.toString()));
            Path boot = tree.resolve("boot");
            Path vmlinuz;
            try (Stream<Path> s = Files.list(boot)) {
                vmlinuz = s.filter(p -> p.getFileName().toString().startsWith("vmlinuz-")).findFirst()
                        .orElseThrow(() -> new IOException(pkg + " contains no /boot/vmlinuz-*"));
            }
            String release = vmlinuz.getFileName().toString().substring("vmlinuz-".length());
            Path staged = work.resolve("release");
            PrivateFiles.createDirectories(staged);
            Files.move(vmlinuz, staged.resolve("vmlinuz"));
            Path config = boot.resolve("config-" + release);
            if (Files.exists(config)) {
                Files.move(config, staged.resolve("config"));
            }
            Path modules = tree.resolve("lib/modules").resolve(release);
            if (!Files.isDirectory(modules)) {
                modules = tree.resolve("usr/lib/modules").resolve(release);
            }
            if (!Files.isDirectory(modules)) {
                throw new IOException(pkg + " contains no modules for " + release);
            }
            Files.move(modules, staged.resolve("modules"));
            PrivateFiles.writeString(staged.resolve("package"), pkg + " " + version + "\n");
            PrivateFiles.restrictTree(staged); // dpkg-deb made them readable by all
            Path target = dir.resolve(release);
            if (Files.exists(target)) {
                deleteTree(target);
            }
            Files.move(staged, target, StandardCopyOption.ATOMIC_MOVE);
            Path tmp = dir.resolve("current.tmp");
            PrivateFiles.writeString(tmp, release + "\n");
            Files.move(tmp, dir.resolve("current"), StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            if (progress != null) {
                progress.println("vessel: guest kernel " + release + " (" + pkg + " " + version + ") cached");
            }
            return new Release(release, target);
        } catch (FileAlreadyExistsException e) {
            throw new IOException("kernel cache " + dir + " changed while fetching; try again", e);
        } finally {
            deleteTree(work);
        }
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> {
                try {
                    Files.delete(p);
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }
}
