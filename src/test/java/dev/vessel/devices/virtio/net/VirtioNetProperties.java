package dev.vessel.devices.virtio.net;

import static dev.vessel.devices.virtio.net.NetRig.frame;
import static dev.vessel.devices.virtio.net.NetRig.header;
import static dev.vessel.devices.virtio.net.NetRig.packet;
import static dev.vessel.devices.virtio.net.VirtioNet.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.devices.virtio.VirtioFeatures;
import dev.vessel.devices.virtio.balloon.DriverBench.Buf;
import dev.vessel.devices.virtio.balloon.DriverBench.Used;

import java.io.ByteArrayOutputStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.statistics.Statistics;

/**
 * The device against a model of the spec, over generated frame sizes and buffer layouts: where a
 * received frame lands (which buffers, how many bytes each, num_buffers), what a transmitted
 * chain becomes on the TAP, and that nothing a driver posts makes the device fail or write
 * outside what it reported.
 */
class VirtioNetProperties {
    static final int QUEUE = 64;

    @Provide
    Arbitrary<Integer> frameLengths() {
        return Arbitraries.frequencyOf(
                Tuple.of(5, Arbitraries.integers().between(MIN_FRAME, 3000)),
                Tuple.of(1, Arbitraries.integers().between(3001, MAX_FRAME)));
    }

    /** Receive chains: 1 to 16, each of 1 to 3 writable buffers, some too small for a header. */
    @Provide
    Arbitrary<List<List<Integer>>> rxChains() {
        Arbitrary<Integer> size = Arbitraries.frequencyOf(
                Tuple.of(1, Arbitraries.integers().between(0, 11)),
                Tuple.of(6, Arbitraries.integers().between(12, 4096)),
                Tuple.of(2, Arbitraries.integers().between(4097, 20000)));
        return size.list().ofMinSize(1).ofMaxSize(3).list().ofMinSize(1).ofMaxSize(16);
    }

    static int capacity(List<Integer> chain) {
        return chain.stream().mapToInt(Integer::intValue).sum();
    }

    /**
     * The device's pops, replayed: which chains it takes in ring order, returning those that
     * cannot hold a header, and the used entries it writes, in the order it writes them.
     */
    static final class RxModel {
        final List<NetRig.Chain> chains = new ArrayList<>();
        final List<Used> used = new ArrayList<>();
        final List<Integer> held = new ArrayList<>();
        int next;
        int bad;

        RxModel(List<NetRig.Chain> chains) {
            this.chains.addAll(chains);
        }

        int capacity(int i) {
            return chains.get(i).capacity();
        }

        /** Pops the next usable chain into held, returning the unusable ones on the way; false when none is left. */
        boolean take() {
            while (next < chains.size()) {
                int i = next++;
                if (capacity(i) < NetHeader.SIZE) {
                    used.add(new Used(chains.get(i).head(), 0));
                    bad++;
                } else {
                    held.add(i);
                    return true;
                }
            }
            return false;
        }

        int heldCapacity() {
            return held.stream().mapToInt(this::capacity).sum();
        }

        /**
         * With mergeable buffers the device holds buffers for the largest frame before it reads,
         * so that the TAP writes straight into them: it takes until it has that much or the ring
         * has no more.
         */
        void holdForTheLargestFrame() {
            while (heldCapacity() < VirtioNet.RX_BUFFER && take()) {
                // taken
            }
        }

        /**
         * A frame of {@code need} bytes (header included) with mergeable buffers: the chains it
         * lands in, or null while it waits for more buffers. After delivering, the device holds
         * buffers for the next frame at once.
         */
        List<Integer> deliverMerged(int need) {
            while (heldCapacity() < need) {
                if (!take()) {
                    return null;
                }
            }
            List<Integer> into = new ArrayList<>();
            int left = need;
            while (left > 0) {
                int i = held.removeFirst();
                int n = Math.min(left, capacity(i));
                used.add(new Used(chains.get(i).head(), n));
                into.add(i);
                left -= n;
            }
            holdForTheLargestFrame();
            return into;
        }
    }

