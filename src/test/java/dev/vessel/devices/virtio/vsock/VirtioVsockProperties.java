package dev.vessel.devices.virtio.vsock;

import static dev.vessel.devices.virtio.vsock.VsockHeader.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.devices.virtio.vsock.VsockDriver.Packet;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.RandomDistribution;
import net.jqwik.api.Tuple;
import net.jqwik.api.Tuple.Tuple2;
import net.jqwik.api.statistics.Statistics;

/**
 * A hostile guest driving the tx queue: sequences of protocol-shaped packets (so that connections
 * open, carry data and close) of which many carry one hostile field (length, op, type, CID, port,
 * flags, credit), chains shorter than a header, floods, mixed with host peers that accept,
 * write, read, close and connect. Whatever the sequence, the device never throws or fails, never
 * holds more than buf_alloc per connection or more connections than its limit, sends the guest only
 * well-formed packets, drops exactly the forged and truncated ones without an answer, and still
 * answers a new connection afterwards.
 */
class VirtioVsockProperties {
    static final int LISTEN_PORT = 7;
    static final int CHECK_GUEST_PORT = 4242;
    static final int FLOOD_PORT = 9;
    static final int BUF_ALLOC = 4096;
    static final int MAX_CONNECTIONS = 4;
    static final Duration T = Duration.ofSeconds(10);

    /** How a packet departs from a well-formed one: not at all, or in one field. */
    enum Mutation {
        NONE, SRC_CID, DST_CID, SRC_PORT, DST_PORT, TYPE, OP, FLAGS, BUF_ALLOC, FWD_CNT, LEN_ANY, LEN_PLUS_ONE,
        LEN_MINUS_ONE, LEN_ALL_ONES, PAYLOAD_ON_CONTROL, OVERSIZED
    }

    sealed interface Step {}

    /** A packet between guest port {@code srcPort} and host port {@code dstPort}, maybe with one hostile field. */
    record Send(int srcPort, int dstPort, int op, int flags, int payload, int fwdCnt, Mutation mutation, long value)
            implements Step {
        /** The payload bytes in the chain. */
        int chainPayload() {
            return switch (mutation) {
                case PAYLOAD_ON_CONTROL -> Math.max(1, payload);
                case OVERSIZED -> VirtioVsock.MAX_PAYLOAD + (int) (value & 1);
                default -> op == OP_RW ? payload : 0;
            };
        }

        VsockHeader header() {
            long srcCid = VsockDriver.GUEST_CID;
            long dstCid = VirtioVsock.HOST_CID;
            int sp = srcPort;
            int dp = dstPort;
            int type = TYPE_STREAM;
            int o = op;
            int f = flags;
            int bufAlloc = 65536;
            int fwd = fwdCnt;
            int len = chainPayload();
            int v = (int) value;
            switch (mutation) {
                case NONE, PAYLOAD_ON_CONTROL, OVERSIZED -> { }
                case SRC_CID -> srcCid = value;
                case DST_CID -> dstCid = value;
                case SRC_PORT -> sp = v;
                case DST_PORT -> dp = v;
                case TYPE -> type = v & 0xFFFF;
                case OP -> o = v & 0xFFFF;
                case FLAGS -> f = v;
                case BUF_ALLOC -> bufAlloc = v;
                case FWD_CNT -> fwd = v;
                case LEN_ANY -> len = v;
                case LEN_PLUS_ONE -> len++;
                case LEN_MINUS_ONE -> len--;
                case LEN_ALL_ONES -> len = -1;
            }
            return new VsockHeader(srcCid, dstCid, sp, dp, len, type, o, f, bufAlloc, fwd);
        }
    }

    /**
     * A fast guest: {@code count} RW packets of {@code size} bytes from guest port {@link #FLOOD_PORT}
     * to the listening port (after a REQUEST if {@code connect}), enough to fill the host socket's
     * buffer and then the device's, or to run past the credit.
     */
    record Flood(boolean connect, int count, int size) implements Step {}

