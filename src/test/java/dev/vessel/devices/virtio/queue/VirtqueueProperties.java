package dev.vessel.devices.virtio.queue;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.statistics.Statistics;

/**
 * A hostile driver: random descriptor tables, rings, indirect tables and indexes. The queue may
 * only ever throw VirtqueueException, every chain it hands out must be within guest RAM and the
 * length cap, and nothing outside guest RAM may change.
 */
class VirtqueueProperties {
    private static final int[] FLAG_CHOICES = {0, 1, 2, 3, 0, 1, 2, 3, 1, 3, 4, 4, 5, 6, 7};

    @Property(tries = 400)
    void randomRingsNeverEscapeValidation(@ForAll long seed, @ForAll @IntRange(min = 0, max = 5) int sizeLog,
            @ForAll boolean eventIdx, @ForAll boolean indirect) throws Exception {
        int size = 1 << sizeLog;
        Random rnd = new Random(seed);
        try (RingFixture ring = new RingFixture(size, 64 * 1024)) {
            long cap = rnd.nextBoolean() ? Virtqueue.DEFAULT_MAX_CHAIN_BYTES : 1 + rnd.nextInt(8192);
            Virtqueue q = ring.queue(eventIdx, indirect, cap);
            // Random bytes where indirect tables may point.
            byte[] junk = new byte[8192];
            rnd.nextBytes(junk);
            ring.fill(ring.data, junk);
            for (int i = 0; i < size; i++) {
                ring.desc(i, address(rnd, ring), length(rnd), flags(rnd), next(rnd, size));
            }
            // Some well-formed indirect tables in the junk area.
            for (int t = 0; t < 4; t++) {
                long table = ring.data + 1024L * t;
                int n = 1 + rnd.nextInt(6);
                for (int i = 0; i < n; i++) {
                    ring.descAt(table, i, address(rnd, ring), rnd.nextInt(64), flags(rnd) & ~4 | (rnd.nextInt(10) == 0 ? 4 : 0),
                            rnd.nextInt(10) == 0 ? rnd.nextInt(65536) : rnd.nextInt(n + 1));
                }
            }
            for (int i = 0; i < size; i++) {
                ring.publish(rnd.nextInt(8) == 0 ? rnd.nextInt(65536) : rnd.nextInt(size));
            }
            ring.setAvailIdx(rnd.nextInt(16) == 0 ? rnd.nextInt(65536) : rnd.nextInt(size + 1));
            ring.setUsedEvent(rnd.nextInt(65536));
            ring.setAvailFlags(rnd.nextInt(3));

            int ops = 20 + rnd.nextInt(60);
            for (int op = 0; op < ops; op++) {
                switch (rnd.nextInt(7)) {
                    case 0, 1, 2 -> popOne(q, ring, rnd, cap);
                    case 3 -> q.shouldNotify();
                    case 4 -> q.setNotificationsEnabled(rnd.nextBoolean());
                    case 5 -> q.enableNotificationsAndCheck();
                    default -> {
                        // The driver moves on: republish some heads, bump or scramble its index.
                        int ahead = (ring.availIdx() - q.lastAvailIndex()) & 0xFFFF;
                        if (rnd.nextInt(16) == 0) {
                            ring.setAvailIdx(ring.availIdx() + rnd.nextInt(size + 2) - 1);
                        } else if (ahead < size || rnd.nextInt(8) == 0) {
                            ring.publish(rnd.nextInt(size + 2));
                        }
                        ring.desc(rnd.nextInt(size), address(rnd, ring), length(rnd), flags(rnd), next(rnd, size));
                    }
                }
            }
            assertTrue(ring.guardsIntact(), "memory outside guest RAM changed");
        }
    }

