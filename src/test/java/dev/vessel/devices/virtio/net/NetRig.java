package dev.vessel.devices.virtio.net;

import dev.vessel.devices.virtio.balloon.DriverBench;
import dev.vessel.devices.virtio.balloon.DriverBench.Buf;
import dev.vessel.devices.virtio.balloon.DriverBench.Used;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/**
 * A virtio-net device between a driver played by {@link DriverBench} (real transport, rings in
 * guest RAM, the worker on the test's thread) and a {@link FakeTap}, its readiness from a
 * {@link FakeReadiness} the test fires.
 */
final class NetRig implements AutoCloseable {
    static final MacAddress MAC = MacAddress.parse("02:00:00:aa:bb:cc");
    static final long RAM = 8L << 20;

    final FakeTap tap;
    final FakeReadiness readiness = new FakeReadiness();
    final VirtioNet net;
    final DriverBench bench;
    final boolean active;

    /** A receive chain the driver posted: its head and buffers. */
    record Chain(int head, long[] gpas, int[] lengths) {
        int capacity() {
            int n = 0;
            for (int l : lengths) {
                n += l;
            }
            return n;
        }
    }

    NetRig(long driverFeatures, int queueSize) throws Exception {
        this(driverFeatures, queueSize, RAM);
    }

    NetRig(long driverFeatures, int queueSize, long ram) throws Exception {
        tap = new FakeTap();
        net = new VirtioNet(tap, MAC, readiness);
        bench = new DriverBench(net, ram);
        active = bench.init(driverFeatures, 2, queueSize);
    }

    /** Posts a receive chain of writable buffers of these lengths (no kick). */
    Chain addRx(int... lengths) {
        long[] gpas = new long[lengths.length];
        Buf[] bufs = new Buf[lengths.length];
        for (int i = 0; i < lengths.length; i++) {
            gpas[i] = bench.alloc(Math.max(lengths[i], 1), 8);
            bufs[i] = Buf.out(gpas[i], lengths[i]);
        }
        return new Chain(bench.add(VirtioNet.RX_QUEUE, bufs), gpas, lengths.clone());
    }

    /** Posts a receive chain and kicks the receive queue. */
    Chain postRx(int... lengths) {
        Chain c = addRx(lengths);
        bench.kick(VirtioNet.RX_QUEUE);
        return c;
    }

    /** What the device wrote into {@code c}: its first {@code length} bytes across the buffers. */
    byte[] read(Chain c, int length) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int left = length;
        for (int i = 0; i < c.gpas().length && left > 0; i++) {
            int n = Math.min(left, c.lengths()[i]);
            out.writeBytes(bench.read(c.gpas()[i], n));
            left -= n;
        }
        return out.toByteArray();
    }

    /** Sends {@code packet} (header and frame) as one transmit chain cut at {@code cuts}, and kicks. */
    int transmit(byte[] packet, int... cuts) {
        int head = addTx(packet, cuts);
        bench.kick(VirtioNet.TX_QUEUE);
        return head;
    }

    /** Adds a transmit chain holding {@code packet}, split at the ascending offsets {@code cuts} (no kick). */
    int addTx(byte[] packet, int... cuts) {
        List<Buf> bufs = new ArrayList<>();
        int from = 0;
        for (int i = 0; i <= cuts.length; i++) {
            int to = i < cuts.length ? cuts[i] : packet.length;
            long gpa = bench.alloc(Math.max(to - from, 1), 8);
            bench.write(gpa, java.util.Arrays.copyOfRange(packet, from, to));
            bufs.add(Buf.in(gpa, to - from));
            from = to;
        }
        return bench.add(VirtioNet.TX_QUEUE, bufs.toArray(Buf[]::new));
    }

    List<Used> usedRx() {
        return bench.used(VirtioNet.RX_QUEUE);
    }

    List<Used> usedTx() {
        return bench.used(VirtioNet.TX_QUEUE);
    }

    /** The host network has frames for the device: what the event loop would report. */
    boolean fireReadable() {
        return readiness.fire(FakeReadiness.READABLE);
    }

    boolean needsReset() {
        return (bench.status() & dev.vessel.devices.virtio.VirtioStatus.DEVICE_NEEDS_RESET) != 0;
    }

    static byte[] header(int flags, int gsoType, int numBuffers) {
        return header(flags, gsoType, 0, 0, 0, numBuffers);
    }

    static byte[] header(int flags, int gsoType, int gsoSize, int csumStart, int csumOffset, int numBuffers) {
        return ByteBuffer.allocate(NetHeader.SIZE).order(ByteOrder.LITTLE_ENDIAN)
                .put((byte) flags).put((byte) gsoType).putShort((short) 0).putShort((short) gsoSize)
                .putShort((short) csumStart).putShort((short) csumOffset).putShort((short) numBuffers).array();
    }

    /** A TCP segmentation request: partial checksum at the TCP header of an IPv4 frame, 1448-byte segments. */
    static byte[] tsoHeader(int gsoType) {
        return header(NetHeader.F_NEEDS_CSUM, gsoType, 1448, 34, 16, 0);
    }

    /** An Ethernet frame of {@code length} bytes (at least 14): addresses, an EtherType, then a pattern. */
    static byte[] frame(int length, int seed) {
        byte[] f = new byte[length];
        byte[] dst = MAC.octets();
        System.arraycopy(dst, 0, f, 0, 6);
        byte[] src = {0x02, 0, 0, 0, 0, 0x01};
        System.arraycopy(src, 0, f, 6, 6);
        f[12] = 0x08;
        f[13] = 0x00;
        for (int i = 14; i < length; i++) {
            f[i] = (byte) (i * 7 + seed * 13 + (i >> 8));
        }
        return f;
    }

    static byte[] packet(byte[] header, byte[] frame) {
        byte[] p = new byte[header.length + frame.length];
        System.arraycopy(header, 0, p, 0, header.length);
        System.arraycopy(frame, 0, p, header.length, frame.length);
        return p;
    }

    /** A plain packet: no offloads. */
    static byte[] packet(byte[] frame) {
        return packet(header(0, NetHeader.GSO_NONE, 0), frame);
    }

    static int numBuffers(byte[] delivered) {
        return (delivered[NetHeader.NUM_BUFFERS] & 0xFF) | (delivered[NetHeader.NUM_BUFFERS + 1] & 0xFF) << 8;
    }

    @Override
    public void close() {
        bench.close();
        net.close();
        tap.closeHost();
    }
}