    /** A chain of 1..43 bytes: too short for a header. */
    record Truncated(int length) implements Step {}

    /** Host peers: 0 accept pending connections, 1 that and write to every peer, 2 read what waits, 3 close one. */
    record Host(int action, int which) implements Step {}

    /** A host client asks for guest port {@code guestPort} over the device's socket. */
    record HostConnect(int guestPort) implements Step {}

    @Provide
    Arbitrary<List<Step>> steps() {
        Arbitrary<Mutation> mutation = Arbitraries.frequencyOf(
                weighted(20, Arbitraries.just(Mutation.NONE)),
                weighted(10, Arbitraries.of(Mutation.values())));
        Arbitrary<Long> value = Arbitraries.frequencyOf(
                weighted(3, Arbitraries.of(0L, 1L, 2L, 3L, -1L, 0xFFFF_FFFFL, 8L, (long) LISTEN_PORT,
                        (long) VirtioVsock.FIRST_LOCAL_PORT, (long) BUF_ALLOC, (long) VirtioVsock.MAX_PAYLOAD + 1)),
                weighted(1, Arbitraries.longs()));
        Arbitrary<Integer> guestPort = Arbitraries.frequencyOf(
                weighted(6, Arbitraries.just(1)),
                weighted(2, Arbitraries.just(2)),
                weighted(1, Arbitraries.just(3)));
        Arbitrary<Step> send = Combinators.combine(
                guestPort,
                Arbitraries.frequencyOf(
                        weighted(6, Arbitraries.just(LISTEN_PORT)),
                        weighted(2, Arbitraries.just(VirtioVsock.FIRST_LOCAL_PORT)),
                        weighted(1, Arbitraries.of(VirtioVsock.FIRST_LOCAL_PORT + 1, 8))),
                Arbitraries.frequencyOf(
                        weighted(6, Arbitraries.just(OP_RW)),
                        weighted(2, Arbitraries.just(OP_REQUEST)),
                        weighted(1, Arbitraries.just(OP_RESPONSE)),
                        weighted(2, Arbitraries.of(OP_RST, OP_SHUTDOWN, OP_CREDIT_UPDATE, OP_CREDIT_REQUEST))),
                Arbitraries.frequencyOf(
                        weighted(2, Arbitraries.just(0)),
                        weighted(1, Arbitraries.of(SHUTDOWN_RCV, SHUTDOWN_SEND, SHUTDOWN_BOTH))),
                Arbitraries.frequencyOf(
                        weighted(8, Arbitraries.integers().between(1, 64)),
                        weighted(2, Arbitraries.integers().between(BUF_ALLOC - 64, BUF_ALLOC + 64)),
                        weighted(1, Arbitraries.just(0))),
                Arbitraries.frequencyOf(
                        weighted(4, Arbitraries.just(0)),
                        weighted(1, Arbitraries.integers())),
                mutation,
                value)
                .as(Send::new);
        Arbitrary<Step> truncated = Arbitraries.integers().between(1, VsockHeader.SIZE - 1).map(Truncated::new);
        Arbitrary<Step> host = Combinators.combine(Arbitraries.integers().between(0, 3),
                Arbitraries.integers().between(0, 7)).as(Host::new);
        Arbitrary<Step> hostConnect = guestPort.map(HostConnect::new);
        // Small packets fill the host socket's buffer soonest (each is a socket buffer of its own).
        Arbitrary<Step> flood = Combinators.combine(
                Arbitraries.frequencyOf(weighted(3, Arbitraries.just(true)), weighted(1, Arbitraries.just(false))),
                Arbitraries.integers().between(1, 600),
                Arbitraries.frequencyOf(
                        weighted(3, Arbitraries.just(1)),
                        weighted(1, Arbitraries.of(64, 1024, BUF_ALLOC)))).as(Flood::new);
        return Arbitraries.frequencyOf(
                        weighted(12, send),
                        weighted(1, truncated),
                        weighted(4, host),
                        weighted(1, hostConnect),
                        weighted(2, flood))
                .list()
                .ofMaxSize(40)
                .withSizeDistribution(RandomDistribution.uniform());
    }

