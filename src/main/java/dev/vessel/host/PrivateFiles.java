package dev.vessel.host;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Files and folders that only their owner may read, write or list: everything under the state
 * root ({@link StateRoot}). Folders are made 0700 and files 0600; what other programs write there
 * (mkfs, QEMU, the JVM's class-data archive) is either created empty through here first (a program
 * that opens an existing file keeps its mode) or {@linkplain #restrict restricted} afterwards.
 * Vessel never changes the process umask: Vessel is also a library inside other programs.
 */
public final class PrivateFiles {
    private PrivateFiles() {}

    private static final Set<PosixFilePermission> FILE = PosixFilePermissions.fromString("rw-------");
    private static final Set<PosixFilePermission> DIRECTORY = PosixFilePermissions.fromString("rwx------");
    private static final Set<PosixFilePermission> SHARED = EnumSet.of(
            PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE, PosixFilePermission.GROUP_EXECUTE,
            PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE, PosixFilePermission.OTHERS_EXECUTE);

    /** Mode 0600 for a file being created. */
    public static FileAttribute<Set<PosixFilePermission>> fileMode() {
        return PosixFilePermissions.asFileAttribute(FILE);
    }

    /** Mode 0700 for a folder being created. */
    public static FileAttribute<Set<PosixFilePermission>> directoryMode() {
        return PosixFilePermissions.asFileAttribute(DIRECTORY);
    }

    /** Creates {@code dir} and its missing parents, each 0700; a folder that exists is left as it is. */
    public static Path createDirectories(Path dir) throws IOException {
        return Files.createDirectories(dir, directoryMode());
    }

    /** Creates the folder {@code dir} (0700); fails if it exists. */
    public static Path createDirectory(Path dir) throws IOException {
        return Files.createDirectory(dir, directoryMode());
    }

    /** Creates an empty file (0600) unless one exists: for a file another program then opens and writes. */
    public static Path ensureFile(Path file) throws IOException {
        try {
            return Files.createFile(file, fileMode());
        } catch (FileAlreadyExistsException e) {
            return file;
        }
    }

    /** Opens {@code file} as {@link FileChannel#open} does; a file it creates is 0600. */
    public static FileChannel open(Path file, OpenOption... options) throws IOException {
        return FileChannel.open(file, Set.of(options), fileMode());
    }

    /** An output stream as {@link Files#newOutputStream} makes (create, truncate); a file it creates is 0600. */
    public static OutputStream newOutputStream(Path file, OpenOption... options) throws IOException {
        Set<OpenOption> opts = new HashSet<>(List.of(options));
        if (opts.isEmpty()) {
            opts.add(StandardOpenOption.CREATE);
            opts.add(StandardOpenOption.TRUNCATE_EXISTING);
        }
        opts.add(StandardOpenOption.WRITE);
        return Channels.newOutputStream(FileChannel.open(file, opts, fileMode()));
    }

    /** Writes {@code bytes} to {@code file} (created 0600, or truncated). */
    public static Path write(Path file, byte[] bytes) throws IOException {
        try (FileChannel ch = open(file, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            while (b.hasRemaining()) {
                ch.write(b);
            }
        }
        return file;
    }

    /** Writes {@code text} as UTF-8 to {@code file} (created 0600, or truncated). */
    public static Path writeString(Path file, String text) throws IOException {
        return write(file, text.getBytes(StandardCharsets.UTF_8));
    }

    /** Whether nobody but the owner has any permission on {@code path} (a symbolic link counts as private). */
    public static boolean isPrivate(Path path) throws IOException {
        if (Files.isSymbolicLink(path)) {
            return true;
        }
        Set<PosixFilePermission> p = Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS);
        return p.stream().noneMatch(SHARED::contains);
    }

    /**
     * Takes every group and other permission away from {@code path} (the owner's stay, an
     * executable stays executable for its owner). A symbolic link is left alone: its own mode
     * means nothing, and its target may lie anywhere.
     */
    public static void restrict(Path path) throws IOException {
        BasicFileAttributes a = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        if (!a.isSymbolicLink()) {
            restrict(path, a);
        }
    }

    private static void restrict(Path path, BasicFileAttributes a) throws IOException {
        Set<PosixFilePermission> p = Files.getPosixFilePermissions(path, LinkOption.NOFOLLOW_LINKS);
        if (p.removeAll(SHARED)) {
            // chmod(2) follows a symbolic link, but this path was no link a moment ago and its folder
            // is already private (restrictTree goes top down): no other user can swap one in.
            Files.setPosixFilePermissions(path, p);
        }
    }

    /** What {@link #restrictTree} could not restrict (another user's file, a vanished one...). */
    public record Failure(Path path, IOException error) {}

    /**
     * {@linkplain #restrict Restricts} {@code root} and everything below it, folders before what
     * they hold, never following a symbolic link. Folders {@code skip} accepts are restricted
     * themselves but not entered. Returns what could not be restricted; the rest is done anyway.
     */
    public static List<Failure> restrictTree(Path root, Predicate<Path> skip) throws IOException {
        List<Failure> failures = new ArrayList<>();
        Files.walkFileTree(root, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes a) {
                try {
                    restrict(dir, a);
                } catch (IOException e) {
                    failures.add(new Failure(dir, e));
                    return FileVisitResult.SKIP_SUBTREE;
                }
                return skip.test(dir) ? FileVisitResult.SKIP_SUBTREE : FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes a) {
                if (!a.isSymbolicLink()) {
                    try {
                        restrict(file, a);
                    } catch (IOException e) {
                        failures.add(new Failure(file, e));
                    }
                }
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFileFailed(Path file, IOException e) {
                failures.add(new Failure(file, e));
                return FileVisitResult.CONTINUE;
            }
        });
        return failures;
    }

    /** {@link #restrictTree(Path, Predicate)} entering every folder. */
    public static List<Failure> restrictTree(Path root) throws IOException {
        return restrictTree(root, p -> false);
    }
}
