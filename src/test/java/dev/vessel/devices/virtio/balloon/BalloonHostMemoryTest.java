package dev.vessel.devices.virtio.balloon;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.devices.virtio.balloon.DriverBench.Buf;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * The balloon really gives memory back: on real guest RAM (an anonymous mapping), pages the guest
 * touched are resident; once inflated they are not (mincore on the mapping), the process's RSS
 * drops by about as much (/proc/self/smaps_rollup), and they read as zeroes afterwards.
 */
class BalloonHostMemoryTest {
    static final long RAM = 128L << 20;
    static final long TOUCHED = 32L << 20;
    static final long LENGTH = 64L << 20;

    private static final MethodHandle MINCORE = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().find("mincore").orElseThrow(),
            FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_LONG, ValueLayout.ADDRESS));

    /** Resident 4 KiB pages of [gpa, gpa+length) in this process. */
    static long residentPages(DriverBench b, long gpa, long length) throws Throwable {
        MemorySegment host = b.memory.slice(gpa, length);
        int pages = (int) (length >> 12);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment vec = arena.allocate(pages);
            int r = (int) MINCORE.invokeExact(host, length, vec);
            assertEquals(0, r, "mincore");
            long n = 0;
            for (int i = 0; i < pages; i++) {
                n += vec.get(ValueLayout.JAVA_BYTE, i) & 1;
            }
            return n;
        }
    }

    static long rssKb() throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/self/smaps_rollup"))) {
            if (line.startsWith("Rss:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        throw new AssertionError("no Rss in smaps_rollup");
    }

    @Test
    void inflatingTouchedPagesGivesTheirHostMemoryBack() throws Throwable {
        VirtioBalloon balloon = new VirtioBalloon(RAM);
        try (DriverBench b = new DriverBench(balloon, RAM)) {
            assertTrue(b.init(0, 2, 128));
            MemorySegment touched = b.memory.slice(TOUCHED, LENGTH);
            for (long off = 0; off < LENGTH; off += 4096) {
                touched.set(ValueLayout.JAVA_BYTE, off, (byte) 0x5A);
            }
            long pages = LENGTH >> 12;
            assertEquals(pages, residentPages(b, TOUCHED, LENGTH));
            long rssBefore = rssKb();

            // As Linux does: 256 PFNs per request, one request at a time.
            long gpa = b.alloc(1024);
            for (long first = TOUCHED >> 12; first < (TOUCHED + LENGTH) >> 12; first += 256) {
                ByteBuffer pfns = ByteBuffer.allocate(1024).order(ByteOrder.LITTLE_ENDIAN);
                for (int i = 0; i < 256; i++) {
                    pfns.putInt((int) (first + i));
                }
                b.write(gpa, pfns.array());
                b.submit(VirtioBalloon.INFLATEQ, Buf.in(gpa, 1024));
                assertEquals(1, b.used(VirtioBalloon.INFLATEQ).size());
            }
            long rssAfter = rssKb();
            assertEquals(pages, balloon.inflatedPages());
            assertEquals(LENGTH, balloon.releasedBytes());
            assertEquals(0, residentPages(b, TOUCHED, LENGTH), "inflated pages are no longer resident");
            long droppedKb = rssBefore - rssAfter;
            System.out.printf("balloon: inflated %d MiB; RSS %d -> %d MiB (-%d MiB)%n", LENGTH >> 20, rssBefore >> 10,
                    rssAfter >> 10, droppedKb >> 10);
            assertTrue(droppedKb >= (LENGTH >> 10) * 3 / 4, "RSS dropped by only " + droppedKb + " kB");
            // A page the guest touches again is a fresh zero page.
            assertArrayEquals(new byte[4096], b.read(TOUCHED + LENGTH / 2, 4096));
        }
    }
}