    private static <T> Tuple2<Integer, Arbitrary<? extends T>> weighted(int weight, Arbitrary<? extends T> a) {
        return Tuple.of(weight, a);
    }

    @Property(tries = 150)
    void hostilePacketSequencesNeverHurtTheDevice(@ForAll("steps") List<Step> steps) throws Exception {
        Path dir = Files.createTempDirectory("vsock-prop");
        Path sock = dir.resolve("v.sock");
        List<HostEnd> peers = new ArrayList<>();
        VirtioVsock device = new VirtioVsock(sock, VsockDriver.GUEST_CID, new VirtioVsock.Limits(BUF_ALLOC, MAX_CONNECTIONS));
        VsockDriver driver = new VsockDriver(device);
        try (ServerSocketChannel listener = HostEnd.listen(Path.of(sock + "_" + LISTEN_PORT))) {
            listener.configureBlocking(false);
            driver.start();
            long dropped = 0;
            long maxBuffered = 0;
            for (Step step : steps) {
                switch (step) {
                    case Send s -> {
                        VsockHeader h = s.header();
                        driver.send(h, new byte[s.chainPayload()]);
                        dropped += h.srcCid() != VsockDriver.GUEST_CID ? 1 : 0;
                    }
                    case Truncated t -> {
                        driver.sendRaw(new byte[t.length()], new byte[0]);
                        dropped++;
                    }
                    case Host h -> host(h, listener, peers);
                    case Flood f -> {
                        if (f.connect()) {
                            driver.send(VsockDriver.hdr(OP_REQUEST, FLOOD_PORT, LISTEN_PORT, 0, 0, 65536, 0));
                        }
                        for (int left = f.count(); left > 0; left -= 32) {
                            driver.sendMany(Math.min(left, 32),
                                    i -> VsockDriver.hdr(OP_RW, FLOOD_PORT, LISTEN_PORT, f.size(), 0, 65536, 0),
                                    i -> new byte[f.size()]);
                            maxBuffered = Math.max(maxBuffered, checkInvariants(driver));
                        }
                    }
                    case HostConnect c -> {
                        HostEnd client = HostEnd.connect(sock);
                        peers.add(client);
                        try {
                            client.writeSome(ByteBuffer.wrap(("CONNECT " + c.guestPort() + "\n")
                                    .getBytes(StandardCharsets.US_ASCII)));
                        } catch (IOException e) {
                            // Closed by the device: it is at its connection limit.
                        }
                    }
                }
                maxBuffered = Math.max(maxBuffered, checkInvariants(driver));
            }
            driver.settle();
            checkInvariants(driver);
            assertEquals(dropped, device.droppedPackets(), "exactly the forged and truncated packets are dropped");
            for (Packet p : driver.history()) {
                checkWellFormed(p.header());
            }

            List<Packet> sent = driver.history();
            Statistics.label("established").collect(sent.stream().anyMatch(p -> p.header().op() == OP_RESPONSE));
            Statistics.label("host-initiated accepted").collect(sent.stream().anyMatch(p -> p.header().op() == OP_REQUEST));
            Statistics.label("data to host").collect(device.bytesToHost() > 0);
            Statistics.label("data to guest").collect(device.bytesToGuest() > 0);
            Statistics.label("buffered for a host socket").collect(maxBuffered > 0);
            Statistics.label("RST on a live connection").collect(sent.stream().anyMatch(p -> p.header().op() == OP_RST
                    && p.header().srcCid() == VirtioVsock.HOST_CID && p.header().type() == TYPE_STREAM));
            // Still answers a new connection: RESPONSE, or RST at its limit (host clients still in the
            // listen backlog may take slots at any moment, so which one is not checked).
            driver.send(VsockDriver.hdr(OP_REQUEST, CHECK_GUEST_PORT, LISTEN_PORT, 0, 0, 65536, 0));
            driver.await(p -> p.header().dstPort() == CHECK_GUEST_PORT
                    && (p.header().op() == OP_RESPONSE || p.header().op() == OP_RST), T);
            assertNull(driver.workerError, "the device threw on its worker");
            assertNull(driver.failure, "the device failed");
            assertTrue(driver.live());
        } finally {
            for (HostEnd p : peers) {
                p.close();
            }
            driver.close();
            try (Stream<Path> files = Files.walk(dir)) {
                for (Path f : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(f);
                }
            }
        }
    }

