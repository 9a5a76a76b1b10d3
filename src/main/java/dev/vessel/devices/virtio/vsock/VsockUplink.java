package dev.vessel.devices.virtio.vsock;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;

/**
 * Where guest connections to the host go when the VMM runs in Vessel's helper machine: not to the
 * local {@code PATH_port} but over TCP to the host's relay ({@code dev.vessel.machine.SocketRelay}),
 * which connects to the host's {@code PATH_port}. Handshake: {@code SECRET PORT\n}, answered with
 * {@code OK\n}, or a close when nothing listens on the host (the guest's connect is then refused).
 *
 * <p>The handshake blocks, so the device runs it off its worker ({@link VirtioVsock}); the whole of
 * it (TCP connect, line, answer) is bounded by {@code handshakeTimeout}, so a relay or host peer
 * that never answers costs one waiting connection for that long and nothing else.
 *
 * @param address the relay's TCP address
 * @param secret the relay's secret (hex)
 * @param handshakeTimeout the most the whole handshake may take, 1 ms..1 min
 */
public record VsockUplink(InetSocketAddress address, String secret, Duration handshakeTimeout) {
    /** How long the relay may take to connect and answer, by default. */
    public static final Duration DEFAULT_HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);

    public VsockUplink {
        Objects.requireNonNull(address, "address");
        Objects.requireNonNull(handshakeTimeout, "handshakeTimeout");
        if (!secret.matches("[0-9a-f]{8,64}")) {
            throw new IllegalArgumentException("the uplink secret must be 8..64 lower-case hex digits");
        }
        if (handshakeTimeout.toMillis() < 1 || handshakeTimeout.compareTo(Duration.ofMinutes(1)) > 0) {
            throw new IllegalArgumentException("the uplink handshake timeout must be 1 ms..1 min: " + handshakeTimeout);
        }
    }

    public VsockUplink(InetSocketAddress address, String secret) {
        this(address, secret, DEFAULT_HANDSHAKE_TIMEOUT);
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

    /**
     * Connects the fresh, blocking {@code ch} to the relay and asks for the host's {@code PATH_port};
     * returns when the relay said OK (the channel then carries the stream). Blocks for at most
     * {@link #handshakeTimeout}; closing {@code ch} from another thread ends it at once.
     *
     * @throws IOException when refused, on a wrong answer, or after the timeout (the caller closes {@code ch})
     */
    void handshake(SocketChannel ch, long port) throws IOException {
        long deadline = System.nanoTime() + handshakeTimeout.toNanos();
        ch.socket().connect(address, millisLeft(deadline));
        ch.socket().setTcpNoDelay(true);
        // A few dozen bytes on a fresh connection: the empty send buffer takes them without blocking.
        ByteBuffer line = ByteBuffer.wrap((secret + " " + port + "\n").getBytes(StandardCharsets.US_ASCII));
        while (line.hasRemaining()) {
            ch.write(line);
        }
        InputStream in = ch.socket().getInputStream();
        byte[] ok = new byte[3];
        for (int i = 0; i < ok.length; i++) {
            ch.socket().setSoTimeout(millisLeft(deadline));
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
    }

    private int millisLeft(long deadline) throws SocketTimeoutException {
        long left = (deadline - System.nanoTime()) / 1_000_000;
        if (left < 1) {
            throw new SocketTimeoutException("the host relay did not answer within " + handshakeTimeout.toMillis() + " ms");
        }
        return (int) left;
    }
}