    @Property(tries = 200)
    void mergeableBuffersHoldEachFrameInTheFewestBuffersInRingOrder(@ForAll("frameLengths") int length,
            @ForAll("rxChains") List<List<Integer>> layout) throws Exception {
        try (NetRig r = new NetRig(-1L, QUEUE)) {
            List<NetRig.Chain> chains = new ArrayList<>();
            for (List<Integer> c : layout) {
                chains.add(r.addRx(c.stream().mapToInt(Integer::intValue).toArray()));
            }
            RxModel model = new RxModel(chains);
            r.bench.kick(RX_QUEUE);
            boolean any = model.take(); // the kick takes buffers for the largest frame, then waits for the TAP
            model.holdForTheLargestFrame();
            assertEquals(any, r.readiness.watchingReadable());
            byte[] f = frame(length, length);
            r.tap.send(packet(f));
            r.fireReadable();
            int need = NetHeader.SIZE + length;
            List<Used> seen = new ArrayList<>(r.usedRx());
            List<Integer> into = any ? model.deliverMerged(need) : null;
            if (into == null) {
                Statistics.collect("waited for buffers");
                assertEquals(model.used, seen, "only unusable buffers came back");
                assertEquals(0, r.net.counters().rxFrames());
                assertFalse(r.readiness.watchingReadable(), "a waiting frame (or no buffer) leaves the TAP alone");
                // One more buffer, large enough for anything, lets it through.
                NetRig.Chain big = r.addRx(MAX_FRAME + NetHeader.SIZE);
                model.chains.add(big);
                r.bench.kick(RX_QUEUE);
                if (!any) {
                    model.take();
                    r.fireReadable();
                }
                into = model.deliverMerged(need);
                seen.addAll(r.usedRx());
            } else {
                Statistics.collect("fit at once");
            }
            assertEquals(model.used, seen);
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            for (int i : into) {
                NetRig.Chain c = model.chains.get(i);
                int n = model.used.stream().filter(u -> u.id() == c.head()).findFirst().orElseThrow().length();
                byte[] all = r.read(c, c.capacity());
                got.writeBytes(Arrays.copyOf(all, n));
                assertArrayEquals(new byte[c.capacity() - n], Arrays.copyOfRange(all, n, all.length),
                        "nothing written past the used length");
            }
            byte[] delivered = got.toByteArray();
            assertEquals(into.size(), NetRig.numBuffers(delivered));
            assertArrayEquals(f, Arrays.copyOfRange(delivered, NetHeader.SIZE, delivered.length));
            assertEquals(new NetCounters(1, length, 0, model.bad, 0, 0, 0), r.net.counters());
            assertFalse(r.needsReset());
            Statistics.label("buffers").collect(into.size());
        }
    }

    @Property(tries = 200)
    void withoutMergeableBuffersAFrameTakesOneBufferOrIsDropped(@ForAll("frameLengths") int length,
            @ForAll("rxChains") List<List<Integer>> layout) throws Exception {
        long features = -1L & ~VirtioFeatures.bit(F_MRG_RXBUF);
        try (NetRig r = new NetRig(features, QUEUE)) {
            List<NetRig.Chain> chains = new ArrayList<>();
            for (List<Integer> c : layout) {
                chains.add(r.addRx(c.stream().mapToInt(Integer::intValue).toArray()));
            }
            r.bench.kick(RX_QUEUE);
            RxModel model = new RxModel(chains);
            boolean any = model.take();
            byte[] f = frame(length, length);
            r.tap.send(packet(f));
            r.fireReadable();
            int need = NetHeader.SIZE + length;
            List<Used> expected = new ArrayList<>(model.used);
            if (!any) {
                Statistics.collect("no usable buffer: the frame waits in the TAP");
                assertEquals(expected, r.usedRx());
                assertEquals(new NetCounters(0, 0, 0, model.bad, 0, 0, 0), r.net.counters());
                assertTrue(r.tap.receive() == null);
                return;
            }
            NetRig.Chain c = chains.get(model.held.getFirst());
            if (c.capacity() >= need) {
                Statistics.collect("delivered");
                expected.add(new Used(c.head(), need));
                model.used.add(new Used(c.head(), need));
                model.held.clear();
                model.take(); // the next buffer, for the next frame
                assertEquals(model.used, r.usedRx());
                byte[] got = r.read(c, need);
                assertEquals(1, NetRig.numBuffers(got));
                assertArrayEquals(f, Arrays.copyOfRange(got, NetHeader.SIZE, need));
                assertEquals(new NetCounters(1, length, 0, model.bad, 0, 0, 0), r.net.counters());
                assertEquals(model.held.size() == 1, r.readiness.watchingReadable());
            } else {
                Statistics.collect("dropped, buffer kept");
                assertEquals(expected, r.usedRx());
                assertArrayEquals(new byte[c.capacity()], r.read(c, c.capacity()), "the buffer is untouched");
                assertEquals(new NetCounters(0, 0, 1, model.bad, 0, 0, 0), r.net.counters());
                assertTrue(r.readiness.watchingReadable(), "the kept buffer waits for the next frame");
            }
            assertFalse(r.needsReset());
        }
    }

