package dev.vessel.sys;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

/** The read and write loops over a pread/pwrite that misbehaves in ways a file system may. */
class FileIoTest {
    /** Stops a loop that would never end: the test fails instead of hanging. */
    static final int MAX_CALLS = 1000;

    @Test
    void aPwriteThatWritesNothingFailsInsteadOfLoopingForEver() {
        AtomicInteger calls = new AtomicInteger();
        FileIo.Transfer writesNothing = (err, fd, buffer, length, offset) -> {
            if (calls.incrementAndGet() > MAX_CALLS) {
                throw new AssertionError("pwriteFully keeps calling a pwrite that writes nothing");
            }
            return 0;
        };
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocate(512);
            ErrnoException e = assertThrows(ErrnoException.class, () -> FileIo.pwriteFully(writesNothing, 3, src, 4096));
            assertEquals(FileIo.EIO, e.errno());
            assertTrue(e.getMessage().startsWith("pwrite"), e.getMessage());
            assertEquals(1, calls.get());
        }
    }

    @Test
    void shortWritesAreContinuedWhereTheyStopped() throws Exception {
        List<Long> offsets = new ArrayList<>();
        byte[] file = new byte[64];
        FileIo.Transfer threeAtATime = (err, fd, buffer, length, offset) -> {
            offsets.add(offset);
            long n = Math.min(3, length);
            MemorySegment.copy(buffer, ValueLayout.JAVA_BYTE, 0, file, (int) offset, (int) n);
            return n;
        };
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment src = arena.allocate(10);
            for (int i = 0; i < 10; i++) {
                src.set(ValueLayout.JAVA_BYTE, i, (byte) (i + 1));
            }
            FileIo.pwriteFully(threeAtATime, 3, src, 20);
            assertEquals(List.of(20L, 23L, 26L, 29L), offsets);
            byte[] written = new byte[10];
            System.arraycopy(file, 20, written, 0, 10);
            assertArrayEquals(new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, written);
        }
    }

    @Test
    void aCountLargerThanAskedForIsAnError() {
        FileIo.Transfer liar = (err, fd, buffer, length, offset) -> length + 1;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buf = arena.allocate(16);
            assertEquals(FileIo.EIO, assertThrows(ErrnoException.class, () -> FileIo.pwriteFully(liar, 3, buf, 0)).errno());
            assertEquals(FileIo.EIO, assertThrows(ErrnoException.class, () -> FileIo.preadFully(liar, 3, buf, 0)).errno());
        }
    }

    @Test
    void aPreadAtTheEndOfTheFileReadsZerosAndStops() throws Exception {
        AtomicInteger calls = new AtomicInteger();
        FileIo.Transfer fiveBytesThenEnd = (err, fd, buffer, length, offset) -> {
            if (calls.incrementAndGet() > MAX_CALLS) {
                throw new AssertionError("preadFully keeps calling a pread at the end of the file");
            }
            if (offset >= 5) {
                return 0;
            }
            long n = Math.min(length, 5 - offset);
            buffer.asSlice(0, n).fill((byte) 7);
            return n;
        };
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment dst = arena.allocate(12);
            dst.fill((byte) 0x55);
            FileIo.preadFully(fiveBytesThenEnd, 3, dst, 0);
            assertArrayEquals(new byte[] {7, 7, 7, 7, 7, 0, 0, 0, 0, 0, 0, 0}, dst.toArray(ValueLayout.JAVA_BYTE));
            assertEquals(2, calls.get());
        }
    }
}
