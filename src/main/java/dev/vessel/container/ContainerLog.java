package dev.vessel.container;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vessel.host.PrivateFiles;
import dev.vessel.host.RotatedFiles;
import dev.vessel.host.RotatedFiles.Segment;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * A container's output as docker's json-file driver keeps it: one JSON object per chunk, in order,
 * {@code {"stream":"stdout"|"stderr","time":RFC3339,"data":BASE64}} (base64 because a process may
 * write any bytes). Appended by the supervisor only; read by {@code vessel logs}.
 *
 * <p>The log is capped and rotated with docker's {@code local} driver limits ({@link Limits}:
 * files of 20 MiB at most, 5 files), so a guest cannot fill the host's disk; rotated files are
 * not compressed. The files are {@code container.log} (the first, at position 0) and
 * {@code container.log.P}, where P is the position of its first byte in the whole output: a file's
 * name never changes, so readers in other processes never see one renamed under them. The newest
 * file is the one being written; when the next entry would take it past the size limit, the
 * writer starts the next file, then deletes the oldest ones beyond the count limit.
 *
 * <p>A reader's position ({@link Chunk#next}) counts bytes over all files, so a reader that
 * follows the log goes on from one file to the next without losing or repeating an entry. A file
 * is complete once a newer one exists. Only a reader that falls more than the kept files behind
 * misses output: it goes on at the oldest file kept, as docker's does.
 */