    /** One transmit chain a driver might build: header fields, frame size, how it is cut, and a writable tail. */
    record TxRequest(int flags, int gsoType, int frameLength, List<Integer> cuts, boolean writableTail,
                     Offsets offsets) {}

    /** gso_size, csum_start and csum_offset. */
    record Offsets(int gsoSize, int csumStart, int csumOffset) {}

    @Provide
    Arbitrary<List<TxRequest>> txRequests() {
        Arbitrary<Integer> flags = Arbitraries.frequencyOf(
                Tuple.of(6, Arbitraries.just(0)),
                Tuple.of(3, Arbitraries.just(NetHeader.F_NEEDS_CSUM)),
                Tuple.of(1, Arbitraries.of(NetHeader.F_DATA_VALID, NetHeader.F_RSC_INFO, 0x80, 0xFF)));
        Arbitrary<Integer> gso = Arbitraries.frequencyOf(
                Tuple.of(6, Arbitraries.just(NetHeader.GSO_NONE)),
                Tuple.of(2, Arbitraries.of(NetHeader.GSO_TCPV4, NetHeader.GSO_TCPV6)),
                Tuple.of(1, Arbitraries.of(NetHeader.GSO_UDP, NetHeader.GSO_UDP_L4, NetHeader.GSO_TCPV4 | NetHeader.GSO_ECN, 2)));
        Arbitrary<Integer> length = Arbitraries.frequencyOf(
                Tuple.of(1, Arbitraries.integers().between(0, MIN_FRAME)),
                Tuple.of(6, Arbitraries.integers().between(MIN_FRAME, 4000)),
                Tuple.of(1, Arbitraries.integers().between(MAX_FRAME - 2, MAX_FRAME + 2)));
        Arbitrary<List<Integer>> cuts = Arbitraries.integers().between(0, 100_000).list().ofMaxSize(6);
        Arbitrary<Boolean> writable = Arbitraries.frequencyOf(Tuple.of(7, Arbitraries.just(false)),
                Tuple.of(1, Arbitraries.just(true)));
        Arbitrary<Offsets> offsets = Combinators.combine(
                Arbitraries.frequencyOf(Tuple.of(5, Arbitraries.integers().between(1, 9000)), Tuple.of(1, Arbitraries.just(0))),
                Arbitraries.frequencyOf(Tuple.of(5, Arbitraries.integers().between(14, 60)),
                        Tuple.of(1, Arbitraries.integers().between(0, 0xFFFF))),
                Arbitraries.frequencyOf(Tuple.of(5, Arbitraries.of(6, 16)),
                        Tuple.of(1, Arbitraries.integers().between(0, 0xFFFF))))
                .as(Offsets::new);
        return Combinators.combine(flags, gso, length, cuts, writable, offsets).as(TxRequest::new)
                .list().ofMinSize(1).ofMaxSize(8);
    }

    /** Negotiated transmit offloads: CSUM, HOST_TSO4, HOST_TSO6 (TSO only with CSUM, as the device requires). */
    @Provide
    Arbitrary<Long> txFeatures() {
        return Arbitraries.of(0L, VirtioFeatures.bit(F_CSUM),
                VirtioFeatures.bit(F_CSUM) | VirtioFeatures.bit(F_HOST_TSO4),
                VirtioFeatures.bit(F_CSUM) | VirtioFeatures.bit(F_HOST_TSO6),
                VirtioFeatures.bit(F_CSUM) | VirtioFeatures.bit(F_HOST_TSO4) | VirtioFeatures.bit(F_HOST_TSO6));
    }

