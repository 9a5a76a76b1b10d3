package dev.vessel.container;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

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
}
