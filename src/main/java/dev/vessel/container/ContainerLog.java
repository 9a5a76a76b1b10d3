package dev.vessel.container;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vessel.host.PrivateFiles;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

/**
 * A container's output as docker's json-file driver keeps it: one JSON object per chunk, in order,
 * {@code {"stream":"stdout"|"stderr","time":RFC3339,"data":BASE64}} (base64 because a process may
 * write any bytes). Appended by the supervisor only; read by {@code vessel logs}.
 */
public final class ContainerLog implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** One chunk of output. */
    public record Entry(String stream, Instant time, byte[] data) {}

    private final OutputStream out;

    private ContainerLog(OutputStream out) {
        this.out = out;
    }

    public static ContainerLog append(Path file) throws IOException {
        return new ContainerLog(PrivateFiles.newOutputStream(file, StandardOpenOption.CREATE, StandardOpenOption.APPEND));
    }

    public synchronized void write(String stream, byte[] b, int off, int len) throws IOException {
        var node = JSON.createObjectNode();
        node.put("stream", stream);
        node.put("time", Instant.now().toString());
        node.put("data", Base64.getEncoder().encodeToString(java.util.Arrays.copyOfRange(b, off, off + len)));
        out.write(JSON.writeValueAsBytes(node));
        out.write('\n');
        out.flush();
    }

    @Override
    public synchronized void close() throws IOException {
        out.close();
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

    /** Entries after byte {@code offset}: whole lines only; {@code next} is where the next read starts. */
    public record Chunk(List<Entry> entries, long next) {}

    /** What was appended since {@code offset} (a torn last line is left for the next read). */
    public static Chunk readFrom(Path file, long offset) throws IOException {
        List<Entry> out = new ArrayList<>();
        if (!Files.exists(file)) {
            return new Chunk(out, offset);
        }
        byte[] tail;
        try (var ch = java.nio.channels.FileChannel.open(file)) {
            long size = ch.size();
            if (size <= offset) {
                return new Chunk(out, offset);
            }
            java.nio.ByteBuffer buf = java.nio.ByteBuffer.allocate((int) Math.min(size - offset, 64L << 20));
            ch.read(buf, offset);
            tail = java.util.Arrays.copyOf(buf.array(), buf.position());
        }
        int start = 0;
        for (int i = 0; i < tail.length; i++) {
            if (tail[i] == '\n') {
                Entry e = parse(new String(tail, start, i - start, StandardCharsets.UTF_8));
                if (e != null) {
                    out.add(e);
                }
                start = i + 1;
            }
        }
        return new Chunk(out, offset + start);
    }

    /** Every entry so far. */
    public static List<Entry> read(Path file) throws IOException {
        List<Entry> out = new ArrayList<>();
        if (!Files.exists(file)) {
            return out;
        }
        try (BufferedReader r = new BufferedReader(new InputStreamReader(Files.newInputStream(file), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                Entry e = parse(line);
                if (e != null) {
                    out.add(e);
                }
            }
        }
        return out;
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
