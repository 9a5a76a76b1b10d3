package dev.vessel.devices.virtio.vsock;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

/**
 * Where guest connections to the host go when the VMM runs in Vessel's helper machine: not to the
 * local {@code PATH_port} but over TCP to the host's relay ({@code dev.vessel.machine.VsockRelay}),
 * which connects to the host's {@code PATH_port}. Handshake: {@code SECRET PORT\n}, answered with
 * {@code OK\n}, or a close when nothing listens on the host (the guest's connect is then refused).
 *
 * @param address the relay's TCP address
 * @param secret the relay's secret (hex)
 */
public record VsockUplink(InetSocketAddress address, String secret) {
    /** How long the relay may take to answer. */
    static final int HANDSHAKE_MILLIS = 10_000;

    public VsockUplink {
        if (!secret.matches("[0-9a-f]{8,64}")) {
            throw new IllegalArgumentException("the uplink secret must be 8..64 lower-case hex digits");
        }
    }

    /** Parses {@code HOST:PORT/SECRET}. */
    public static VsockUplink parse(String spec) {
        int slash = spec.indexOf('/');
        int colon = slash < 0 ? -1 : spec.lastIndexOf(':', slash);
        if (colon <= 0) {
            throw new IllegalArgumentException("--vsock-uplink wants HOST:PORT/SECRET, not " + spec);
        }
        int port;
        try {
            port = Integer.parseInt(spec.substring(colon + 1, slash));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("--vsock-uplink: bad port in " + spec);
        }
        if (port < 1 || port > 65535) {
            throw new IllegalArgumentException("--vsock-uplink: bad port in " + spec);
        }
        return new VsockUplink(new InetSocketAddress(spec.substring(0, colon), port), spec.substring(slash + 1));
    }

    /** A connection to the host's {@code PATH_port}, blocking, ready for data; throws when refused. */
    SocketChannel connect(long port) throws IOException {
        SocketChannel ch = SocketChannel.open();
        try {
            ch.socket().connect(address, HANDSHAKE_MILLIS);
            ch.socket().setTcpNoDelay(true);
            ch.socket().setSoTimeout(HANDSHAKE_MILLIS);
            ch.write(java.nio.ByteBuffer.wrap((secret + " " + port + "\n").getBytes(StandardCharsets.US_ASCII)));
            InputStream in = ch.socket().getInputStream();
            byte[] ok = new byte[3];
            for (int i = 0; i < ok.length; i++) {
                int b = in.read();
                if (b < 0) {
                    throw new IOException("nothing listens on host port " + port);
                }
                ok[i] = (byte) b;
            }
            if (ok[0] != 'O' || ok[1] != 'K' || ok[2] != '\n') {
                throw new IOException("the host relay answered something else than OK");
            }
            ch.socket().setSoTimeout(0);
            return ch;
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }
}
