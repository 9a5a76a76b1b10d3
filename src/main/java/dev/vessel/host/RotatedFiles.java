package dev.vessel.host;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The files of an append-only record that is rotated without renaming: the first file is
 * {@code NAME} and holds the record from position 0, each later one {@code NAME.P}, P being the
 * position of its first byte in the whole record. A reader in another process keeps a position
 * over all files and never sees a file renamed under it. The container log and the event journal
 * are kept this way.
 */
public final class RotatedFiles {
    private RotatedFiles() {}

    /** One file of the record: where its first byte is in the whole record. */
    public record Segment(Path file, long start) {}

    /** The record's files, oldest first (none when its folder does not exist). */
    public static List<Segment> list(Path first) throws IOException {
        String name = first.getFileName().toString();
        List<Segment> out = new ArrayList<>();
        Path dir = first.toAbsolutePath().getParent();
        try (DirectoryStream<Path> ds = java.nio.file.Files.newDirectoryStream(dir, name + "*")) {
            for (Path p : ds) {
                String n = p.getFileName().toString();
                if (n.equals(name)) {
                    out.add(new Segment(p, 0));
                } else if (n.length() > name.length() + 1 && n.charAt(name.length()) == '.'
                        && n.substring(name.length() + 1).matches("[0-9]{1,18}")) {
                    out.add(new Segment(p, Long.parseLong(n.substring(name.length() + 1))));
                }
            }
        } catch (NoSuchFileException e) {
            return out;
        }
        out.sort(Comparator.comparingLong(Segment::start));
        return out;
    }

    /** The file that starts at {@code start}. */
    public static Segment at(Path first, long start) {
        return new Segment(start == 0 ? first : first.resolveSibling(first.getFileName() + "." + start), start);
    }
}