    @Property(tries = 200)
    void everyTransmitChainComesBackAndOnlyValidFramesReachTheTap(@ForAll("txFeatures") long txFeatures,
            @ForAll("txRequests") List<TxRequest> requests) throws Exception {
        long features = VirtioFeatures.bit(F_MAC) | txFeatures;
        try (NetRig r = new NetRig(features, QUEUE, 16L << 20)) {
            List<Integer> heads = new ArrayList<>();
            List<byte[]> expectedOut = new ArrayList<>();
            int dropped = 0;
            long bytes = 0;
            for (TxRequest q : requests) {
                Offsets o = q.offsets();
                byte[] p = packet(header(q.flags(), q.gsoType(), o.gsoSize(), o.csumStart(), o.csumOffset(), 0),
                        frame(Math.max(q.frameLength(), MIN_FRAME), 3));
                if (q.frameLength() < MIN_FRAME) {
                    p = Arrays.copyOf(p, NetHeader.SIZE + q.frameLength());
                }
                int[] cuts = q.cuts().stream().filter(c -> c > 0 && c < q.frameLength() + NetHeader.SIZE)
                        .distinct().sorted().mapToInt(Integer::intValue).toArray();
                List<Buf> bufs = new ArrayList<>();
                int from = 0;
                for (int i = 0; i <= cuts.length; i++) {
                    int to = i < cuts.length ? cuts[i] : p.length;
                    long gpa = r.bench.alloc(Math.max(to - from, 1));
                    r.bench.write(gpa, Arrays.copyOfRange(p, from, to));
                    bufs.add(Buf.in(gpa, to - from));
                    from = to;
                }
                if (q.writableTail()) {
                    bufs.add(Buf.out(r.bench.alloc(64), 64));
                }
                heads.add(r.bench.add(TX_QUEUE, bufs.toArray(Buf[]::new)));
                if (valid(q, features)) {
                    expectedOut.add(p);
                    bytes += q.frameLength();
                } else {
                    dropped++;
                }
            }
            r.bench.kick(TX_QUEUE);
            List<Used> used = r.usedTx();
            assertEquals(heads.stream().map(h -> new Used(h, 0)).toList(), used, "every chain back, in order, 0 bytes written");
            List<byte[]> out = r.tap.receiveAll();
            assertEquals(expectedOut.size(), out.size());
            for (int i = 0; i < out.size(); i++) {
                assertArrayEquals(expectedOut.get(i), out.get(i));
            }
            assertEquals(new NetCounters(0, 0, 0, 0, expectedOut.size(), bytes, dropped), r.net.counters());
            assertFalse(r.needsReset());
            assertNull(r.tap.receive());
            Statistics.label("valid").collect(expectedOut.size() == requests.size() ? "all" : expectedOut.isEmpty() ? "none" : "some");
        }
    }

    /** The spec's rules for a driver's frame, written out here apart from the device's code. */
    private static boolean valid(TxRequest q, long features) {
        if (q.writableTail() || q.frameLength() < MIN_FRAME || q.frameLength() > MAX_FRAME) {
            return false;
        }
        if (q.flags() != 0 && q.flags() != NetHeader.F_NEEDS_CSUM) {
            return false;
        }
        boolean csum = q.flags() == NetHeader.F_NEEDS_CSUM;
        if (csum && (!VirtioFeatures.has(features, F_CSUM)
                || q.offsets().csumStart() + q.offsets().csumOffset() + 2 > q.frameLength())) {
            return false;
        }
        boolean gsoAllowed = switch (q.gsoType()) {
            case NetHeader.GSO_NONE -> true;
            case NetHeader.GSO_TCPV4 -> VirtioFeatures.has(features, F_HOST_TSO4);
            case NetHeader.GSO_TCPV6 -> VirtioFeatures.has(features, F_HOST_TSO6);
            default -> false;
        };
        // Segmentation needs a segment size and a checksum for the host to complete in each segment.
        return gsoAllowed && (q.gsoType() == NetHeader.GSO_NONE || (csum && q.offsets().gsoSize() > 0));
    }
}