    private static void host(Host h, ServerSocketChannel listener, List<HostEnd> peers) throws IOException {
        if (h.action() <= 1) {
            SocketChannel ch;
            while ((ch = listener.accept()) != null) {
                peers.add(new HostEnd(ch));
            }
        }
        switch (h.action()) {
            case 0 -> { }
            case 1 -> {
                for (HostEnd p : peers) {
                    try {
                        p.writeSome(ByteBuffer.allocate(100 * (h.which() + 1)));
                    } catch (IOException e) {
                        // The device closed it.
                    }
                }
            }
            case 2 -> {
                ByteBuffer b = ByteBuffer.allocate(64 * 1024);
                for (HostEnd p : peers) {
                    try {
                        b.clear();
                        p.readAvailable(b);
                    } catch (IOException e) {
                        // Reset by the device.
                    }
                }
            }
            default -> {
                if (!peers.isEmpty()) {
                    peers.remove(h.which() % peers.size()).close();
                }
            }
        }
    }

    /** Checks what must always hold; returns the bytes buffered for host sockets. */
    private static long checkInvariants(VsockDriver driver) throws Exception {
        assertNull(driver.workerError, "the device threw on its worker");
        assertNull(driver.failure, "the device failed");
        VirtioVsock.Stats s = driver.stats();
        assertTrue(s.connections() + s.awaitingConnectLine() <= MAX_CONNECTIONS, s.toString());
        assertTrue(s.bufferedForHost() <= (long) BUF_ALLOC * s.connections(), s.toString());
        assertTrue(s.bufferCapacity() <= (long) BUF_ALLOC * s.connections(), s.toString());
        assertTrue(s.bufferObjects() <= s.connections(), s.toString());
        assertTrue(s.queuedReplies() <= VirtioVsock.MAX_QUEUED_REPLIES + MAX_CONNECTIONS, s.toString());
        return s.bufferedForHost();
    }

    /** What the device sends the guest: for it, with a known op, a payload only on RW, our buf_alloc. */
    private static void checkWellFormed(VsockHeader h) {
        assertEquals(VsockDriver.GUEST_CID, h.dstCid(), h.toString());
        assertTrue(h.op() >= OP_REQUEST && h.op() <= OP_CREDIT_REQUEST, h.toString());
        assertTrue(h.len() == 0 || h.op() == OP_RW, h.toString());
        assertTrue(Integer.compareUnsigned(h.len(), VirtioVsock.MAX_PAYLOAD) <= 0, h.toString());
        assertEquals(BUF_ALLOC, h.bufAlloc(), h.toString());
        if (h.op() == OP_RST) {
            // An RST answers whatever the guest addressed: from that CID, of STREAM or SEQPACKET type.
            assertTrue(h.type() == TYPE_STREAM || h.type() == TYPE_SEQPACKET, h.toString());
        } else {
            assertEquals(VirtioVsock.HOST_CID, h.srcCid(), h.toString());
            assertEquals(TYPE_STREAM, h.type(), h.toString());
        }
    }
}
