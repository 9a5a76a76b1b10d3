package dev.vessel.devices.block;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FileBackendTest {
    @TempDir
    Path dir;

    @Test
    void readsWritesFlushesAndPunchesHoles() throws Exception {
        Path img = dir.resolve("disk.img");
        try (var f = java.nio.channels.FileChannel.open(img, java.nio.file.StandardOpenOption.CREATE_NEW,
                java.nio.file.StandardOpenOption.WRITE)) {
            f.truncate(0);
            f.write(java.nio.ByteBuffer.wrap(new byte[] {1}), (1 << 20) - 1);
        }
        try (FileBackend b = FileBackend.open(img, false); Arena arena = Arena.ofConfined()) {
            assertEquals(1 << 20, b.size());
            MemorySegment data = arena.allocate(8192);
            for (int i = 0; i < 8192; i++) {
                data.set(ValueLayout.JAVA_BYTE, i, (byte) i);
            }
            b.write(4096, data);
            b.flush();
            MemorySegment back = arena.allocate(8192);
            b.read(4096, back);
            assertArrayEquals(data.toArray(ValueLayout.JAVA_BYTE), back.toArray(ValueLayout.JAVA_BYTE));
            assertEquals((byte) 7, Files.readAllBytes(img)[4096 + 7]);
            if (b.supportsDiscard()) {
                b.discard(4096, 4096);
                b.read(4096, back);
                assertEquals(0, back.get(ValueLayout.JAVA_BYTE, 100), "the punched page reads as zeros");
                assertEquals((byte) (4096 + 100), back.get(ValueLayout.JAVA_BYTE, 4096 + 100), "the next page is kept");
            }
        }
    }

    @Test
    void readOnlyRefusesWrites() throws Exception {
        Path img = Files.write(dir.resolve("ro.img"), new byte[4096]);
        try (FileBackend b = FileBackend.open(img, true); Arena arena = Arena.ofConfined()) {
            assertTrue(b.readOnly());
            assertThrows(java.io.IOException.class, () -> b.write(0, arena.allocate(512)));
            assertThrows(java.io.IOException.class, () -> b.discard(0, 512));
        }
    }

    @Test
    void missingFileIsAClearError() {
        var e = assertThrows(java.io.IOException.class, () -> FileBackend.open(dir.resolve("nope.img"), false));
        assertTrue(e.getMessage().contains("nope.img"), e.getMessage());
    }
}
