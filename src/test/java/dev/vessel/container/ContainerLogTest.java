package dev.vessel.container;

import dev.vessel.host.RotatedFiles;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ContainerLogTest {
    @TempDir
    Path dir;

    private static String text(List<ContainerLog.Entry> entries) {
        StringBuilder b = new StringBuilder();
        for (ContainerLog.Entry e : entries) {
            b.append(e.stream().charAt(3)).append(':').append(new String(e.data(), StandardCharsets.UTF_8)).append('|');
        }
        return b.toString();
    }

    @Test
    void keepsStreamsAndBytesInOrderAndSkipsATornLastLine() throws Exception {
        Path f = dir.resolve("log");
        try (ContainerLog log = ContainerLog.append(f)) {
            byte[] bin = {0, (byte) 0xff, '\n'};
            log.write("stdout", "a\nb\n".getBytes(StandardCharsets.UTF_8), 0, 4);
            log.write("stderr", bin, 0, 3);
            log.write("stdout", "c".getBytes(StandardCharsets.UTF_8), 0, 1);
        }
        Files.writeString(f, "{\"stream\":\"stdout\",\"ti", StandardOpenOption.APPEND); // killed mid-write
        List<ContainerLog.Entry> all = ContainerLog.read(f);
        assertEquals(3, all.size());
        ContainerLog.Chunk first = ContainerLog.readFrom(f, 0);
        assertEquals(3, first.entries().size());
        assertEquals(0, ContainerLog.readFrom(f, first.next()).entries().size(), "the torn line waits");
        Files.writeString(f, "me\":\"2026-01-01T00:00:00Z\",\"data\":\"eA==\"}\n", StandardOpenOption.APPEND);
        ContainerLog.Chunk rest = ContainerLog.readFrom(f, first.next());
        assertEquals(1, rest.entries().size(), "the line completed later is read once");
        assertEquals("x", new String(rest.entries().getFirst().data(), StandardCharsets.UTF_8));
        assertEquals("stderr", all.get(1).stream());
        assertEquals(0xff, all.get(1).data()[1] & 0xff);
    }

    @Test
    void tailCountsLinesAcrossChunksAndStreams() {
        var t = java.time.Instant.EPOCH;
        List<ContainerLog.Entry> e = List.of(
                new ContainerLog.Entry("stdout", t, "one\ntwo\n".getBytes(StandardCharsets.UTF_8)),
                new ContainerLog.Entry("stderr", t, "three\n".getBytes(StandardCharsets.UTF_8)),
                new ContainerLog.Entry("stdout", t, "four\nfi".getBytes(StandardCharsets.UTF_8)),
                new ContainerLog.Entry("stdout", t, "ve\n".getBytes(StandardCharsets.UTF_8)));
        assertEquals("o:four\nfi|o:ve\n|", text(ContainerLog.tail(e, 2)));
        assertEquals("e:three\n|o:four\nfi|o:ve\n|", text(ContainerLog.tail(e, 3)));
        assertEquals("o:two\n|e:three\n|o:four\nfi|o:ve\n|", text(ContainerLog.tail(e, 4)));
        assertEquals(text(e), text(ContainerLog.tail(e, 100)));
        assertEquals(text(e), text(ContainerLog.tail(e, -1)));
        assertEquals("", text(ContainerLog.tail(e, 0)));
    }

    /**
     * Docker's local driver defaults: 5 files of 20 MiB at most, however much the guest writes;
     * what is kept is the newest output, read in order.
     */
    @Test
    void aChattyGuestCannotFillTheDisk() throws Exception {
        Path f = dir.resolve("container.log");
        byte[] chunk = new byte[64 << 10];
        int chunks = 1300; // 81 MiB of output, over 100 MiB in the log (base64 in JSON)
        try (ContainerLog log = ContainerLog.append(f)) {
            for (int i = 0; i < chunks; i++) {
                java.util.Arrays.fill(chunk, (byte) ('a' + i % 26));
                System.arraycopy(String.format("%08d\n", i).getBytes(StandardCharsets.US_ASCII), 0, chunk, 0, 9);
                log.write("stdout", chunk, 0, chunk.length);
            }
        }
        long total = 0;
        int files = 0;
        try (var s = Files.list(dir)) {
            for (Path p : s.toList()) {
                total += Files.size(p);
                files++;
            }
        }
        assertTrue(files <= 5, files + " files");
        assertTrue(total <= 5 * (20L << 20), total + " bytes on disk");
        List<ContainerLog.Entry> kept = ContainerLog.read(f);
        assertTrue(kept.size() > 1000, "most of the last 100 MiB is kept: " + kept.size() + " entries");
        int first = chunks - countChunks(kept);
        for (ContainerLog.Entry e : kept) {
            String d = new String(e.data(), 0, 8, StandardCharsets.US_ASCII);
            if (d.matches("[0-9]{8}")) {
                assertEquals(String.format("%08d", first++), d, "in order, none lost or repeated");
            }
        }
        assertEquals(chunks, first, "the newest output is kept");
    }

    private static int countChunks(List<ContainerLog.Entry> entries) {
        int n = 0;
        for (ContainerLog.Entry e : entries) {
            if (new String(e.data(), 0, Math.min(8, e.data().length), StandardCharsets.US_ASCII).matches("[0-9]{8}")) {
                n++;
            }
        }
        return n;
    }

    private static void line(ContainerLog log, String text) throws java.io.IOException {
        byte[] b = (text + "\n").getBytes(StandardCharsets.UTF_8);
        log.write("stdout", b, 0, b.length);
    }

    private static List<String> lines(List<ContainerLog.Entry> entries) {
        return entries.stream().map(e -> new String(e.data(), StandardCharsets.UTF_8).strip()).toList();
    }

    private static List<String> numbered(int from, int to) {
        return java.util.stream.IntStream.range(from, to).mapToObj(i -> "line " + i).toList();
    }

    @Test
    void rotatesAtTheSizeKeepsTheNewestFilesAndNamesEachByItsPosition() throws Exception {
        Path f = dir.resolve("container.log");
        ContainerLog.Limits limits = new ContainerLog.Limits(1000, 3);
        try (ContainerLog log = ContainerLog.append(f, limits)) {
            for (int i = 0; i < 100; i++) {
                line(log, "line " + i);
            }
        }
        List<RotatedFiles.Segment> segments = ContainerLog.segments(f);
        assertEquals(3, segments.size(), segments.toString());
        for (int i = 0; i < segments.size(); i++) {
            RotatedFiles.Segment s = segments.get(i);
            long size = Files.size(s.file());
            assertTrue(size <= 1000, s + ": " + size);
            assertEquals("container.log." + s.start(), s.file().getFileName().toString());
            if (i + 1 < segments.size()) {
                assertEquals(segments.get(i + 1).start(), s.start() + size, "each file starts where the last one ended");
                assertTrue(size > 1000 - 100, "a file is rotated only when the next entry does not fit");
            }
        }
        List<String> kept = lines(ContainerLog.read(f));
        int first = 100 - kept.size();
        assertEquals(numbered(first, 100), kept, "the newest entries, in order");
        assertEquals(ContainerLog.currentFile(f), segments.getLast().file());
        assertEquals(List.of("line 98", "line 99"), lines(ContainerLog.tail(ContainerLog.read(f), 2)));
    }

    @Test
    void aPositionGoesOnAcrossFilesAndPastDeletedOnes() throws Exception {
        Path f = dir.resolve("container.log");
        try (ContainerLog log = ContainerLog.append(f, new ContainerLog.Limits(300, 4))) {
            for (int i = 0; i < 3; i++) {
                line(log, "line " + i);
            }
            ContainerLog.Chunk first = ContainerLog.readFrom(f, 0);
            assertEquals(numbered(0, 3), lines(first.entries()));
            for (int i = 3; i < 12; i++) { // across at least two rotations
                line(log, "line " + i);
            }
            assertTrue(ContainerLog.segments(f).size() >= 3, ContainerLog.segments(f).toString());
            List<String> rest = new ArrayList<>();
            long pos = first.next();
            for (ContainerLog.Chunk c = ContainerLog.readFrom(f, pos); c.next() != pos; c = ContainerLog.readFrom(f, pos)) {
                rest.addAll(lines(c.entries()));
                pos = c.next();
            }
            assertEquals(numbered(3, 12), rest, "neither lost nor repeated");

            // A reader far behind: its file is gone; it goes on at the oldest kept.
            for (int i = 12; i < 60; i++) {
                line(log, "line " + i);
            }
            List<String> late = lines(ContainerLog.readFrom(f, first.next()).entries());
            long oldest = ContainerLog.segments(f).getFirst().start();
            assertTrue(oldest > first.next());
            assertEquals(lines(ContainerLog.read(f)), late);
            assertEquals("line 59", late.getLast());
        }
    }

    @Test
    void aNewWriterGoesOnInTheNewestFileAndEndsATornLine() throws Exception {
        Path f = dir.resolve("container.log");
        ContainerLog.Limits limits = new ContainerLog.Limits(400, 10);
        try (ContainerLog log = ContainerLog.append(f, limits)) {
            for (int i = 0; i < 5; i++) { // four fill the first file
                line(log, "line " + i);
            }
        }
        List<RotatedFiles.Segment> before = ContainerLog.segments(f);
        assertTrue(before.size() > 1);
        Files.writeString(before.getLast().file(), "{\"stream\":\"stdout\",\"ti", StandardOpenOption.APPEND); // killed mid-write
        try (ContainerLog log = ContainerLog.append(f, limits)) {
            line(log, "line 5");
        }
        assertEquals(before, ContainerLog.segments(f), "the newest file was continued");
        assertEquals(numbered(0, 6), lines(ContainerLog.read(f)), "the torn line is passed over, the next entry whole");
    }

    @Test
    void anOlderVesselsSingleFileIsTheFirstAndAgesOut() throws Exception {
        Path f = dir.resolve("container.log");
        try (ContainerLog log = ContainerLog.append(f, new ContainerLog.Limits(1L << 30, 1))) { // as unbounded as before
            for (int i = 0; i < 20; i++) {
                line(log, "line " + i);
            }
        }
        try (ContainerLog log = ContainerLog.append(f, new ContainerLog.Limits(200, 2))) {
            line(log, "line 20");
            assertEquals(numbered(0, 21), lines(ContainerLog.read(f)), "rotated at once, nothing lost");
            for (int i = 21; i < 30; i++) {
                line(log, "line " + i);
            }
        }
        assertFalse(Files.exists(f), "the old file went when two newer ones were there");
        assertEquals(2, ContainerLog.segments(f).size());
        assertEquals("line 29", lines(ContainerLog.read(f)).getLast());
    }

    @Test
    void largeOutputIsSplitIntoEntriesThatFitTheFiles() throws Exception {
        Path f = dir.resolve("container.log");
        byte[] big = new byte[100_000];
        java.util.Arrays.fill(big, (byte) 'x');
        try (ContainerLog log = ContainerLog.append(f, new ContainerLog.Limits(64 << 10, 100))) {
            log.write("stderr", big, 0, big.length);
        }
        List<ContainerLog.Entry> all = ContainerLog.read(f);
        assertTrue(all.size() >= 100_000 / ContainerLog.MAX_ENTRY_DATA, all.size() + " entries");
        java.io.ByteArrayOutputStream joined = new java.io.ByteArrayOutputStream();
        for (ContainerLog.Entry e : all) {
            assertEquals("stderr", e.stream());
            joined.writeBytes(e.data());
        }
        assertArrayEquals(big, joined.toByteArray());
        for (RotatedFiles.Segment s : ContainerLog.segments(f)) {
            assertTrue(Files.size(s.file()) <= 64 << 10, s.toString());
        }
    }

    @Test
    void limitsReadDockersLogOptions() throws Exception {
        assertEquals(ContainerLog.Limits.DEFAULT, ContainerLog.Limits.fromOptions(Map.of()));
        assertEquals(new ContainerLog.Limits(10L << 20, 3), ContainerLog.Limits.fromOptions(Map.of("max-size", "10m", "max-file", "3")));
        assertEquals(512L << 10, ContainerLog.Limits.fromOptions(Map.of("max-size", "512k")).maxSize());
        assertEquals(1L << 30, ContainerLog.Limits.fromOptions(Map.of("max-size", "1g")).maxSize());
        assertEquals(2L << 20, ContainerLog.Limits.fromOptions(Map.of("max-size", "2MB")).maxSize());
        assertEquals(2L << 20, ContainerLog.Limits.fromOptions(Map.of("max-size", "2mib")).maxSize());
        assertEquals(100, ContainerLog.Limits.fromOptions(Map.of("max-size", "100")).maxSize(), "bytes, as docker reads a bare number");
        assertEquals(5, ContainerLog.Limits.fromOptions(Map.of("compress", "false")).maxFiles());
        for (Map<String, String> bad : List.of(Map.of("max-size", "0"), Map.of("max-size", "-1"), Map.of("max-size", "ten"),
                Map.of("max-size", "99999999999g"), Map.of("max-file", "0"), Map.of("max-file", "x"),
                Map.of("compress", "true"), Map.of("labels", "a"))) {
            ContainerException e = assertThrows(ContainerException.class, () -> ContainerLog.Limits.fromOptions(bad), bad.toString());
            assertEquals(125, e.status());
        }
    }
}
