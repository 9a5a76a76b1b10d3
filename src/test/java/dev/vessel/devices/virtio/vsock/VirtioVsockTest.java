package dev.vessel.devices.virtio.vsock;

import static dev.vessel.devices.virtio.vsock.VsockDriver.hdr;
import static dev.vessel.devices.virtio.vsock.VsockHeader.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.devices.virtio.VirtioDevice;
import dev.vessel.devices.virtio.vsock.VsockDriver.Packet;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicReference;
import java.util.zip.CRC32;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VirtioVsockTest {
    static final Duration T = Duration.ofSeconds(10);
    static final int BIG = 1 << 26;

    @TempDir
    Path dir;
    Path sock;
    VirtioVsock device;
    VsockDriver driver;

    VsockDriver start(VirtioVsock.Limits limits) throws Exception {
        sock = dir.resolve("v.sock");
        device = new VirtioVsock(sock, 3, limits);
        driver = new VsockDriver(device);
        return driver.start();
    }

    VsockDriver start() throws Exception {
        return start(VirtioVsock.Limits.DEFAULT);
    }

    @AfterEach
    void tearDown() throws Exception {
        if (driver != null) {
            String failure = driver.failure;
            RuntimeException error = driver.workerError;
            driver.close();
            assertNull(error, "the device threw on its worker");
            assertNull(failure, "the device failed");
        }
    }

    static byte[] pattern(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) ((i * 7 + (i >>> 11) + seed) & 0xFF);
        }
        return b;
    }

    static long crc(byte[] b) {
        CRC32 c = new CRC32();
        c.update(b);
        return c.getValue();
    }

    /** A host-initiated connection through CONNECT, accepted by the guest. */
    record HostConn(HostEnd host, int hostPort, int guestPort) {}

    HostConn hostConnect(int guestPort, int guestBufAlloc) throws Exception {
        HostEnd h = HostEnd.connectTo(sock, guestPort);
        Packet req = driver.awaitOp(OP_REQUEST, guestPort);
        VsockHeader r = req.header();
        assertEquals(VirtioVsock.HOST_CID, r.srcCid());
        assertEquals(3, r.dstCid());
        assertEquals(TYPE_STREAM, r.type());
        assertEquals(0, r.len());
        assertEquals(device.limits().bufAlloc(), r.bufAlloc());
        assertTrue(Integer.compareUnsigned(r.srcPort(), VirtioVsock.FIRST_LOCAL_PORT) >= 0, r.toString());
        driver.send(hdr(OP_RESPONSE, guestPort, r.srcPort(), 0, 0, guestBufAlloc, 0));
        assertEquals("OK " + Integer.toUnsignedString(r.srcPort()), h.readLine(T));
        return new HostConn(h, r.srcPort(), guestPort);
    }

    /** A guest-initiated connection to host port {@code hostPort}, whose socket {@code server} listens on. */
    HostEnd guestConnect(ServerSocketChannel server, int guestPort, int hostPort, int guestBufAlloc) throws Exception {
        driver.send(hdr(OP_REQUEST, guestPort, hostPort, 0, 0, guestBufAlloc, 0));
        HostEnd h = HostEnd.accept(server, T);
        Packet resp = driver.awaitOp(OP_RESPONSE, guestPort);
        assertEquals(hostPort, resp.header().srcPort());
        assertEquals(VirtioVsock.HOST_CID, resp.header().srcCid());
        assertEquals(device.limits().bufAlloc(), resp.header().bufAlloc());
        return h;
    }

    ServerSocketChannel listenOnPort(int port) throws IOException {
        return HostEnd.listen(Path.of(sock + "_" + port));
    }

    /**
     * The guest reading {@code n} bytes of a connection as a well-behaved driver: checks that the
     * device never exceeds the credit, returns credit (CREDIT_UPDATE) when half the buffer was
     * consumed, and answers CREDIT_REQUEST.
     */
    byte[] guestReceive(int guestPort, int hostPort, int n, int bufAlloc) throws Exception {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        int fwd = 0;
        while (got.size() < n) {
            Packet p = driver.await(pk -> pk.header().dstPort() == guestPort
                    && (pk.header().op() == OP_RW || pk.header().op() == OP_CREDIT_REQUEST));
            if (p.header().op() == OP_RW) {
                got.write(p.payload());
                assertTrue(got.size() - fwd <= bufAlloc, "the device sent " + (got.size() - fwd)
                        + " bytes unacknowledged, more than the guest's buf_alloc " + bufAlloc);
            }
            if (p.header().op() == OP_CREDIT_REQUEST || got.size() - fwd >= bufAlloc / 2) {
                fwd = got.size();
                driver.send(hdr(OP_CREDIT_UPDATE, guestPort, hostPort, 0, 0, bufAlloc, fwd));
            }
        }
        assertEquals(n, got.size());
        return got.toByteArray();
    }

    /** The guest sending {@code data} within the credit the device grants, 4 KiB per packet. */
    void guestSend(int guestPort, int hostPort, byte[] data, int guestBufAlloc, int deviceBufAlloc) throws Exception {
        int sent = 0;
        int peerFwd = 0;
        while (sent < data.length) {
            int credit = deviceBufAlloc - (sent - peerFwd);
            if (credit <= 0) {
                Packet p = driver.await(pk -> pk.header().dstPort() == guestPort
                        && pk.header().op() == OP_CREDIT_UPDATE);
                peerFwd = p.header().fwdCnt();
                continue;
            }
            int len = Math.min(Math.min(credit, 4096), data.length - sent);
            byte[] chunk = java.util.Arrays.copyOfRange(data, sent, sent + len);
            driver.send(hdr(OP_RW, guestPort, hostPort, len, 0, guestBufAlloc, 0), chunk);
            sent += len;
            for (Packet p : driver.drainReceived()) {
                if (p.header().dstPort() == guestPort && p.header().op() == OP_CREDIT_UPDATE) {
                    peerFwd = p.header().fwdCnt();
                } else if (p.header().dstPort() == guestPort && p.header().op() == OP_RST) {
                    throw new AssertionError("connection reset while sending");
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------

    @Test
    void identityQueuesAndConfigSpace() throws Exception {
        sock = dir.resolve("v.sock");
        try (VirtioVsock d = new VirtioVsock(sock, 42, VirtioVsock.Limits.DEFAULT)) {
            assertEquals(VirtioDevice.TYPE_VSOCK, d.deviceType());
            assertEquals(3, d.queueCount());
            assertEquals(0, d.deviceFeatures());
            assertEquals(8, d.configSize());
            assertEquals(42, d.readConfig(0, 4));
            assertEquals(0, d.readConfig(4, 4));
            assertEquals(42, d.readConfig(0, 1));
            d.writeConfig(0, 4, 7);
            assertEquals(42, d.readConfig(0, 4), "guest_cid is read-only");
            assertTrue(Files.exists(sock));
        }
        assertFalse(Files.exists(sock), "close removes the socket file");
        assertThrows(IllegalArgumentException.class, () -> new VirtioVsock(sock, 2, VirtioVsock.Limits.DEFAULT));
        assertThrows(IllegalArgumentException.class, () -> new VirtioVsock(sock, 0xFFFF_FFFFL, VirtioVsock.Limits.DEFAULT));
    }

    @Test
    void hostConnectsToGuestAndDataFlowsBothWays() throws Exception {
        start();
        HostConn c = hostConnect(1234, 256 * 1024);
        c.host().write("ping".getBytes(StandardCharsets.US_ASCII), T);
        Packet p = driver.awaitOp(OP_RW, 1234);
        assertEquals("ping", new String(p.payload(), StandardCharsets.US_ASCII));
        assertEquals(c.hostPort(), p.header().srcPort());
        driver.send(hdr(OP_RW, 1234, c.hostPort(), 4, 0, 256 * 1024, 4), "pong".getBytes(StandardCharsets.US_ASCII));
        assertEquals("pong", new String(c.host().read(4, T), StandardCharsets.US_ASCII));
        assertEquals(1, driver.stats().connections());
        c.host().close();
    }

    @Test
    void dataSentRightAfterTheConnectLineIsKeptForTheGuest() throws Exception {
        start();
        HostEnd h = HostEnd.connect(sock);
        h.write("CONNECT 77\nhello".getBytes(StandardCharsets.US_ASCII), T);
        Packet req = driver.awaitOp(OP_REQUEST, 77);
        driver.send(hdr(OP_RESPONSE, 77, req.header().srcPort(), 0, 0, 65536, 0));
        assertEquals("OK " + req.header().srcPort(), h.readLine(T));
        assertEquals("hello", new String(driver.awaitOp(OP_RW, 77).payload(), StandardCharsets.US_ASCII));
        h.close();
    }

    @Test
    void theGuestRefusingAHostConnectionClosesTheHostSocket() throws Exception {
        start();
        HostEnd h = HostEnd.connectTo(sock, 99);
        Packet req = driver.awaitOp(OP_REQUEST, 99);
        driver.send(hdr(OP_RST, 99, req.header().srcPort(), 0, 0, 0, 0));
        assertTrue(h.closedWithin(T), "the host socket must be closed on RST");
        driver.settle();
        assertEquals(0, driver.stats().connections());
        h.close();
    }

    @Test
    void guestConnectsToHostAndDataFlowsBothWays() throws Exception {
        start();
        try (ServerSocketChannel server = listenOnPort(5000)) {
            HostEnd h = guestConnect(server, 40000, 5000, 256 * 1024);
            driver.send(hdr(OP_RW, 40000, 5000, 5, 0, 256 * 1024, 0), "hello".getBytes(StandardCharsets.US_ASCII));
            assertEquals("hello", new String(h.read(5, T), StandardCharsets.US_ASCII));
            h.write("world!".getBytes(StandardCharsets.US_ASCII), T);
            Packet p = driver.awaitOp(OP_RW, 40000);
            assertEquals("world!", new String(p.payload(), StandardCharsets.US_ASCII));
            assertEquals(5000, p.header().srcPort());
            assertEquals(5, p.header().fwdCnt(), "every packet carries the device's fwd_cnt");
            h.close();
        }
    }

    @Test
    void aGuestConnectionToAPortNobodyListensOnIsReset() throws Exception {
        start();
        driver.send(hdr(OP_REQUEST, 40001, 5001, 0, 0, 65536, 0));
        Packet rst = driver.awaitOp(OP_RST, 40001);
        assertEquals(5001, rst.header().srcPort());
        assertEquals(VirtioVsock.HOST_CID, rst.header().srcCid());
        assertEquals(3, rst.header().dstCid());
        driver.settle();
        assertEquals(0, driver.stats().connections());
    }

    @Test
    void packetsForUnknownConnectionsGetRstButRstIsNeverAnswered() throws Exception {
        start();
        driver.send(hdr(OP_RW, 50000, 6000, 3, 0, 65536, 0), new byte[] {1, 2, 3});
        driver.awaitOp(OP_RST, 50000);
        driver.send(hdr(OP_CREDIT_UPDATE, 50001, 6000, 0, 0, 65536, 0));
        driver.awaitOp(OP_RST, 50001);
        driver.send(hdr(OP_SHUTDOWN, 50002, 6000, 0, SHUTDOWN_BOTH, 65536, 0));
        driver.awaitOp(OP_RST, 50002);
        driver.send(hdr(OP_RST, 50003, 6000, 0, 0, 65536, 0));
        driver.settle();
        assertTrue(driver.drainReceived().isEmpty(), "an RST is never answered");
    }

    @Test
    void malformedPacketsAreDroppedOrResetNeverAnException() throws Exception {
        start();
        long before = device.invalidPackets();
        // Forged source CID: dropped silently.
        driver.send(new VsockHeader(7, 2, 1, 2, 0, TYPE_STREAM, OP_REQUEST, 0, 4096, 0));
        // A chain shorter than a header: dropped.
        driver.sendRaw(new byte[10], new byte[0]);
        driver.settle();
        assertTrue(driver.drainReceived().isEmpty());
        assertEquals(before + 2, device.invalidPackets());
        assertEquals(2, device.droppedPackets());

        // Another destination CID: RST from that CID.
        driver.send(new VsockHeader(3, 7, 60000, 1, 0, TYPE_STREAM, OP_REQUEST, 0, 4096, 0));
        Packet rst = driver.awaitOp(OP_RST, 60000);
        assertEquals(7, rst.header().srcCid());
        // SEQPACKET (not negotiated), unknown ops, bad lengths: RST.
        driver.send(new VsockHeader(3, 2, 60001, 1, 0, TYPE_SEQPACKET, OP_REQUEST, 0, 4096, 0));
        assertEquals(TYPE_SEQPACKET, driver.awaitOp(OP_RST, 60001).header().type());
        driver.send(new VsockHeader(3, 2, 60002, 1, 0, 9, OP_REQUEST, 0, 4096, 0));
        driver.awaitOp(OP_RST, 60002);
        driver.send(hdr(OP_INVALID, 60003, 1, 0, 0, 4096, 0));
        driver.awaitOp(OP_RST, 60003);
        driver.send(hdr(8, 60004, 1, 0, 0, 4096, 0));
        driver.awaitOp(OP_RST, 60004);
        driver.send(hdr(0xFFFF, 60005, 1, 0, 0, 4096, 0));
        driver.awaitOp(OP_RST, 60005);
        driver.send(hdr(OP_RW, 60006, 1, 100, 0, 4096, 0), new byte[50]); // len beyond the chain
        driver.awaitOp(OP_RST, 60006);
        driver.send(hdr(OP_RW, 60007, 1, -1, 0, 4096, 0), new byte[50]); // len 4 GiB - 1
        driver.awaitOp(OP_RST, 60007);
        driver.send(hdr(OP_RW, 60008, 1, VirtioVsock.MAX_PAYLOAD + 1, 0, 4096, 0),
                new byte[VirtioVsock.MAX_PAYLOAD + 1]); // above the cap, though the chain holds it
        driver.awaitOp(OP_RST, 60008);
        driver.send(hdr(OP_REQUEST, 60009, 1, 4, 0, 4096, 0), new byte[4]); // payload on a REQUEST
        driver.awaitOp(OP_RST, 60009);
        driver.settle();
        assertEquals(0, driver.stats().connections());

        // Still works.
        try (ServerSocketChannel server = listenOnPort(5005)) {
            HostEnd h = guestConnect(server, 40005, 5005, 65536);
            h.close();
        }
    }

    @Test
    void anInvalidOpOnAConnectionResetsIt() throws Exception {
        start();
        try (ServerSocketChannel server = listenOnPort(5006)) {
            HostEnd h = guestConnect(server, 40006, 5006, 65536);
            driver.send(hdr(OP_RESPONSE, 40006, 5006, 0, 0, 65536, 0)); // RESPONSE on an established connection
            driver.awaitOp(OP_RST, 40006);
            assertTrue(h.closedWithin(T));
            h.close();
            HostEnd h2 = guestConnect(server, 40007, 5006, 65536);
            driver.send(hdr(OP_REQUEST, 40007, 5006, 0, 0, 65536, 0)); // a second REQUEST
            driver.awaitOp(OP_RST, 40007);
            assertTrue(h2.closedWithin(T));
            h2.close();
        }
        // RESPONSE to a REQUEST that does not exist / was not sent: reset.
        HostEnd h = HostEnd.connectTo(sock, 88);
        Packet req = driver.awaitOp(OP_REQUEST, 88);
        driver.send(hdr(OP_RW, 88, req.header().srcPort(), 1, 0, 65536, 0), new byte[1]); // RW before RESPONSE
        driver.awaitOp(OP_RST, 88);
        assertTrue(h.closedWithin(T));
        h.close();
        driver.settle();
        assertEquals(0, driver.stats().connections());
    }

    @Test
    void theDeviceNeverExceedsTheGuestsCreditAndAsksForMore() throws Exception {
        start();
        int bufAlloc = 8192;
        HostConn c = hostConnect(2000, bufAlloc);
        byte[] data = pattern(100_000, 1);
        Thread writer = Thread.ofPlatform().start(() -> {
            try {
                c.host().write(data, Duration.ofSeconds(30));
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        int fwd = 0;
        boolean sawCreditRequest = false;
        while (got.size() < data.length) {
            Packet p = driver.await(pk -> pk.header().dstPort() == 2000
                    && (pk.header().op() == OP_RW || pk.header().op() == OP_CREDIT_REQUEST));
            if (p.header().op() == OP_CREDIT_REQUEST) {
                sawCreditRequest = true;
                continue;
            }
            got.write(p.payload());
            assertTrue(got.size() - fwd <= bufAlloc, "device exceeded the guest's credit");
            if (got.size() - fwd == bufAlloc) {
                // Credit used up: nothing more may come until the guest says it consumed some.
                Thread.sleep(100);
                driver.settle();
                for (Packet q : driver.drainReceived()) {
                    if (q.header().op() == OP_RW) {
                        throw new AssertionError("data beyond the credit: " + q);
                    }
                    sawCreditRequest |= q.header().op() == OP_CREDIT_REQUEST;
                }
                fwd = got.size();
                driver.send(hdr(OP_CREDIT_UPDATE, 2000, c.hostPort(), 0, 0, bufAlloc, fwd));
            }
        }
        writer.join();
        assertArrayEquals(data, got.toByteArray());
        assertTrue(sawCreditRequest, "with data waiting and no credit, the device asks for credit");
        c.host().close();
    }

    @Test
    void theDeviceSendsCreditUpdatesAsTheHostConsumesAndWhenAsked() throws Exception {
        start();
        try (ServerSocketChannel server = listenOnPort(5010)) {
            HostEnd h = guestConnect(server, 40010, 5010, 65536);
            driver.send(hdr(OP_CREDIT_REQUEST, 40010, 5010, 0, 0, 65536, 0));
            assertEquals(0, driver.awaitOp(OP_CREDIT_UPDATE, 40010).header().fwdCnt());
            byte[] data = pattern(96 * 1024, 2);
            for (int off = 0; off < data.length; off += 32 * 1024) {
                driver.send(hdr(OP_RW, 40010, 5010, 32 * 1024, 0, 65536, 0),
                        java.util.Arrays.copyOfRange(data, off, off + 32 * 1024));
            }
            assertArrayEquals(data, h.read(data.length, T));
            // A quarter of buf_alloc consumed since the guest last heard: an update.
            Packet u = driver.awaitOp(OP_CREDIT_UPDATE, 40010);
            assertTrue(Integer.toUnsignedLong(u.header().fwdCnt()) >= device.limits().bufAlloc() / 4, u.toString());
            driver.send(hdr(OP_CREDIT_REQUEST, 40010, 5010, 0, 0, 65536, 0));
            assertEquals(data.length, driver.awaitOp(OP_CREDIT_UPDATE, 40010).header().fwdCnt());
            h.close();
        }
    }

    @Test
    void aSlowHostReaderStopsTheGuestWithoutUnboundedBuffering() throws Exception {
        int bufAlloc = 16 * 1024;
        start(new VirtioVsock.Limits(bufAlloc, 16));
        try (ServerSocketChannel server = listenOnPort(5020)) {
            HostEnd h = guestConnect(server, 40020, 5020, 65536);
            byte[] data = pattern(2 << 20, 3);
            // The host does not read at first: the guest's credit runs out once the socket's own
            // buffer and the device's buf_alloc are full.
            AtomicReference<Throwable> failed = new AtomicReference<>();
            Thread sender = Thread.ofPlatform().start(() -> {
                try {
                    guestSend(40020, 5020, data, 65536, bufAlloc);
                } catch (Throwable e) {
                    failed.set(e);
                }
            });
            long maxBuffered = 0;
            long lastSent = -1;
            for (int i = 0; i < 50; i++) {
                Thread.sleep(20);
                maxBuffered = Math.max(maxBuffered, driver.stats().bufferedForHost());
                long sent = device.bytesToHost();
                if (sent == lastSent && i > 10) {
                    break; // stalled: the guest waits for credit
                }
                lastSent = sent;
            }
            assertTrue(sender.isAlive(), "the guest must be stalled by the slow reader");
            assertTrue(maxBuffered <= bufAlloc, "device buffered " + maxBuffered + " > buf_alloc " + bufAlloc);
            assertTrue(driver.stats().bufferedForHost() > 0, "the device holds what the socket did not take");
            assertTrue(device.bytesToHost() < data.length);
            // Now the host reads everything.
            byte[] got = h.read(data.length, Duration.ofSeconds(60));
            sender.join(60_000);
            assertNull(failed.get());
            assertEquals(crc(data), crc(got));
            assertTrue(driver.stats().bufferedForHost() <= bufAlloc);
            h.close();
        }
    }

    @Test
    void aGuestIgnoringItsCreditIsResetBeforeTheDeviceBuffersMoreThanBufAlloc() throws Exception {
        int bufAlloc = 8192;
        start(new VirtioVsock.Limits(bufAlloc, 16));
        try (ServerSocketChannel server = listenOnPort(5030)) {
            HostEnd h = guestConnect(server, 40030, 5030, 65536);
            long sent = 0;
            boolean reset = false;
            while (!reset && sent < (64L << 20)) {
                driver.send(hdr(OP_RW, 40030, 5030, 4096, 0, 65536, 0), new byte[4096]);
                sent += 4096;
                assertTrue(driver.stats().bufferedForHost() <= bufAlloc);
                for (Packet p : driver.drainReceived()) {
                    reset |= p.header().op() == OP_RST && p.header().dstPort() == 40030;
                }
            }
            driver.settle();
            for (Packet p : driver.drainReceived()) {
                reset |= p.header().op() == OP_RST && p.header().dstPort() == 40030;
            }
            assertTrue(reset, "a guest sending beyond its credit is reset (sent " + sent + ")");
            assertEquals(0, driver.stats().connections());
            h.close();
        }
    }

    /**
     * The cheapest attack on the host's heap: a guest spends its whole credit in one-byte packets
     * on a host socket that does not read. The device holds what the socket did not take (at most
     * buf_alloc) in one buffer, not in an object per packet, and hands it on in order, with the
     * right fwd_cnt.
     */
    @Test
    void oneBytePacketsFillingTheCreditCostOneBufferNotAnObjectEach() throws Exception {
        start();
        int bufAlloc = device.limits().bufAlloc();
        int n = 262_144;
        try (ServerSocketChannel server = listenOnPort(5031)) {
            HostEnd h = guestConnect(server, 40031, 5031, 65536);
            byte[] data = pattern(n, 9);
            driver.sendMany(n, i -> hdr(OP_RW, 40031, 5031, 1, 0, 65536, 0), i -> new byte[] {data[i]});
            driver.settle();
            VirtioVsock.Stats s = driver.stats();
            assertEquals(1, s.connections(), "a guest within its credit is not reset");
            assertEquals(n - device.bytesToHost(), s.bufferedForHost());
            assertTrue(s.bufferedForHost() > n / 2, "the host socket took " + device.bytesToHost()
                    + " bytes; the test needs the device to hold most of them");
            assertTrue(s.bufferedForHost() <= bufAlloc);
            assertTrue(s.bufferObjects() <= 1, s.bufferObjects() + " objects hold " + s.bufferedForHost()
                    + " buffered bytes of one connection");
            assertTrue(s.bufferCapacity() <= bufAlloc, "the device retains " + s.bufferCapacity()
                    + " bytes of buffers for one connection, more than buf_alloc " + bufAlloc);

            assertArrayEquals(data, h.read(n, T));
            driver.settle();
            s = driver.stats();
            assertEquals(0, s.bufferedForHost());
            assertEquals(0, s.bufferObjects(), "a drained connection keeps no buffer");
            assertEquals(n, device.bytesToHost());
            driver.send(hdr(OP_CREDIT_REQUEST, 40031, 5031, 0, 0, 65536, 0));
            Packet u = driver.await(pk -> pk.header().dstPort() == 40031 && pk.header().op() == OP_CREDIT_UPDATE
                    && pk.header().fwdCnt() == n);
            assertEquals(bufAlloc, u.header().bufAlloc());
            h.close();
        }
    }

    /** Exactly at its credit (buf_alloc beyond the device's fwd_cnt) the guest is fine; one byte more is RST. */
    @Test
    void aGuestOneBytePastItsCreditIsResetAndNotBefore() throws Exception {
        int bufAlloc = 16 * 1024;
        start(new VirtioVsock.Limits(bufAlloc, 16));
        try (ServerSocketChannel server = listenOnPort(5032)) {
            HostEnd h = guestConnect(server, 40032, 5032, 65536);
            driver.sendMany(bufAlloc, i -> hdr(OP_RW, 40032, 5032, 1, 0, 65536, 0), i -> new byte[] {(byte) i});
            driver.settle();
            int took = (int) device.bytesToHost();
            driver.send(hdr(OP_CREDIT_REQUEST, 40032, 5032, 0, 0, 65536, 0));
            Packet u = driver.await(pk -> pk.header().dstPort() == 40032 && pk.header().op() == OP_CREDIT_UPDATE
                    && pk.header().fwdCnt() == took);
            assertEquals(bufAlloc, u.header().bufAlloc());
            // The guest's credit now: buf_alloc - (sent - fwd_cnt) = took.
            driver.sendMany(took, i -> hdr(OP_RW, 40032, 5032, 1, 0, 65536, 0), i -> new byte[] {(byte) i});
            driver.settle();
            VirtioVsock.Stats s = driver.stats();
            assertEquals(1, s.connections(), "a guest that used exactly its credit is not reset");
            assertEquals(bufAlloc, s.bufferedForHost());
            assertTrue(s.bufferObjects() <= 1, s.bufferObjects() + " objects");
            assertTrue(s.bufferCapacity() <= bufAlloc, s.bufferCapacity() + " bytes retained");
            assertTrue(driver.drainReceived().stream().noneMatch(p -> p.header().op() == OP_RST));
            driver.send(hdr(OP_RW, 40032, 5032, 1, 0, 65536, 0), new byte[] {1});
            assertEquals(5032, driver.awaitOp(OP_RST, 40032).header().srcPort());
            assertTrue(h.closedWithin(T), "the host socket of a reset connection is closed");
            driver.settle();
            assertEquals(0, driver.stats().connections());
            assertEquals(0, driver.stats().bufferedForHost());
            h.close();
        }
    }

    @Test
    void withoutRxBuffersTheHostSocketIsNotRead() throws Exception {
        start();
        HostConn c = hostConnect(3000, BIG);
        driver.autoRefill(false);
        // Use up the posted rx buffers, then the host's writes must block: the device reads nothing more.
        ByteBuffer chunk = ByteBuffer.wrap(pattern(1 << 20, 4));
        long written = 0;
        int idle = 0;
        while (idle < 20 && written < (64L << 20)) {
            if (!chunk.hasRemaining()) {
                chunk.clear(); // the stream is the pattern, repeated
            }
            int n = c.host().writeSome(chunk);
            written += n;
            if (n == 0) {
                idle++;
                Thread.sleep(10);
            } else {
                idle = 0;
            }
        }
        driver.settle();
        assertEquals(0, driver.postedRx(), "the device used every rx buffer");
        long delivered = device.bytesToGuest();
        assertTrue(written < (16L << 20), "the host could write " + written + " bytes: the device kept reading");
        assertTrue(delivered <= VsockDriver.RX_SLOTS * 4096L, "delivered " + delivered);
        Thread.sleep(100);
        assertEquals(delivered, device.bytesToGuest(), "nothing read without rx buffers");
        // Buffers again: everything written arrives.
        driver.autoRefill(true);
        driver.postRx(VsockDriver.RX_SLOTS);
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        while (got.size() < written) {
            got.write(driver.awaitOp(OP_RW, 3000).payload());
        }
        assertEquals(written, got.size());
        byte[] all = got.toByteArray();
        byte[] p = chunk.array();
        for (int i = 0; i < all.length; i += 4099) {
            assertEquals(p[i % p.length], all[i], "byte " + i);
        }
        c.host().close();
    }

    @Test
    void guestShutdownSendHalfClosesAndShutdownBothEndsWithRst() throws Exception {
        start();
        try (ServerSocketChannel server = listenOnPort(5040)) {
            HostEnd h = guestConnect(server, 40040, 5040, 65536);
            driver.send(hdr(OP_RW, 40040, 5040, 3, 0, 65536, 0), "bye".getBytes(StandardCharsets.US_ASCII));
            driver.send(hdr(OP_SHUTDOWN, 40040, 5040, 0, SHUTDOWN_SEND, 65536, 0));
            assertEquals("bye", new String(h.readToEnd(T), StandardCharsets.US_ASCII), "data, then end of stream");
            // The other direction still works.
            h.write("late".getBytes(StandardCharsets.US_ASCII), T);
            assertEquals("late", new String(driver.awaitOp(OP_RW, 40040).payload(), StandardCharsets.US_ASCII));
            driver.send(hdr(OP_SHUTDOWN, 40040, 5040, 0, SHUTDOWN_BOTH, 65536, 4));
            Packet rst = driver.awaitOp(OP_RST, 40040);
            assertEquals(5040, rst.header().srcPort());
            driver.settle();
            assertEquals(0, driver.stats().connections());
            h.close();
        }
    }

    @Test
    void hostEndOfStreamIsShutdownSendAndTheGuestsCloseIsAnsweredWithRst() throws Exception {
        start();
        HostConn c = hostConnect(3100, 65536);
        c.host().write("last words".getBytes(StandardCharsets.US_ASCII), T);
        c.host().channel.shutdownOutput();
        assertEquals("last words", new String(driver.awaitOp(OP_RW, 3100).payload(), StandardCharsets.US_ASCII));
        Packet sd = driver.awaitOp(OP_SHUTDOWN, 3100);
        assertEquals(SHUTDOWN_SEND, sd.header().flags());
        // The guest still sends, then closes.
        driver.send(hdr(OP_RW, 3100, c.hostPort(), 2, 0, 65536, 10), "ok".getBytes(StandardCharsets.US_ASCII));
        assertEquals("ok", new String(c.host().read(2, T), StandardCharsets.US_ASCII));
        driver.send(hdr(OP_SHUTDOWN, 3100, c.hostPort(), 0, SHUTDOWN_BOTH, 65536, 10));
        driver.awaitOp(OP_RST, 3100);
        assertTrue(c.host().closedWithin(T));
        driver.settle();
        assertEquals(0, driver.stats().connections());
        c.host().close();
    }

    @Test
    void bothDirectionsFinishedEndsTheConnection() throws Exception {
        start();
        try (ServerSocketChannel server = listenOnPort(5050)) {
            HostEnd h = guestConnect(server, 40050, 5050, 65536);
            driver.send(hdr(OP_SHUTDOWN, 40050, 5050, 0, SHUTDOWN_SEND, 65536, 0));
            assertEquals(0, h.readToEnd(T).length);
            h.channel.shutdownOutput();
            assertEquals(SHUTDOWN_SEND, driver.awaitOp(OP_SHUTDOWN, 40050).header().flags());
            driver.awaitOp(OP_RST, 40050);
            driver.settle();
            assertEquals(0, driver.stats().connections());
            h.close();
        }
    }

    @Test
    void guestRstClosesTheHostSocketAndAFailedHostWriteResetsTheGuest() throws Exception {
        start();
        try (ServerSocketChannel server = listenOnPort(5060)) {
            HostEnd h = guestConnect(server, 40060, 5060, 65536);
            driver.send(hdr(OP_RST, 40060, 5060, 0, 0, 65536, 0));
            assertTrue(h.closedWithin(T));
            h.close();
            HostEnd h2 = guestConnect(server, 40061, 5060, 65536);
            h2.close(); // the host side goes away entirely
            assertEquals(SHUTDOWN_SEND, driver.awaitOp(OP_SHUTDOWN, 40061).header().flags());
            driver.send(hdr(OP_RW, 40061, 5060, 4, 0, 65536, 0), new byte[4]); // EPIPE
            driver.awaitOp(OP_RST, 40061);
            driver.settle();
            assertEquals(0, driver.stats().connections());
        }
    }

    @Test
    void resetClosesEveryConnectionStopsThePollerAndTheDeviceWorksAfterwards() throws Exception {
        start();
        HostConn c = hostConnect(3200, 65536);
        HostEnd pending = HostEnd.connectTo(sock, 3201); // REQUEST sent, never answered
        driver.awaitOp(OP_REQUEST, 3201);
        HostEnd noLine = HostEnd.connect(sock); // never says CONNECT
        ServerSocketChannel server = listenOnPort(5070);
        HostEnd g = guestConnect(server, 40070, 5070, 65536);
        driver.settle();
        VirtioVsock.Stats s = driver.stats();
        assertEquals(3, s.connections());
        assertTrue(s.pollerRunning());
        List<Thread> pollers = Thread.getAllStackTraces().keySet().stream()
                .filter(t -> t.getName().equals("vsock-v.sock")).toList();
        assertFalse(pollers.isEmpty());

        driver.reset();
        assertTrue(c.host().closedWithin(T));
        assertTrue(pending.closedWithin(T));
        assertTrue(noLine.closedWithin(T));
        assertTrue(g.closedWithin(T));
        for (Thread t : pollers) {
            t.join(5000);
            assertFalse(t.isAlive(), "the poller thread stops on reset");
        }
        VirtioVsock.Stats after = driver.call(device::stats);
        assertEquals(0, after.connections());
        assertEquals(0, after.awaitingConnectLine());
        assertFalse(after.pollerRunning());

        // A client that connects while the driver is down waits in the backlog until DRIVER_OK.
        HostEnd early = HostEnd.connectTo(sock, 3300);
        Thread.sleep(100);
        driver.activate();
        driver.postRx(VsockDriver.RX_SLOTS);
        Packet req = driver.awaitOp(OP_REQUEST, 3300);
        driver.send(hdr(OP_RESPONSE, 3300, req.header().srcPort(), 0, 0, 65536, 0));
        assertEquals("OK " + req.header().srcPort(), early.readLine(T));
        for (HostEnd e : List.of(c.host(), pending, noLine, g, early)) {
            e.close();
        }
        server.close();
    }

    @Test
    void malformedConnectLinesCloseTheHostSocket() throws Exception {
        start();
        for (String line : List.of("HELLO\n", "CONNECT\n", "CONNECT abc\n", "CONNECT -1\n", "CONNECT 4294967295\n",
                "connect 5\n", "CONNECT  5\n", "x".repeat(200))) {
            HostEnd h = HostEnd.connect(sock);
            h.write(line.getBytes(StandardCharsets.US_ASCII), T);
            assertTrue(h.closedWithin(T), "not closed after " + line.strip());
            h.close();
        }
        driver.settle();
        assertTrue(driver.drainReceived().isEmpty());
        assertEquals(0, driver.stats().awaitingConnectLine());
        assertEquals(5, VirtioVsock.parseConnectLine("CONNECT 5\r"));
        assertEquals(0xFFFF_FFFEL, VirtioVsock.parseConnectLine("CONNECT 4294967294"));
        assertEquals(-1, VirtioVsock.parseConnectLine("CONNECT 99999999999"));
    }

    @Test
    void theConnectionLimitHolds() throws Exception {
        start(new VirtioVsock.Limits(65536, 2));
        HostConn a = hostConnect(3400, 65536);
        HostConn b = hostConnect(3401, 65536);
        HostEnd third = HostEnd.connect(sock);
        assertTrue(third.closedWithin(T), "a client beyond the limit is closed");
        third.close();
        try (ServerSocketChannel server = listenOnPort(5080)) {
            driver.send(hdr(OP_REQUEST, 40080, 5080, 0, 0, 65536, 0));
            driver.awaitOp(OP_RST, 40080);
        }
        a.host().close();
        b.host().close();
    }

    @Test
    void rstRepliesWithoutRxBuffersAreCapped() throws Exception {
        start();
        driver.autoRefill(false);
        driver.reset();
        driver.activate(); // no rx buffers at all
        for (int i = 0; i < VirtioVsock.MAX_QUEUED_REPLIES + 100; i++) {
            driver.send(hdr(OP_RW, 10000 + i, 1, 0, 0, 4096, 0));
            if (i % 16 == 15) {
                driver.settle(); // let the driver see its tx buffers back
            }
        }
        driver.settle();
        assertEquals(VirtioVsock.MAX_QUEUED_REPLIES, driver.stats().queuedReplies());
        assertEquals(100, device.repliesDropped());
        driver.postRx(VsockDriver.RX_SLOTS);
        driver.settle();
        assertEquals(VsockDriver.RX_SLOTS, driver.drainReceived().size());
    }

    @Test
    void randomGarbageNeverFailsTheDevice() throws Exception {
        start();
        Random random = new Random(1234);
        try (ServerSocketChannel server = listenOnPort(7)) {
            for (int i = 0; i < 3000; i++) {
                byte[] h = new byte[random.nextInt(4) == 0 ? random.nextInt(60) : VsockHeader.SIZE];
                random.nextBytes(h);
                if (h.length >= VsockHeader.SIZE && random.nextBoolean()) {
                    // Mostly plausible: right CIDs, small ports, a real op; random lengths and flags.
                    VsockHeader v = VsockHeader.decode(h);
                    h = new VsockHeader(3, random.nextInt(8) == 0 ? v.dstCid() : 2, random.nextInt(4),
                            random.nextInt(8), random.nextInt(3) == 0 ? v.len() : random.nextInt(200),
                            random.nextInt(8) == 0 ? v.type() : TYPE_STREAM, random.nextInt(9), v.flags(),
                            v.bufAlloc(), v.fwdCnt()).encode();
                }
                byte[] payload = new byte[random.nextInt(3) == 0 ? 0 : random.nextInt(300)];
                random.nextBytes(payload);
                driver.sendRaw(h, payload);
                if (i % 16 == 15) {
                    driver.settle();
                    ServerSocketChannel s = server;
                    s.configureBlocking(false);
                    java.nio.channels.SocketChannel ch;
                    while ((ch = s.accept()) != null) {
                        ch.close();
                    }
                    driver.drainReceived();
                }
            }
            driver.settle();
        }
        assertNull(driver.failure);
        assertTrue(driver.live());
        // And it still works.
        try (ServerSocketChannel server = listenOnPort(5090)) {
            HostEnd h = guestConnect(server, 49999, 5090, 65536);
            h.close();
        }
    }

    @Test
    void megabytesBothWaysWithEventIdx() throws Exception {
        sock = dir.resolve("v.sock");
        device = new VirtioVsock(sock, 3, VirtioVsock.Limits.DEFAULT);
        driver = new VsockDriver(device);
        driver.activate(true);
        driver.postRx(VsockDriver.RX_SLOTS);
        int n = 4 << 20;
        HostConn c = hostConnect(3500, 256 * 1024);
        byte[] down = pattern(n, 5);
        Thread writer = Thread.ofPlatform().start(() -> {
            try {
                c.host().write(down, Duration.ofSeconds(60));
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        assertEquals(crc(down), crc(guestReceive(3500, c.hostPort(), n, 256 * 1024)));
        writer.join();
        byte[] up = pattern(n, 6);
        AtomicReference<byte[]> got = new AtomicReference<>();
        Thread reader = Thread.ofPlatform().start(() -> {
            try {
                got.set(c.host().read(n, Duration.ofSeconds(60)));
            } catch (IOException e) {
                throw new RuntimeException(e);
            }
        });
        guestSend(3500, c.hostPort(), up, 256 * 1024, device.limits().bufAlloc());
        reader.join(60_000);
        assertEquals(crc(up), crc(got.get()));
        c.host().close();
    }

    static final String SECRET = "0123456789abcdef";

    /** A TCP listener on loopback playing the host's relay for {@link VsockUplink}. */
    static ServerSocketChannel relay() throws IOException {
        return ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
    }

    static InetSocketAddress addressOf(ServerSocketChannel relay) throws IOException {
        return (InetSocketAddress) relay.getLocalAddress();
    }

    /**
     * A host peer that accepts the uplink's connection and never answers must not stall the
     * device: while that handshake waits, another connection moves data both ways, and the guest's
     * REQUEST stays unanswered (neither RESPONSE nor RST) until the relay decides.
     */
    @Test
    void aHostRelayThatNeverAnswersStallsOnlyItsOwnConnection() throws Exception {
        start();
        HostConn other = hostConnect(3600, 65536);
        try (ServerSocketChannel relay = relay()) {
            device.withUplink(new VsockUplink(addressOf(relay), SECRET));
            AtomicReference<Throwable> sendFailed = new AtomicReference<>();
            Thread guest = Thread.ofPlatform().start(() -> {
                try {
                    driver.send(hdr(OP_REQUEST, 40100, 6100, 0, 0, 65536, 0));
                } catch (Throwable e) {
                    sendFailed.set(e);
                }
            });
            HostEnd silent = HostEnd.accept(relay, T);
            assertEquals(SECRET + " 6100", silent.readLine(T), "the uplink's handshake line");
            // The handshake now waits for the relay's answer. Half the old blocking bound (10 s):
            Duration quick = Duration.ofSeconds(5);
            other.host().write("ping".getBytes(StandardCharsets.US_ASCII), quick);
            assertEquals("ping", new String(driver.await(pk -> pk.header().op() == OP_RW
                    && pk.header().dstPort() == 3600, quick).payload(), StandardCharsets.US_ASCII),
                    "another connection must flow while a host peer does not answer");
            driver.send(hdr(OP_RW, 3600, other.hostPort(), 4, 0, 65536, 0), "pong".getBytes(StandardCharsets.US_ASCII));
            assertEquals("pong", new String(other.host().read(4, quick), StandardCharsets.US_ASCII));
            guest.join(T.toMillis());
            assertNull(sendFailed.get());
            assertTrue(driver.drainReceived().stream().noneMatch(pk -> pk.header().dstPort() == 40100),
                    "the guest's REQUEST is answered only once the relay answers or the handshake times out");
            assertEquals(2, driver.stats().connections());
            // The relay gives up: the guest's connect is refused.
            silent.close();
            assertEquals(6100, driver.awaitOp(OP_RST, 40100).header().srcPort());
            driver.settle();
            assertEquals(1, driver.stats().connections());
        }
        other.host().close();
    }

    /**
     * The handshake's bound: a relay that accepts and never answers gets its connection closed after
     * the uplink's handshake timeout, and the guest RST; meanwhile those waiting handshakes count
     * against the connection limit.
     */
    @Test
    void aSilentRelayIsGivenUpAfterTheHandshakeTimeout() throws Exception {
        start(new VirtioVsock.Limits(65536, 3));
        Duration timeout = Duration.ofMillis(300);
        try (ServerSocketChannel relay = relay()) {
            device.withUplink(new VsockUplink(addressOf(relay), SECRET, timeout));
            long t0 = System.nanoTime();
            driver.send(hdr(OP_REQUEST, 40110, 6110, 0, 0, 65536, 0));
            driver.send(hdr(OP_REQUEST, 40111, 6111, 0, 0, 65536, 0));
            driver.send(hdr(OP_REQUEST, 40112, 6112, 0, 0, 65536, 0));
            driver.send(hdr(OP_REQUEST, 40113, 6113, 0, 0, 65536, 0)); // over the limit of 3
            assertEquals(6113, driver.awaitOp(OP_RST, 40113).header().srcPort());
            List<HostEnd> silent = new java.util.ArrayList<>();
            for (int i = 0; i < 3; i++) {
                silent.add(HostEnd.accept(relay, T));
            }
            for (int port = 40110; port <= 40112; port++) {
                driver.awaitOp(OP_RST, port);
            }
            long elapsed = System.nanoTime() - t0;
            assertTrue(elapsed >= timeout.toNanos(), "given up after " + elapsed / 1_000_000 + " ms");
            for (HostEnd e : silent) {
                assertTrue(e.closedWithin(T), "the device closes its side of a handshake it gave up");
                e.close();
            }
            driver.settle();
            assertEquals(0, driver.stats().connections());
            assertTrue(driver.drainReceived().stream().noneMatch(p -> p.header().op() == OP_RESPONSE));
        }
    }

    /** The guest's RST, a device reset and a wrong answer each end a handshake; nothing is left behind. */
    @Test
    void aPendingUplinkHandshakeEndsWithTheGuestsRstAResetOrAWrongAnswer() throws Exception {
        start();
        try (ServerSocketChannel relay = relay()) {
            device.withUplink(new VsockUplink(addressOf(relay), SECRET));
            driver.send(hdr(OP_REQUEST, 40120, 6120, 0, 0, 65536, 0));
            HostEnd a = HostEnd.accept(relay, T);
            a.readLine(T);
            assertEquals(1, driver.stats().connectingToHost());
            driver.send(hdr(OP_RST, 40120, 6120, 0, 0, 65536, 0)); // the guest gives up
            assertTrue(a.closedWithin(T), "the guest's RST aborts the handshake");
            a.close();
            driver.settle();
            assertEquals(0, driver.stats().connections());

            driver.send(hdr(OP_REQUEST, 40121, 6121, 0, 0, 65536, 0));
            HostEnd b = HostEnd.accept(relay, T);
            b.readLine(T);
            driver.send(hdr(OP_RW, 40121, 6121, 1, 0, 65536, 0), new byte[1]); // data before RESPONSE
            driver.awaitOp(OP_RST, 40121);
            assertTrue(b.closedWithin(T));
            b.close();

            driver.send(hdr(OP_REQUEST, 40122, 6122, 0, 0, 65536, 0));
            HostEnd c = HostEnd.accept(relay, T);
            c.readLine(T);
            c.write("NO\n".getBytes(StandardCharsets.US_ASCII), T);
            driver.awaitOp(OP_RST, 40122);
            assertTrue(c.closedWithin(T));
            c.close();

            driver.send(hdr(OP_REQUEST, 40123, 6123, 0, 0, 65536, 0));
            HostEnd d = HostEnd.accept(relay, T);
            d.readLine(T);
            driver.reset();
            assertTrue(d.closedWithin(T), "a device reset aborts the handshake");
            d.close();
            assertEquals(0, driver.call(device::stats).connections());
            assertTrue(driver.drainReceived().stream().noneMatch(p -> p.header().op() == OP_RESPONSE));
        }
    }

    /** Through a relay that answers OK, a guest connection works as with a local socket. */
    @Test
    void aGuestConnectionThroughTheUplinkCarriesDataBothWays() throws Exception {
        start();
        try (ServerSocketChannel relay = relay()) {
            device.withUplink(new VsockUplink(addressOf(relay), SECRET));
            driver.send(hdr(OP_REQUEST, 40101, 6101, 0, 0, 65536, 0));
            HostEnd h = HostEnd.accept(relay, T);
            assertEquals(SECRET + " 6101", h.readLine(T));
            h.write("OK\n".getBytes(StandardCharsets.US_ASCII), T);
            Packet resp = driver.awaitOp(OP_RESPONSE, 40101);
            assertEquals(6101, resp.header().srcPort());
            assertEquals(device.limits().bufAlloc(), resp.header().bufAlloc());
            driver.send(hdr(OP_RW, 40101, 6101, 5, 0, 65536, 0), "hello".getBytes(StandardCharsets.US_ASCII));
            assertEquals("hello", new String(h.read(5, T), StandardCharsets.US_ASCII));
            h.write("world".getBytes(StandardCharsets.US_ASCII), T);
            assertEquals("world", new String(driver.awaitOp(OP_RW, 40101).payload(), StandardCharsets.US_ASCII));
            h.close();
        }
    }

    @Test
    void theSocketPathIsCheckedAndAStaleSocketReplaced() throws Exception {
        Path p = dir.resolve("s.sock");
        Files.writeString(p, "not a socket");
        IOException e = assertThrows(IOException.class, () -> new VirtioVsock(p, 3, VirtioVsock.Limits.DEFAULT));
        assertTrue(e.getMessage().contains("not a socket"), e.getMessage());
        Files.delete(p);
        try (ServerSocketChannel live = HostEnd.listen(p)) {
            e = assertThrows(IOException.class, () -> new VirtioVsock(p, 3, VirtioVsock.Limits.DEFAULT));
            assertTrue(e.getMessage().contains("in use"), e.getMessage());
        }
        assertTrue(Files.exists(p), "a closed Java server leaves its socket file behind");
        try (VirtioVsock d = new VirtioVsock(p, 3, VirtioVsock.Limits.DEFAULT)) {
            HostEnd.connect(p).close(); // it listens
        }
        assertFalse(Files.exists(p));
    }
}
