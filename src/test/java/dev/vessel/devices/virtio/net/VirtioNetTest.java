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

import dev.vessel.devices.virtio.VirtioDevice;
import dev.vessel.devices.virtio.VirtioFeatures;
import dev.vessel.devices.virtio.VirtioStatus;
import dev.vessel.devices.virtio.balloon.DriverBench.Buf;
import dev.vessel.devices.virtio.balloon.DriverBench.Used;
import dev.vessel.devices.virtio.mmio.VirtioMmioTransport;
import dev.vessel.sys.Tap;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class VirtioNetTest {
    static final long MRG = VirtioFeatures.bit(F_MRG_RXBUF);
    static final long ALL = -1L;
    static final long NO_MRG = ALL & ~MRG;
    static final long PLAIN = VirtioFeatures.bit(F_MAC) | VirtioFeatures.bit(F_STATUS);

    final List<NetRig> rigs = new ArrayList<>();

    NetRig rig(long features) throws Exception {
        return rig(features, 256);
    }

    NetRig rig(long features, int queueSize) throws Exception {
        NetRig r = new NetRig(features, queueSize);
        rigs.add(r);
        assertTrue(r.active, "the driver brought the device up");
        return r;
    }

    @AfterEach
    void close() {
        rigs.forEach(NetRig::close);
    }

    static byte[] slice(byte[] b, int from, int to) {
        return Arrays.copyOfRange(b, from, to);
    }

    // ---- identity and set-up

    @Test
    void identityFeaturesAndConfiguration() throws Exception {
        NetRig r = rig(ALL);
        assertEquals(VirtioDevice.TYPE_NET, r.net.deviceType());
        assertEquals(2, r.net.queueCount());
        long offered = r.bench.offeredFeatures();
        for (int bit : new int[] {F_CSUM, F_GUEST_CSUM, F_MAC, F_GUEST_TSO4, F_GUEST_TSO6, F_HOST_TSO4, F_HOST_TSO6,
            F_MRG_RXBUF, F_STATUS, VirtioFeatures.RING_EVENT_IDX}) {
            assertTrue(VirtioFeatures.has(offered, bit), "offers bit " + bit);
        }
        for (int bit : new int[] {9, 10, 13, 14, 17, 22}) { // ECN, UFO, control queue, multiqueue
            assertFalse(VirtioFeatures.has(offered, bit), "does not offer bit " + bit);
        }
        for (int i = 0; i < 6; i++) {
            assertEquals(NetRig.MAC.octets()[i] & 0xFF, r.bench.readConfig(i, 1), "mac[" + i + "]");
        }
        assertEquals(S_LINK_UP, r.bench.readConfig(CONFIG_STATUS, 2));
        assertEquals(0, r.bench.readConfig(CONFIG_SIZE, 2), "nothing past the status field");
        r.bench.writeConfig(0, 4, 0x11223344L);
        assertEquals(NetRig.MAC.octets()[0] & 0xFF, r.bench.readConfig(0, 1), "the MAC is read-only");
    }

    @Test
    void tsoWithoutItsChecksumOffloadIsRefused() throws Exception {
        long noGuestCsum = ALL & ~VirtioFeatures.bit(F_GUEST_CSUM);
        long noCsum = ALL & ~VirtioFeatures.bit(F_CSUM);
        for (long f : new long[] {noGuestCsum, noCsum}) {
            NetRig r = new NetRig(f, 256);
            rigs.add(r);
            assertFalse(r.active, "FEATURES_OK refused");
            assertEquals(0, r.bench.status() & VirtioStatus.FEATURES_OK);
        }
        long noTsoNoCsum = PLAIN;
        assertTrue(rig(noTsoNoCsum).active);
    }

    @Test
    void theTapIsToldTheReceiveOffloadsAndForgetsThemOnReset() throws Exception {
        NetRig all = rig(ALL);
        assertEquals(Tap.TUN_F_CSUM | Tap.TUN_F_TSO4 | Tap.TUN_F_TSO6, all.tap.offloads.getLast());
        NetRig plain = rig(PLAIN | VirtioFeatures.bit(F_CSUM) | VirtioFeatures.bit(F_HOST_TSO4));
        assertEquals(0, plain.tap.offloads.getLast(), "transmit offloads need no TUNSETOFFLOAD");
        NetRig some = rig(PLAIN | VirtioFeatures.bit(F_GUEST_CSUM) | VirtioFeatures.bit(F_GUEST_TSO6));
        assertEquals(Tap.TUN_F_CSUM | Tap.TUN_F_TSO6, some.tap.offloads.getLast());
        all.bench.setReg(dev.vessel.devices.virtio.mmio.VirtioMmioRegisters.STATUS, 0);
        assertEquals(0, all.tap.offloads.getLast(), "a reset clears them");
    }

    // ---- transmit

    @Test
    void transmitsAFrameWithItsHeader() throws Exception {
        NetRig r = rig(ALL);
        byte[] f = frame(1514, 1);
        byte[] h = header(NetHeader.F_NEEDS_CSUM, NetHeader.GSO_NONE, 0);
        int head = r.transmit(packet(h, f));
        assertEquals(List.of(new Used(head, 0)), r.usedTx());
        byte[] out = r.tap.receive();
        assertArrayEquals(packet(h, f), out);
        assertNull(r.tap.receive(), "one frame, once");
        NetCounters c = r.net.counters();
        assertEquals(1, c.txFrames());
        assertEquals(1514, c.txBytes());
        assertEquals(0, c.txDropped());
        assertTrue(r.bench.interrupts.get() > 0);
    }

    @Test
    void headerAndFrameMayBeSplitAnywhere() throws Exception {
        NetRig r = rig(ALL);
        byte[] f = frame(300, 2);
        byte[] p = packet(f);
        r.transmit(p, 12);
        r.transmit(p, 5, 12, 40);
        r.transmit(p, 20, 21, 22, 299);
        for (int i = 0; i < 3; i++) {
            assertArrayEquals(p, r.tap.receive(), "frame " + i);
        }
        assertEquals(3, r.usedTx().size());
    }

    @Test
    void theNumBuffersFieldTheDriverLeftIsNotPassedOn() throws Exception {
        NetRig r = rig(ALL);
        byte[] f = frame(64, 3);
        r.transmit(packet(header(0, NetHeader.GSO_NONE, 0x4242), f));
        assertArrayEquals(packet(header(0, NetHeader.GSO_NONE, 0), f), r.tap.receive());
    }

    @Test
    void aFrameInMoreThanAWritevsWorthOfPiecesIsStillSentWhole() throws Exception {
        NetRig r = rig(ALL);
        byte[] f = frame(3000, 4);
        byte[] p = packet(f);
        int[] cuts = new int[150];
        for (int i = 0; i < cuts.length; i++) {
            cuts[i] = 12 + 19 * (i + 1);
        }
        int head = r.transmit(p, cuts);
        assertEquals(List.of(new Used(head, 0)), r.usedTx());
        assertArrayEquals(p, r.tap.receive());
    }

    @Test
    void tsoSuperFramesGoOutAsTheGuestBuiltThem() throws Exception {
        NetRig r = rig(ALL);
        byte[] f = frame(MAX_FRAME, 5);
        byte[] h = NetRig.tsoHeader(NetHeader.GSO_TCPV4);
        r.transmit(packet(h, f), 12, 4096, 60000);
        assertArrayEquals(packet(h, f), r.tap.receive());
        assertEquals(1, r.net.counters().txFrames());
    }

    @Test
    void whenTheTapTakesNothingTheChainWaitsForWritabilityWithoutSpinning() throws Exception {
        NetRig r = rig(ALL);
        assertTrue(r.tap.fillDeviceSide() > 0);
        byte[] first = packet(frame(100, 6));
        byte[] second = packet(frame(200, 7));
        int h1 = r.transmit(first);
        assertEquals(List.of(), r.usedTx(), "the chain is kept while the TAP is full");
        assertTrue(r.readiness.watchingWritable(), "the device waits for the TAP to drain");
        int armCalls = r.readiness.armCalls;
        int h2 = r.transmit(second);
        assertEquals(List.of(), r.usedTx(), "later chains wait behind it, in order");
        assertEquals(armCalls, r.readiness.armCalls, "a kick while waiting does not retry");
        List<byte[]> junk = r.tap.receiveAll();
        assertFalse(junk.isEmpty());
        assertTrue(r.readiness.fire(FakeReadiness.WRITABLE));
        assertEquals(List.of(new Used(h1, 0), new Used(h2, 0)), r.usedTx());
        assertArrayEquals(first, r.tap.receive());
        assertArrayEquals(second, r.tap.receive());
        assertNull(r.tap.receive());
        assertFalse(r.readiness.watchingWritable());
        assertEquals(new NetCounters(0, 0, 0, 0, 2, 300, 0), r.net.counters());
    }

    @Test
    void malformedTransmitChainsAreDroppedOneByOne() throws Exception {
        NetRig r = rig(PLAIN); // no offloads negotiated
        byte[] ok = packet(frame(60, 8));
        List<Integer> heads = new ArrayList<>();
        heads.add(r.addTx(new byte[7])); // shorter than a header
        heads.add(r.addTx(packet(frame(14, 8)), 12)); // fine: a bare Ethernet header
        heads.add(r.addTx(slice(ok, 0, 12 + 13))); // 13 bytes of frame: a runt
        long w = r.bench.alloc(64);
        long g = r.bench.alloc(ok.length);
        r.bench.write(g, ok);
        heads.add(r.bench.add(TX_QUEUE, Buf.in(g, ok.length), Buf.out(w, 64))); // a device-writable part
        long z = r.bench.alloc(8);
        heads.add(r.bench.add(TX_QUEUE, Buf.in(z, 0))); // zero bytes
        heads.add(r.addTx(packet(header(NetHeader.F_NEEDS_CSUM, 0, 0), frame(60, 8)))); // CSUM not negotiated
        heads.add(r.addTx(packet(header(0, NetHeader.GSO_TCPV4, 0), frame(60, 8)))); // TSO not negotiated
        heads.add(r.addTx(packet(header(NetHeader.F_DATA_VALID, 0, 0), frame(60, 8)))); // a receive-side flag
        heads.add(r.addTx(ok));
        r.bench.kick(TX_QUEUE);
        List<Used> used = r.usedTx();
        assertEquals(heads.size(), used.size(), "every chain comes back");
        for (int i = 0; i < heads.size(); i++) {
            assertEquals(new Used(heads.get(i), 0), used.get(i));
        }
        List<byte[]> sent = r.tap.receiveAll();
        assertEquals(2, sent.size(), "the valid frames, and only those");
        assertArrayEquals(packet(frame(14, 8)), sent.get(0));
        assertArrayEquals(ok, sent.get(1));
        assertEquals(7, r.net.counters().txDropped());
        assertFalse(r.needsReset(), "bad requests fail alone");
    }

    @Test
    void offloadRequestsMustStayInsideTheFrame() throws Exception {
        NetRig r = rig(ALL);
        byte[] f = frame(100, 9);
        List<Integer> heads = new ArrayList<>();
        heads.add(r.addTx(packet(header(NetHeader.F_NEEDS_CSUM, 0, 0, 90, 9, 0), f))); // field ends at 101
        heads.add(r.addTx(packet(header(NetHeader.F_NEEDS_CSUM, 0, 0, 0xFFFF, 0xFFFF, 0), f)));
        heads.add(r.addTx(packet(header(0, NetHeader.GSO_TCPV4, 1448, 34, 16, 0), f))); // TSO without a checksum
        heads.add(r.addTx(packet(header(NetHeader.F_NEEDS_CSUM, NetHeader.GSO_TCPV6, 0, 34, 16, 0), f))); // no segment size
        byte[] edge = packet(header(NetHeader.F_NEEDS_CSUM, 0, 0, 90, 8, 0), f); // field ends at 100: fine
        heads.add(r.addTx(edge));
        r.bench.kick(TX_QUEUE);
        assertEquals(heads.stream().map(h -> new Used(h, 0)).toList(), r.usedTx());
        List<byte[]> sent = r.tap.receiveAll();
        assertEquals(1, sent.size());
        assertArrayEquals(edge, sent.get(0));
        assertEquals(4, r.net.counters().txDropped());
        assertFalse(r.needsReset(), "bad requests fail alone");
    }

    @Test
    void anOversizedFrameIsDropped() throws Exception {
        NetRig r = rig(ALL);
        int head = r.transmit(packet(NetRig.tsoHeader(NetHeader.GSO_TCPV4), frame(MAX_FRAME + 1, 9)),
                12, 40000);
        assertEquals(List.of(new Used(head, 0)), r.usedTx());
        assertNull(r.tap.receive());
        assertEquals(1, r.net.counters().txDropped());
        assertFalse(r.needsReset());
    }

    @Test
    void aBrokenRingFailsTheDevice() throws Exception {
        NetRig r = rig(ALL);
        r.bench.add(TX_QUEUE, Buf.in(NetRig.RAM + 4096, 100)); // outside guest RAM
        r.bench.kick(TX_QUEUE);
        assertTrue(r.needsReset(), "DEVICE_NEEDS_RESET");
        assertNull(r.tap.receive());
    }

    // ---- receive

    @Test
    void receivesAFrameIntoOneBufferWithoutMergeableBuffers() throws Exception {
        NetRig r = rig(NO_MRG);
        NetRig.Chain c = r.postRx(1526);
        assertTrue(r.readiness.watchingReadable(), "with a buffer posted, the device watches the TAP");
        byte[] f = frame(1514, 10);
        r.tap.send(packet(header(NetHeader.F_DATA_VALID, 0, 0), f));
        assertTrue(r.fireReadable());
        assertEquals(List.of(new Used(c.head(), 12 + 1514)), r.usedRx());
        byte[] got = r.read(c, 12 + 1514);
        assertEquals(1, NetRig.numBuffers(got), "num_buffers is 1 without MRG_RXBUF");
        assertEquals(NetHeader.F_DATA_VALID, got[0], "GUEST_CSUM negotiated: DATA_VALID passes");
        assertArrayEquals(f, slice(got, 12, got.length));
        assertEquals(new NetCounters(1, 1514, 0, 0, 0, 0, 0), r.net.counters());
        assertFalse(r.readiness.watchingReadable(), "no buffer left: the TAP is no longer watched");
    }

    @Test
    void aBufferSplitIntoHeaderAndBodyWorksToo() throws Exception {
        NetRig r = rig(NO_MRG);
        NetRig.Chain c = r.postRx(12, 100, 1414);
        byte[] f = frame(1000, 11);
        r.tap.send(packet(f));
        r.fireReadable();
        assertEquals(List.of(new Used(c.head(), 1012)), r.usedRx());
        assertArrayEquals(f, slice(r.read(c, 1012), 12, 1012));
    }

    @Test
    void mergeableBuffersCarryALargeFrameAndSayHowMany() throws Exception {
        NetRig r = rig(ALL);
        List<NetRig.Chain> chains = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            chains.add(r.addRx(1000));
        }
        r.bench.kick(RX_QUEUE);
        byte[] f = frame(3000, 12);
        r.tap.send(packet(f));
        r.fireReadable();
        List<Used> used = r.usedRx();
        assertEquals(List.of(new Used(chains.get(0).head(), 1000), new Used(chains.get(1).head(), 1000),
                new Used(chains.get(2).head(), 1000), new Used(chains.get(3).head(), 12)), used);
        byte[] got = new byte[3012];
        for (int i = 0; i < 4; i++) {
            byte[] part = r.read(chains.get(i), used.get(i).length());
            System.arraycopy(part, 0, got, 1000 * i, part.length);
        }
        assertEquals(4, NetRig.numBuffers(got));
        assertArrayEquals(f, slice(got, 12, 3012));
        // The next frame starts in the next buffer.
        byte[] small = frame(60, 13);
        r.tap.send(packet(small));
        r.fireReadable();
        assertEquals(List.of(new Used(chains.get(4).head(), 72)), r.usedRx());
        byte[] got2 = r.read(chains.get(4), 72);
        assertEquals(1, NetRig.numBuffers(got2));
        assertArrayEquals(small, slice(got2, 12, 72));
    }

    @Test
    void withoutBuffersTheTapIsNotWatchedAndAKickResumes() throws Exception {
        NetRig r = rig(ALL);
        assertFalse(r.readiness.watchingReadable(), "no buffers yet: nothing is read from the TAP");
        byte[] f1 = frame(100, 14);
        byte[] f2 = frame(200, 15);
        r.tap.send(packet(f1));
        r.tap.send(packet(f2));
        assertFalse(r.fireReadable(), "the device does not wait for the TAP");
        NetRig.Chain c1 = r.postRx(4096);
        assertEquals(List.of(new Used(c1.head(), 112)), r.usedRx(), "the kick alone brings the first frame");
        assertFalse(r.readiness.watchingReadable(), "out of buffers again: back-pressure, not drops");
        NetRig.Chain c2 = r.postRx(4096);
        assertEquals(List.of(new Used(c2.head(), 212)), r.usedRx());
        assertArrayEquals(f2, slice(r.read(c2, 212), 12, 212));
        assertFalse(r.readiness.watchingReadable());
        r.postRx(4096);
        assertEquals(List.of(), r.usedRx());
        assertTrue(r.readiness.watchingReadable(), "a buffer and the TAP empty: wait for the TAP");
        assertEquals(0, r.net.counters().rxDropped());
    }

    @Test
    void aFrameWaitsForEnoughMergeableBuffers() throws Exception {
        NetRig r = rig(ALL);
        NetRig.Chain a = r.postRx(1024);
        byte[] f = frame(2500, 16);
        r.tap.send(packet(f));
        r.fireReadable();
        assertEquals(List.of(), r.usedRx(), "1 KiB cannot hold it; more buffers may come");
        assertFalse(r.readiness.watchingReadable(), "the frame waits for buffers, the TAP is left alone");
        NetRig.Chain b = r.postRx(1024);
        assertEquals(List.of(), r.usedRx());
        NetRig.Chain c = r.postRx(1024);
        List<Used> used = r.usedRx();
        assertEquals(List.of(new Used(a.head(), 1024), new Used(b.head(), 1024), new Used(c.head(), 2512 - 2048)), used);
        assertEquals(3, NetRig.numBuffers(r.read(a, 12)));
        assertEquals(0, r.net.counters().rxDropped());
    }

    @Test
    void aFrameLargerThanTheWholeRingIsDroppedAndTheBuffersKept() throws Exception {
        NetRig r = rig(ALL, 4);
        List<NetRig.Chain> chains = new ArrayList<>();
        for (int i = 0; i < 4; i++) {
            chains.add(r.addRx(100));
        }
        r.bench.kick(RX_QUEUE);
        r.tap.send(packet(frame(1000, 17)));
        byte[] small = frame(150, 18);
        r.tap.send(packet(small));
        r.fireReadable();
        assertEquals(List.of(new Used(chains.get(0).head(), 100), new Used(chains.get(1).head(), 62)), r.usedRx());
        assertEquals(1, r.net.counters().rxDropped());
        byte[] got = new byte[162];
        System.arraycopy(r.read(chains.get(0), 100), 0, got, 0, 100);
        System.arraycopy(r.read(chains.get(1), 62), 0, got, 100, 62);
        assertEquals(2, NetRig.numBuffers(got));
        assertArrayEquals(small, slice(got, 12, 162));
    }

    @Test
    void withoutMergeableBuffersAFrameThatDoesNotFitIsDroppedAndTheBufferReused() throws Exception {
        NetRig r = rig(NO_MRG);
        NetRig.Chain c = r.postRx(1526);
        r.tap.send(packet(frame(4000, 19)));
        byte[] small = frame(500, 20);
        r.tap.send(packet(small));
        r.fireReadable();
        assertEquals(List.of(new Used(c.head(), 512)), r.usedRx());
        assertArrayEquals(small, slice(r.read(c, 512), 12, 512));
        assertEquals(1, r.net.counters().rxDropped());
    }

    @Test
    void framesNeedingOffloadsTheDriverDidNotTakeAreDropped() throws Exception {
        NetRig r = rig(PLAIN); // no GUEST_CSUM, no GUEST_TSO, no MRG_RXBUF
        NetRig.Chain c = r.postRx(65562);
        r.tap.send(packet(header(NetHeader.F_NEEDS_CSUM, 0, 0), frame(100, 21)));
        r.tap.send(packet(header(NetHeader.F_NEEDS_CSUM, NetHeader.GSO_TCPV4, 0), frame(5000, 22)));
        r.tap.send(packet(header(0, NetHeader.GSO_UDP, 0), frame(100, 23)));
        byte[] f = frame(90, 24);
        r.tap.send(packet(header(NetHeader.F_DATA_VALID, 0, 0), f));
        r.fireReadable();
        assertEquals(List.of(new Used(c.head(), 102)), r.usedRx());
        byte[] got = r.read(c, 102);
        assertEquals(0, got[0], "without GUEST_CSUM the flags are 0");
        assertArrayEquals(f, slice(got, 12, 102));
        assertEquals(3, r.net.counters().rxDropped());
    }

    @Test
    void gsoFramesReachADriverThatTookThem() throws Exception {
        NetRig r = rig(ALL);
        NetRig.Chain c = r.postRx(65562);
        byte[] h = header(NetHeader.F_NEEDS_CSUM, NetHeader.GSO_TCPV6, 0);
        byte[] f = frame(MAX_FRAME, 25);
        r.tap.send(packet(h, f));
        r.fireReadable();
        assertEquals(List.of(), r.usedRx(), "65562 bytes cannot hold a 64 KiB frame plus headers; it waits");
        NetRig.Chain d = r.postRx(4096);
        assertEquals(2, r.usedRx().size());
        byte[] got = r.read(c, 65562);
        assertEquals(NetHeader.GSO_TCPV6, got[1]);
        assertEquals(NetHeader.F_NEEDS_CSUM, got[0]);
        assertArrayEquals(slice(f, 0, 65562 - 12), slice(got, 12, 65562));
        assertArrayEquals(slice(f, 65562 - 12, f.length), r.read(d, f.length + 12 - 65562));
    }

    @Test
    void buffersTooSmallForAHeaderComeBackUnused() throws Exception {
        NetRig r = rig(ALL);
        NetRig.Chain tiny = r.addRx(11);
        long g = r.bench.alloc(64);
        int readOnly = r.bench.add(RX_QUEUE, Buf.in(g, 64));
        NetRig.Chain good = r.addRx(2048);
        r.bench.kick(RX_QUEUE);
        assertEquals(List.of(new Used(tiny.head(), 0), new Used(readOnly, 0)), r.usedRx());
        byte[] f = frame(60, 26);
        r.tap.send(packet(f));
        r.fireReadable();
        assertEquals(List.of(new Used(good.head(), 72)), r.usedRx());
        assertEquals(2, r.net.counters().rxBadBuffers());
        assertFalse(r.needsReset());
    }

    @Test
    void runtsAndTruncatedFramesFromTheHostAreDropped() throws Exception {
        NetRig r = rig(ALL);
        NetRig.Chain c = r.postRx(2048);
        r.tap.send(new byte[5]);
        r.tap.send(slice(packet(frame(14, 27)), 0, 25)); // 13 bytes of frame
        r.tap.send(packet(frame(MAX_FRAME + 2000, 27))); // more than the device reads: truncated
        byte[] f = frame(14, 28);
        r.tap.send(packet(f));
        r.fireReadable();
        assertEquals(List.of(new Used(c.head(), 26)), r.usedRx());
        assertArrayEquals(f, slice(r.read(c, 26), 12, 26));
        assertEquals(3, r.net.counters().rxDropped());
    }

    @Test
    void withBuffersForTheLargestFrameTheTapFillsThemDirectlyAndDroppedFramesLeaveThemHeld() throws Exception {
        NetRig r = rig(ALL);
        List<NetRig.Chain> chains = new ArrayList<>();
        for (int i = 0; i < 20; i++) { // 80 KiB: room for the largest frame, so the TAP writes into guest memory
            chains.add(r.addRx(4096));
        }
        r.bench.kick(RX_QUEUE);
        r.tap.send(new byte[5]);
        r.tap.send(packet(frame(MAX_FRAME + 2000, 30))); // fits the buffers, but larger than any frame may be
        byte[] big = frame(60_000, 31);
        r.tap.send(packet(big));
        byte[] small = frame(60, 32);
        r.tap.send(packet(small));
        r.fireReadable();
        List<Used> used = r.usedRx();
        assertEquals(16, used.size(), used.toString());
        for (int i = 0; i < 14; i++) {
            assertEquals(new Used(chains.get(i).head(), 4096), used.get(i));
        }
        assertEquals(new Used(chains.get(14).head(), 60_012 - 14 * 4096), used.get(14));
        assertEquals(new Used(chains.get(15).head(), 72), used.get(15));
        byte[] got = new byte[60_012];
        for (int i = 0; i < 15; i++) {
            byte[] part = r.read(chains.get(i), used.get(i).length());
            System.arraycopy(part, 0, got, 4096 * i, part.length);
        }
        assertEquals(15, NetRig.numBuffers(got));
        assertArrayEquals(big, slice(got, 12, 60_012));
        byte[] got2 = r.read(chains.get(15), 72);
        assertEquals(1, NetRig.numBuffers(got2));
        assertArrayEquals(small, slice(got2, 12, 72));
        assertEquals(new NetCounters(2, 60_060, 2, 0, 0, 0, 0), r.net.counters());
    }

    @Test
    void theHostSideGoingAwayTakesTheLinkDown() throws Exception {
        NetRig r = rig(ALL);
        r.postRx(2048);
        assertTrue(r.readiness.watchingReadable());
        assertEquals(0, r.bench.interruptStatus() & VirtioMmioTransport.INTERRUPT_CONFIG_CHANGE);
        int generation = r.bench.reg(dev.vessel.devices.virtio.mmio.VirtioMmioRegisters.CONFIG_GENERATION);
        r.tap.hangUp();
        assertTrue(r.readiness.fire(FakeReadiness.READABLE | FakeReadiness.ERROR));
        assertEquals(0, r.bench.readConfig(CONFIG_STATUS, 2), "link down");
        assertTrue((r.bench.interruptStatus() & VirtioMmioTransport.INTERRUPT_CONFIG_CHANGE) != 0, "the driver is told");
        assertTrue(r.bench.reg(dev.vessel.devices.virtio.mmio.VirtioMmioRegisters.CONFIG_GENERATION) != generation);
        assertFalse(r.net.linkUp());
        assertEquals(0, r.readiness.armed, "a failed TAP is not watched");
        int head = r.transmit(packet(frame(60, 29)));
        assertEquals(List.of(new Used(head, 0)), r.usedTx(), "what the guest sends is dropped");
        assertEquals(1, r.net.counters().txDropped());
        assertFalse(r.needsReset(), "an unplugged cable, not a broken device");
    }

    @Test
    void aResetForgetsHeldBuffersAndThePendingFrame() throws Exception {
        NetRig r = rig(ALL);
        r.postRx(100);
        r.tap.send(packet(frame(1000, 30)));
        r.fireReadable();
        assertEquals(List.of(), r.usedRx(), "the frame waits for more buffers");
        assertTrue(r.bench.init(ALL, 2, 256), "the driver resets and starts over");
        assertEquals(1, r.net.counters().rxDropped(), "the waiting frame was lost to the reset");
        assertFalse(r.readiness.watchingReadable());
        NetRig.Chain c = r.postRx(2048);
        byte[] f = frame(70, 31);
        r.tap.send(packet(f));
        r.fireReadable();
        assertEquals(List.of(new Used(c.head(), 82)), r.usedRx());
        assertArrayEquals(f, slice(r.read(c, 82), 12, 82));
    }

    @Test
    void aReadinessReportAfterAResetIsHarmless() throws Exception {
        NetRig r = rig(ALL);
        r.postRx(2048);
        java.util.function.IntConsumer handler = r.readiness.handler;
        r.bench.setReg(dev.vessel.devices.virtio.mmio.VirtioMmioRegisters.STATUS, 0);
        handler.accept(FakeReadiness.READABLE | FakeReadiness.WRITABLE); // a report the loop had in hand
        assertEquals(0, r.readiness.armed);
        assertFalse(r.needsReset());
    }
}