public final class ContainerLog implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Chunks of output are split to at most this much data per entry: an entry stays far below a file. */
    static final int MAX_ENTRY_DATA = 16 << 10;
    /** What one read passes on at most; the next read goes on from there. */
    static final int MAX_READ = 16 << 20;

    /** One chunk of output. */
    public record Entry(String stream, Instant time, byte[] data) {}

    /**
     * How much of its output a container keeps: files of at most {@code maxSize} bytes (an entry
     * longer than that gets a file of its own), at most {@code maxFiles} of them.
     */
    public record Limits(long maxSize, int maxFiles) {
        /** Docker's {@code local} log driver: {@code max-size=20m}, {@code max-file=5}. */
        public static final Limits DEFAULT = new Limits(20L << 20, 5);

        public Limits {
            if (maxSize < 1 || maxFiles < 1) {
                throw new IllegalArgumentException("log limits must be positive: max-size " + maxSize + ", max-file " + maxFiles);
            }
        }

        /**
         * Docker's {@code --log-opt}s of the {@code local} driver, over the defaults: {@code max-size}
         * (a positive number of bytes, with k, m or g for KiB, MiB, GiB), {@code max-file} (a
         * positive count), {@code compress} (only {@code false}: rotated files stay uncompressed).
         *
         * @throws ContainerException (invalid, status 125) naming the option at fault
         */
        public static Limits fromOptions(Map<String, String> options) throws ContainerException {
            long maxSize = DEFAULT.maxSize();
            int maxFiles = DEFAULT.maxFiles();
            for (Map.Entry<String, String> o : new TreeMap<>(options).entrySet()) {
                String v = o.getValue() == null ? "" : o.getValue().strip();
                switch (o.getKey()) {
                    case "max-size" -> maxSize = size(v);
                    case "max-file" -> {
                        if (!v.matches("[0-9]{1,9}") || Integer.parseInt(v) < 1) {
                            throw ContainerException.invalid("invalid value for log option max-file: '" + v
                                    + "' (a count of files, at least 1)");
                        }
                        maxFiles = Integer.parseInt(v);
                    }
                    case "compress" -> {
                        if (!v.equals("false")) {
                            throw ContainerException.invalid("log option compress=" + v
                                    + " is not supported: rotated logs are kept uncompressed");
                        }
                    }
                    default -> throw ContainerException.invalid("unknown log opt '" + o.getKey() + "' for local log driver");
                }
            }
            return new Limits(maxSize, maxFiles);
        }

        private static long size(String v) throws ContainerException {
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("([0-9]{1,15})\\s*([kKmMgG]?)(?:[iI]?[bB])?").matcher(v);
            long n = m.matches() ? Long.parseLong(m.group(1)) : 0;
            if (n < 1) {
                throw ContainerException.invalid("invalid value for log option max-size: '" + v
                        + "' (a positive size such as 10m, 512k, 1g)");
            }
            int shift = switch (m.group(2).toLowerCase(java.util.Locale.ROOT)) {
                case "k" -> 10;
                case "m" -> 20;
                case "g" -> 30;
                default -> 0;
            };
            if (n > Long.MAX_VALUE >> shift) {
                throw ContainerException.invalid("invalid value for log option max-size: '" + v + "' is too large");
            }
            return n << shift;
        }

        /** As docker shows them in {@code HostConfig.LogConfig.Config}. */
        public Map<String, String> options() {
            return Map.of("max-size", Long.toString(maxSize), "max-file", Integer.toString(maxFiles));
        }
    }

    private final Path first;
    private final Limits limits;
    private FileChannel out;
    /** Position of the current file's first byte, and that file's size. */
    private long start;
    private long size;

    private ContainerLog(Path first, Limits limits) {
        this.first = first;
        this.limits = limits;
    }

    /** Appends to the log whose first file is {@code first}, with docker's default limits. */
    public static ContainerLog append(Path first) throws IOException {
        return append(first, Limits.DEFAULT);
    }

    /**
     * Appends to the log whose first file is {@code first} ({@code container.log}), going on in its
     * newest file. A line the last writer left torn (killed mid-write) is ended first, so it stays
     * one unreadable line and the next entry is whole.
     */
    public static ContainerLog append(Path first, Limits limits) throws IOException {
        ContainerLog log = new ContainerLog(first, limits);
        List<Segment> segments = segments(first);
        Segment newest = segments.isEmpty() ? new Segment(first, 0) : segments.getLast();
        log.open(newest);
        if (log.size > 0 && !endsWithNewline(log.out, log.size)) {
            log.writeFully(new byte[] {'\n'});
        }
        return log;
    }

    private void open(Segment s) throws IOException {
        out = PrivateFiles.open(s.file(), StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
        start = s.start();
        size = out.size();
    }

    private static boolean endsWithNewline(FileChannel ch, long size) throws IOException {
        ByteBuffer last = ByteBuffer.allocate(1);
        return ch.read(last, size - 1) == 1 && last.get(0) == '\n';
    }

    public synchronized void write(String stream, byte[] b, int off, int len) throws IOException {
        java.util.Objects.checkFromIndexSize(off, len, b.length);
        // Written by hand (the same JSON as Jackson's): the supervisor of a chatty guest does this a lot.
        byte[] head = ("{\"stream\":" + JSON.writeValueAsString(stream) + ",\"time\":\"" + Instant.now()
                + "\",\"data\":\"").getBytes(StandardCharsets.UTF_8);
        int at = off;
        do {
            int n = Math.min(len - (at - off), MAX_ENTRY_DATA);
            ByteBuffer data = Base64.getEncoder().encode(ByteBuffer.wrap(b, at, n));
            byte[] line = new byte[head.length + data.remaining() + 3];
            System.arraycopy(head, 0, line, 0, head.length);
            data.get(line, head.length, data.remaining());
            line[line.length - 3] = '"';
            line[line.length - 2] = '}';
            line[line.length - 1] = '\n';
            if (size > 0 && size + line.length > limits.maxSize()) {
                rotate();
            }
            writeFully(line);
            at += n;
        } while (at < off + len);
    }

    private void writeFully(byte[] bytes) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(bytes);
        while (buf.hasRemaining()) {
            out.write(buf, size + buf.position()); // at the end: this is the file's only writer
        }
        size += bytes.length;
    }

    /** The next file starts where this one ends; then the oldest beyond the count go. */
    private void rotate() throws IOException {
        out.close();
        long next = start + size;
        open(RotatedFiles.at(first, next));
        List<Segment> all = segments(first);
        for (int i = 0; i < all.size() - limits.maxFiles(); i++) {
            Files.deleteIfExists(all.get(i).file());
        }
    }

    @Override
    public synchronized void close() throws IOException {
        out.close();
    }

    /** The log's files, oldest first. */
    static List<Segment> segments(Path first) throws IOException {
        return RotatedFiles.list(first);
    }

    /** The file being written now (docker's {@code LogPath}). */
    public static Path currentFile(Path first) throws IOException {
        List<Segment> s = segments(first);
        return s.isEmpty() ? first : s.getLast().file();
    }

    /** Parses one line; null for a torn last line (the supervisor was killed mid-write). */
    static Entry parse(String line) {
        try {
            JsonNode n = JSON.readTree(line);
            return new Entry(n.path("stream").asText("stdout"), Instant.parse(n.path("time").asText()),
                    Base64.getDecoder().decode(n.path("data").asText("")));
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }

    /**
     * Entries after a position: whole lines only; {@code next} is where the next read starts (a
     * position over all the log's files, 0 for the beginning).
     */
    public record Chunk(List<Entry> entries, long next) {}

    /**
     * What was appended since {@code position}, across files, up to {@link #MAX_READ} bytes (a
     * torn last line is left for the next read). A position in a file deleted since goes on at the
     * oldest file kept.
     */
    public static Chunk readFrom(Path first, long position) throws IOException {
        List<Entry> out = new ArrayList<>();
        long next = RotatedFiles.readLines(first, position, MAX_READ, line -> {
            Entry e = parse(line);
            if (e != null) {
                out.add(e);
            }
        });
        return new Chunk(out, next);
    }

    /** Every entry kept, oldest first. */
    public static List<Entry> read(Path first) throws IOException {
        List<Entry> out = new ArrayList<>();
        long pos = 0;
        while (true) {
            Chunk c = readFrom(first, pos);
            out.addAll(c.entries());
            if (c.next() == pos) {
                return out;
            }
            pos = c.next();
        }
    }

    /**
     * The entries that hold the last {@code lines} lines of output (docker's --tail counts lines of
     * both streams in order); all for a negative count.
     */
    public static List<Entry> tail(List<Entry> entries, int lines) {
        if (lines < 0) {
            return entries;
        }
        record Piece(Entry owner, int from, int to, boolean endsLine) {}
        List<Piece> pieces = new ArrayList<>();
        for (Entry e : entries) {
            byte[] d = e.data();
            int from = 0;
            for (int i = 0; i < d.length; i++) {
                if (d[i] == '\n') {
                    pieces.add(new Piece(e, from, i + 1, true));
                    from = i + 1;
                }
            }
            if (from < d.length) {
                pieces.add(new Piece(e, from, d.length, false));
            }
        }
        int start = 0;
        int counted = 0;
        for (int i = pieces.size() - 1; i >= 0; i--) {
            Piece p = pieces.get(i);
            if (p.endsLine() || i == pieces.size() - 1) {
                counted++;
                if (counted > lines) {
                    start = i + 1;
                    break;
                }
            }
        }
        List<Entry> out = new ArrayList<>();
        java.io.ByteArrayOutputStream buf = new java.io.ByteArrayOutputStream();
        Entry current = null;
        for (Piece p : pieces.subList(start, pieces.size())) {
            if (current != null && p.owner() != current) {
                out.add(new Entry(current.stream(), current.time(), buf.toByteArray()));
                buf.reset();
            }
            current = p.owner();
            buf.write(current.data(), p.from(), p.to() - p.from());
        }
        if (current != null) {
            out.add(new Entry(current.stream(), current.time(), buf.toByteArray()));
        }
        return out;
    }
}
