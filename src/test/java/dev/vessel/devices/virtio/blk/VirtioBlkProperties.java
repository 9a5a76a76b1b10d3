package dev.vessel.devices.virtio.blk;

import static dev.vessel.devices.virtio.blk.BlkDriver.Seg;
import static dev.vessel.devices.virtio.blk.VirtioBlk.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.statistics.Statistics;

/**
 * A hostile driver: random request headers (types, sectors, reserved bits), random buffer layouts
 * (lengths, sides, counts, direct or indirect), random segment lists. The device must never throw,
 * never touch memory outside guest RAM, never ask the backend for anything beyond the disk (the fake
 * backend fails the test if it does), and answer every request that has a status byte with
 * OK, IOERR or UNSUPP; a read-only disk must come out unchanged.
 */
class VirtioBlkProperties {
    private static final int DISK = 256 * 1024; // 512 sectors
    private static final int[] TYPES = {T_IN, T_OUT, T_FLUSH, T_GET_ID, T_DISCARD, T_WRITE_ZEROES, T_GET_LIFETIME,
            T_SECURE_ERASE, 2, 5, 0x80000000};

    @Property(tries = 300)
    void randomRequestsNeverEscape(@ForAll long seed, @ForAll boolean readOnly, @ForAll boolean flushNegotiated) throws Exception {
        Random rnd = new Random(seed);
        FakeBackend backend = new FakeBackend(DISK, false, rnd.nextBoolean());
        byte[] initial = BlkDriver.pattern(DISK, (int) seed);
        backend.fill(0, initial);
        long driverFeatures = flushNegotiated ? -1L : ~(1L << F_FLUSH);
        try (BlkDriver drv = new BlkDriver(new VirtioBlkDevice(backend, readOnly, "p"), 1 << 20, driverFeatures)) {
            int rounds = 1 + rnd.nextInt(6);
            for (int r = 0; r < rounds && drv.ctx.failure == null; r++) {
                drv.resetAllocator();
                int batch = 1 + rnd.nextInt(4);
                List<Seg> lasts = new ArrayList<>();
                List<Integer> writableTotals = new ArrayList<>();
                for (int i = 0; i < batch; i++) {
                    List<Seg> segs = request(drv, rnd);
                    if (segs.isEmpty()) {
                        segs = List.of(drv.header(T_FLUSH, 0), drv.status());
                    }
                    int writable = 0;
                    for (Seg s : segs) {
                        writable += s.writable() ? s.len() : 0;
                    }
                    writableTotals.add(writable);
                    lasts.add(segs.get(segs.size() - 1));
                    if (rnd.nextInt(4) == 0) {
                        drv.publishIndirect(segs);
                    } else {
                        drv.publish(segs);
                    }
                }
                int before = drv.ring.usedIdx();
                drv.kick();
                int returned = drv.ring.usedIdx() - before;
                if (drv.ctx.failure == null) {
                    assertEquals(batch, returned, "every chain comes back");
                }
                for (int i = 0; i < returned; i++) {
                    int len = drv.ring.usedLen((before + i) % drv.ring.size);
                    Seg last = lasts.get(i);
                    if (writableTotals.get(i) > 0 && last.writable()) {
                        assertEquals(writableTotals.get(i), len);
                        int status = drv.read(last)[last.len() - 1] & 0xFF;
                        assertTrue(status <= S_UNSUPP, "status " + status);
                        Statistics.collect(status);
                    } else if (writableTotals.get(i) == 0) {
                        assertEquals(0, len, "no status byte, nothing written");
                        Statistics.collect("dropped");
                    }
                }
                drv.sawUsed(returned);
            }
            assertTrue(drv.ring.guardsIntact(), "memory outside guest RAM changed");
            if (readOnly) {
                assertArrayEquals(initial, backend.bytes(0, DISK), "a read-only disk changed");
                assertEquals(0, backend.writes + backend.discards);
            }
        }
    }

    /** A random request: mostly plausible, often subtly wrong, sometimes junk. */
    private static List<Seg> request(BlkDriver drv, Random rnd) {
        List<Seg> segs = new ArrayList<>();
        int type = rnd.nextInt(10) == 0 ? rnd.nextInt() : TYPES[rnd.nextInt(TYPES.length)];
        long sector = switch (rnd.nextInt(6)) {
            case 0 -> 0;
            case 1 -> rnd.nextInt(DISK / 512 + 4);
            case 2 -> DISK / 512 - rnd.nextInt(4);
            case 3 -> rnd.nextLong();
            case 4 -> -1L - rnd.nextInt(4);
            default -> rnd.nextInt(64);
        };
        if (rnd.nextInt(12) == 0) {
            byte[] junk = new byte[rnd.nextInt(24)];
            rnd.nextBytes(junk);
            if (junk.length > 0) {
                segs.add(drv.out(junk));
            }
        } else {
            ByteBuffer h = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN)
                    .putInt(type).putInt(rnd.nextInt(4) == 0 ? rnd.nextInt() : 0).putLong(sector);
            byte[] hb = h.array();
            if (rnd.nextInt(4) == 0) {
                int cut = 1 + rnd.nextInt(15);
                segs.add(drv.out(java.util.Arrays.copyOfRange(hb, 0, cut)));
                segs.add(drv.out(java.util.Arrays.copyOfRange(hb, cut, 16)));
            } else {
                segs.add(drv.out(hb));
            }
        }
        // Readable payload: data or segments.
        int readable = rnd.nextInt(4) == 0 ? 0 : rnd.nextInt(3);
        for (int i = 0; i < readable; i++) {
            if (rnd.nextBoolean()) {
                ByteBuffer s = ByteBuffer.allocate(16 * (1 + rnd.nextInt(3))).order(ByteOrder.LITTLE_ENDIAN);
                while (s.hasRemaining()) {
                    s.putLong(rnd.nextBoolean() ? rnd.nextInt(DISK / 512 + 8) : rnd.nextLong())
                            .putInt(rnd.nextBoolean() ? rnd.nextInt(64) : rnd.nextInt())
                            .putInt(rnd.nextInt(3) == 0 ? rnd.nextInt(4) : 0);
                }
                segs.add(drv.out(s.array()));
            } else {
                byte[] data = new byte[length(rnd)];
                rnd.nextBytes(data);
                segs.add(drv.out(data));
            }
        }
        // Writable part: data buffers and a status byte, or nothing, or a readable "status".
        int writable = rnd.nextInt(3);
        for (int i = 0; i < writable; i++) {
            segs.add(drv.in(length(rnd)));
        }
        switch (rnd.nextInt(8)) {
            case 0 -> { } // no status at all
            case 1 -> segs.add(drv.out(new byte[1]));
            default -> segs.add(drv.status());
        }
        if (rnd.nextInt(20) == 0 && segs.size() > 1) {
            // A readable buffer after a writable one: an invalid chain (the queue refuses it).
            segs.add(drv.out(new byte[4]));
        }
        if (rnd.nextInt(30) == 0) {
            segs.clear();
        }
        return segs;
    }

    private static int length(Random rnd) {
        return switch (rnd.nextInt(5)) {
            case 0 -> 1 + rnd.nextInt(1100);
            case 1 -> 512 * (1 + rnd.nextInt(8));
            case 2 -> 20;
            case 3 -> 512 * (1 + rnd.nextInt(4)) + (rnd.nextBoolean() ? 1 : -1);
            default -> 4096;
        };
    }
}
