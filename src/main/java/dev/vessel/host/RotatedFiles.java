package dev.vessel.host;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
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

    /** Where the lines {@link #readLines} reads go, without their ends. */
    @FunctionalInterface
    public interface LineSink {
        void accept(String line);
    }

    /**
     * Passes the whole lines appended since {@code position} to {@code lines}, across files, up to
     * {@code budget} bytes (a torn last line is left for the next read); returns where the next
     * read starts. A position in a file deleted since goes on at the oldest file kept. A file with
     * a newer one after it is complete: its torn end would never be finished.
     */
    public static long readLines(Path first, long position, long budget, LineSink lines) throws IOException {
        List<Segment> segments = list(first);
        long pos = segments.isEmpty() ? position : Math.max(position, segments.getFirst().start());
        long left = budget;
        for (int i = 0; i < segments.size() && left > 0; i++) {
            Segment s = segments.get(i);
            boolean last = i == segments.size() - 1;
            long end = last ? Long.MAX_VALUE : segments.get(i + 1).start();
            if (pos >= end) {
                continue;
            }
            byte[] bytes;
            try (FileChannel ch = FileChannel.open(s.file())) {
                long from = Math.max(0, pos - s.start());
                ByteBuffer buf = ByteBuffer.allocate((int) Math.min(Math.max(0, ch.size() - from), left));
                while (buf.hasRemaining() && ch.read(buf, from + buf.position()) > 0) {
                    // fill
                }
                bytes = Arrays.copyOf(buf.array(), buf.position());
                pos = s.start() + from;
            } catch (NoSuchFileException e) {
                pos = end; // rotated away meanwhile: on to the next one
                continue;
            }
            left -= bytes.length;
            int lineStart = 0;
            for (int j = 0; j < bytes.length; j++) {
                if (bytes[j] == '\n') {
                    lines.accept(new String(bytes, lineStart, j - lineStart, StandardCharsets.UTF_8));
                    lineStart = j + 1;
                }
            }
            pos += lineStart;
            if (lineStart == 0 && bytes.length >= budget) {
                pos += bytes.length; // no line ends within a whole read: not a line, passed over
            }
            if (left <= 0) {
                break;
            }
            if (!last) {
                pos = end;
            }
        }
        return pos;
    }

    /** The file that starts at {@code start}. */
    public static Segment at(Path first, long start) {
        return new Segment(start == 0 ? first : first.resolveSibling(first.getFileName() + "." + start), start);
    }
}
