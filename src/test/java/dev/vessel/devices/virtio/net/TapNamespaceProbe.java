package dev.vessel.devices.virtio.net;

import static dev.vessel.devices.virtio.net.VirtioNet.RX_QUEUE;
import static dev.vessel.devices.virtio.net.VirtioNet.TX_QUEUE;

import dev.vessel.devices.virtio.balloon.DriverBench;
import dev.vessel.devices.virtio.balloon.DriverBench.Buf;
import dev.vessel.devices.virtio.balloon.DriverBench.Used;
import dev.vessel.sys.Libc;
import dev.vessel.sys.Tap;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Run by VirtioNetTapTest in a child JVM inside a network namespace of its own ({@code unshare -n}):
 * opens real TAP interfaces through Vessel's code, then puts a virtio-net device between a driver
 * played by {@link DriverBench} and the namespace's network stack, and sends a UDP datagram each
 * way. Prints one line per check; "probe: ok" at the end. Touches nothing outside its namespace.
 */
public final class TapNamespaceProbe {
    static final String GUEST_IP = "10.77.0.2";
    static final String HOST_IP = "10.77.0.1";
    static final MacAddress GUEST_MAC = MacAddress.parse("02:00:00:00:77:02");

    private TapNamespaceProbe() {}

    public static void main(String[] args) throws Exception {
        tapLevel();
        device();
        System.out.println("probe: ok");
        System.exit(0);
    }

    /** Tap.open creates the interface with the flags asked for and takes every offload virtio-net uses. */
    static void tapLevel() throws Exception {
        try (Tap tap = Tap.open("vprobe0", NetHeader.SIZE)) {
            // Through netlink (ip), which sees this namespace; /sys/class/net would show the host's.
            String details = run("ip", "-d", "link", "show", "vprobe0");
            int at = details.indexOf("tun type");
            System.out.println("link: " + (at < 0 ? details : details.substring(at, details.indexOf(" persist", at))));
            tap.setOffload(Tap.TUN_F_CSUM | Tap.TUN_F_TSO4 | Tap.TUN_F_TSO6);
            tap.setOffload(0);
            System.out.println("offloads set");
            try {
                Tap.open("vprobe0", NetHeader.SIZE).close();
                System.out.println("second open: attached (unexpected)");
            } catch (dev.vessel.sys.TapException e) {
                System.out.println("second open: " + e.getMessage());
            }
        }
        System.out.println("after close: " + (succeeds("ip", "link", "show", "vprobe0") ? "still there" : "gone"));
        bridgeLevel();
    }

    /** Tap.joinBridge plugs a TAP into a bridge and brings it up; the port goes with the descriptor. */
    static void bridgeLevel() throws Exception {
        run("ip", "link", "add", "name", "vprobebr", "type", "bridge");
        try (Tap tap = Tap.open("vprobe1", NetHeader.SIZE)) {
            tap.joinBridge("vprobebr");
            String link = run("ip", "-o", "link", "show", "vprobe1");
            System.out.println("joined: master " + link.contains("master vprobebr") + " up " + link.contains(",UP"));
            for (String bridge : List.of("vnobridge", "lo")) {
                try {
                    tap.joinBridge(bridge);
                    System.out.println("join " + bridge + ": joined (unexpected)");
                } catch (dev.vessel.sys.TapException e) {
                    System.out.println("join " + bridge + ": " + e.getMessage());
                }
            }
        }
        System.out.println("bridge ports after close: '" + run("ip", "-o", "link", "show", "master", "vprobebr").strip() + "'");
    }