    /**
     * Well-formed chains (direct, indirect, or direct then indirect) come out exactly as built; with
     * one random field of one descriptor corrupted, the queue still only throws VirtqueueException.
     */
    @Property(tries = 300)
    void wellFormedChainsParseExactly(@ForAll long seed, @ForAll @IntRange(min = 1, max = 5) int sizeLog,
            @ForAll boolean eventIdx, @ForAll boolean corrupt) throws Exception {
        int size = 1 << sizeLog;
        Random rnd = new Random(seed);
        try (RingFixture ring = new RingFixture(size, 256 * 1024)) {
            Virtqueue q = ring.queue(eventIdx, true);
            List<Integer> free = new ArrayList<>();
            for (int i = 0; i < size; i++) {
                free.add(i);
            }
            Collections.shuffle(free, rnd);
            long nextTable = ring.data + 64 * 1024;
            List<Integer> heads = new ArrayList<>();
            List<List<DescriptorChain.Buffer>> expected = new ArrayList<>();
            List<long[]> descriptorSlots = new ArrayList<>(); // {tableGpa, index}
            while (!free.isEmpty()) {
                List<DescriptorChain.Buffer> bufs = new ArrayList<>();
                int readable = rnd.nextInt(4);
                int writable = rnd.nextInt(4);
                for (int i = 0; i < readable + writable; i++) {
                    bufs.add(new DescriptorChain.Buffer(ring.data + rnd.nextInt(60_000), 1 + rnd.nextInt(4096),
                            i >= readable));
                }
                if (bufs.isEmpty()) {
                    continue;
                }
                int direct = rnd.nextInt(3) == 0 ? bufs.size() : rnd.nextInt(bufs.size());
                boolean useIndirect = direct < bufs.size();
                int needed = direct + (useIndirect ? 1 : 0);
                if (needed > free.size()) {
                    break;
                }
                List<Integer> ids = new ArrayList<>(free.subList(0, needed));
                free.subList(0, needed).clear();
                for (int i = 0; i < direct; i++) {
                    DescriptorChain.Buffer b = bufs.get(i);
                    boolean more = i + 1 < needed;
                    ring.desc(ids.get(i), b.address(), b.length(), (b.writable() ? 2 : 0) | (more ? 1 : 0),
                            more ? ids.get(i + 1) : rnd.nextInt(65536));
                    descriptorSlots.add(new long[] {ring.layout.descTable(), ids.get(i)});
                }
                if (useIndirect) {
                    int n = bufs.size() - direct;
                    // Chain element i lives in table slot slots[i]: the first in slot 0 (where the
                    // device starts), the others anywhere, linked by next.
                    List<Integer> slots = new ArrayList<>();
                    for (int i = 1; i < n; i++) {
                        slots.add(i);
                    }
                    Collections.shuffle(slots, rnd);
                    slots.add(0, 0);
                    for (int i = 0; i < n; i++) {
                        DescriptorChain.Buffer b = bufs.get(direct + i);
                        boolean more = i + 1 < n;
                        ring.descAt(nextTable, slots.get(i), b.address(), b.length(),
                                (b.writable() ? 2 : 0) | (more ? 1 : 0), more ? slots.get(i + 1) : rnd.nextInt(65536));
                        descriptorSlots.add(new long[] {nextTable, slots.get(i)});
                    }
                    long tableLength = 16L * n;
                    ring.desc(ids.get(direct), nextTable, tableLength, 4 | (rnd.nextBoolean() ? 2 : 0), rnd.nextInt(65536));
                    descriptorSlots.add(new long[] {ring.layout.descTable(), ids.get(direct)});
                    nextTable += 16L * 8;
                }
                heads.add(ids.get(0));
                expected.add(bufs);
            }
            for (int h : heads) {
                ring.publish(h);
            }
            if (corrupt && !descriptorSlots.isEmpty()) {
                long[] slot = descriptorSlots.get(rnd.nextInt(descriptorSlots.size()));
                int field = rnd.nextInt(4);
                long at = slot[0] + 16 * slot[1] + new int[] {0, 8, 12, 14}[field];
                int width = new int[] {8, 4, 2, 2}[field];
                byte[] noise = new byte[width];
                rnd.nextBytes(noise);
                ring.fill(at, noise);
            }
            for (int i = 0; i < heads.size(); i++) {
                if (!corrupt) {
                    DescriptorChain c = q.pop();
                    assertEquals(heads.get(i), c.head());
                    assertEquals(expected.get(i), c.buffers());
                    q.addUsed(c, c.writableLength());
                } else {
                    popOne(q, ring, rnd, Virtqueue.DEFAULT_MAX_CHAIN_BYTES);
                }
            }
            if (!corrupt) {
                assertEquals(heads.size(), ring.usedIdx());
            }
            assertTrue(ring.guardsIntact());
        }
    }

    private static void popOne(Virtqueue q, RingFixture ring, Random rnd, long cap) throws Exception {
        DescriptorChain c;
        try {
            c = q.pop();
        } catch (VirtqueueException e) {
            Statistics.label("pop").collect(e.getMessage().replaceAll("^queue 0(, chain \\d+)?: ", "")
                    .replaceAll("0x[0-9a-f]+|[0-9]+", "N"));
            if (e.hasHead()) {
                q.addUsed(e.head(), 0);
            }
            return;
        }
        Statistics.label("pop").collect(c == null ? "empty" : c.bufferCount() > 1 ? "chain" : "single buffer");
        if (c == null) {
            return;
        }
        long total = 0;
        boolean seenWritable = false;
        for (DescriptorChain.Buffer b : c.buffers()) {
            assertTrue(b.length() > 0);
            assertTrue(ring.memory.contains(b.address(), b.length()), "buffer outside RAM: " + b);
            assertTrue(!seenWritable || b.writable(), "readable after writable");
            seenWritable |= b.writable();
            total += b.length();
        }
        assertTrue(total <= cap);
        try {
            c.reader().readAll();
            ChainWriter w = c.writer();
            w.fill(w.remaining(), (byte) rnd.nextInt());
        } catch (VirtqueueException e) {
            throw new AssertionError("a validated chain must be readable and writable in full", e);
        }
        q.addUsed(c, c.writableLength() == 0 ? 0 : rnd.nextInt(c.writableLength() + 1));
    }

    private static long address(Random rnd, RingFixture ring) {
        long base = RingFixture.RAM_BASE;
        long end = base + ring.ramSize;
        return switch (rnd.nextInt(12)) {
            case 0, 1, 2, 7, 8, 9, 10 -> ring.data + rnd.nextInt(8192);
            case 3 -> base + rnd.nextInt(4096);
            case 4 -> end - rnd.nextInt(64);
            case 5 -> base - rnd.nextInt(64);
            case 6 -> rnd.nextLong();
            default -> rnd.nextInt(1 << 24);
        };
    }

    private static long length(Random rnd) {
        return switch (rnd.nextInt(9)) {
            case 0, 1, 6, 7, 8 -> rnd.nextInt(64);
            case 2 -> 16L * rnd.nextInt(8);
            case 3 -> 0xFFFF_FFFFL - rnd.nextInt(16);
            case 4 -> rnd.nextInt() & 0xFFFF_FFFFL;
            default -> rnd.nextInt(70_000);
        };
    }

    private static int flags(Random rnd) {
        return rnd.nextInt(16) == 0 ? rnd.nextInt(65536) : FLAG_CHOICES[rnd.nextInt(FLAG_CHOICES.length)];
    }

    private static int next(Random rnd, int size) {
        return rnd.nextInt(8) == 0 ? rnd.nextInt(65536) : rnd.nextInt(size + 1);
    }
}