    static void device() throws Exception {
        FakeReadiness readiness = new FakeReadiness();
        VirtioNet net = VirtioNet.open("vnet0", GUEST_MAC, readiness);
        DriverBench bench = new DriverBench(net, 8L << 20);
        if (!bench.init(-1L, 2, 256)) {
            throw new AssertionError("the device did not come up: " + bench.transport.lastError());
        }
        run("ip", "link", "set", "vnet0", "up");
        run("ip", "addr", "add", HOST_IP + "/24", "dev", "vnet0");
        run("ip", "neigh", "add", GUEST_IP, "lladdr", GUEST_MAC.toString(), "dev", "vnet0");
        String link = run("ip", "-o", "link", "show", "vnet0");
        int ether = link.indexOf("link/ether ") + "link/ether ".length();
        byte[] hostMac = HexFormat.ofDelimiter(":").parseHex(link.substring(ether, ether + 17));

        try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(HOST_IP, 5000))) {
            socket.setSoTimeout(10_000);
            // Guest to host: a datagram whose UDP checksum the guest left to the host (NEEDS_CSUM).
            byte[] ping = "ping from the guest".getBytes(StandardCharsets.US_ASCII);
            byte[] frame = udpFrame(hostMac, GUEST_MAC.octets(), GUEST_IP, HOST_IP, 4000, 5000, ping);
            byte[] header = NetRig.header(NetHeader.F_NEEDS_CSUM, NetHeader.GSO_NONE, 0);
            ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN).putShort(NetHeader.CSUM_START, (short) 34)
                    .putShort(NetHeader.CSUM_OFFSET, (short) 6);
            byte[] packet = NetRig.packet(header, frame);
            long h = bench.alloc(12);
            long f = bench.alloc(frame.length);
            bench.write(h, header);
            bench.write(f, frame);
            int head = bench.add(TX_QUEUE, Buf.in(h, 12), Buf.in(f, frame.length));
            bench.kick(TX_QUEUE);
            System.out.println("tx used " + bench.used(TX_QUEUE).equals(List.of(new Used(head, 0))));
            DatagramPacket got = new DatagramPacket(new byte[1500], 1500);
            socket.receive(got);
            System.out.println("host received '" + new String(got.getData(), 0, got.getLength(), StandardCharsets.US_ASCII)
                    + "' from " + got.getSocketAddress());

            // Host to guest: the reply comes out of the TAP into the guest's buffers.
            List<Long> buffers = new ArrayList<>();
            List<Integer> heads = new ArrayList<>();
            for (int i = 0; i < 16; i++) {
                long b = bench.alloc(2048);
                buffers.add(b);
                heads.add(bench.add(RX_QUEUE, Buf.out(b, 2048)));
            }
            bench.kick(RX_QUEUE);
            byte[] pong = "pong from the host".getBytes(StandardCharsets.US_ASCII);
            socket.send(new DatagramPacket(pong, pong.length, InetAddress.getByName(GUEST_IP), 4000));
            byte[] delivered = awaitUdp(net, bench, readiness, heads, buffers, 4000);
            int numBuffers = (delivered[10] & 0xFF) | (delivered[11] & 0xFF) << 8;
            int gso = delivered[1];
            byte[] payload = Arrays.copyOfRange(delivered, 12 + 42, delivered.length);
            System.out.println("guest received '" + new String(payload, StandardCharsets.US_ASCII) + "' num_buffers "
                    + numBuffers + " gso " + gso + " flags " + delivered[0]);
            NetCounters c = net.counters();
            System.out.println("counters tx " + c.txFrames() + " dropped " + c.txDropped());
        } finally {
            bench.close();
            net.close();
        }
    }

    /** Hands the TAP's readiness to the device until a UDP frame to {@code port} lands in a guest buffer; returns it. */
    static byte[] awaitUdp(VirtioNet net, DriverBench bench, FakeReadiness readiness, List<Integer> heads,
            List<Long> buffers, int port) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment pfd = arena.allocate(Libc.POLLFD);
            while (System.nanoTime() < deadline) {
                pfd.set(ValueLayout.JAVA_INT, 0, readiness.fd);
                pfd.set(ValueLayout.JAVA_SHORT, 4, Libc.POLLIN);
                if (Libc.poll(pfd, 1, 1000) > 0) {
                    readiness.fire(FakeReadiness.READABLE);
                }
                for (Used u : bench.used(RX_QUEUE)) {
                    byte[] d = bench.read(buffers.get(heads.indexOf(u.id())), u.length());
                    // IPv4, UDP, to the port (IPv6 neighbour discovery and the like are skipped).
                    if (d.length >= 12 + 42 && d[12 + 12] == 0x08 && d[12 + 13] == 0x00 && d[12 + 23] == 17
                            && ((d[12 + 36] & 0xFF) << 8 | (d[12 + 37] & 0xFF)) == port) {
                        return d;
                    }
                    System.out.println("skipped a " + (u.length() - 12) + "-byte frame");
                }
            }
        }
        throw new AssertionError("no UDP frame reached the guest; counters " + net.counters());
    }

    /** Ethernet, IPv4 (checksummed) and UDP headers around {@code payload}; the UDP checksum field holds the pseudo-header sum. */
    static byte[] udpFrame(byte[] dst, byte[] src, String from, String to, int sport, int dport, byte[] payload)
            throws Exception {
        ByteBuffer b = ByteBuffer.allocate(42 + payload.length);
        b.put(dst).put(src).putShort((short) 0x0800);
        int ipLength = 20 + 8 + payload.length;
        byte[] saddr = InetAddress.getByName(from).getAddress();
        byte[] daddr = InetAddress.getByName(to).getAddress();
        b.put((byte) 0x45).put((byte) 0).putShort((short) ipLength).putShort((short) 0).putShort((short) 0x4000)
                .put((byte) 64).put((byte) 17).putShort((short) 0).put(saddr).put(daddr);
        b.putShort(24, (short) ~fold(sum(b.array(), 14, 20)));
        int udpLength = 8 + payload.length;
        long pseudo = sum(saddr, 0, 4) + sum(daddr, 0, 4) + 17 + udpLength;
        b.putShort((short) sport).putShort((short) dport).putShort((short) udpLength).putShort((short) fold(pseudo));
        b.put(payload);
        return b.array();
    }

    static long sum(byte[] b, int off, int len) {
        long s = 0;
        for (int i = 0; i < len; i += 2) {
            s += (b[off + i] & 0xFF) << 8 | (i + 1 < len ? b[off + i + 1] & 0xFF : 0);
        }
        return s;
    }

    static int fold(long s) {
        while ((s >> 16) != 0) {
            s = (s & 0xFFFF) + (s >> 16);
        }
        return (int) s;
    }

    /** Runs a command of this namespace; its output, or AssertionError if it fails. */
    static String run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            throw new AssertionError(String.join(" ", command) + " failed: " + out);
        }
        return out;
    }

    static boolean succeeds(String... command) throws Exception {
        try {
            run(command);
            return true;
        } catch (AssertionError e) {
            return false;
        }
    }
}
