package dev.vessel.network.ports;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.network.Ipv4Address;
import dev.vessel.network.NetworkException;

import java.io.IOException;
import java.io.InputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The userland proxy on loopback: a "container" played by servers on 127.0.0.1, reached through
 * {@link DirectPortConnector}. Only loopback traffic.
 */
class PortProxyTest {
    static final Ipv4Address LOOPBACK = Ipv4Address.parse("127.0.0.1");

    @Test
    void tcpConnectionsReachTheContainerPortAndHalfClosesPassThrough() throws Exception {
        try (ServerSocket server = new ServerSocket(0, 10, InetAddress.getLoopbackAddress())) {
            Thread.ofVirtual().start(() -> {
                try (Socket s = server.accept()) {
                    byte[] got = s.getInputStream().readAllBytes(); // until the client's half-close
                    s.getOutputStream().write(("echo:" + new String(got, StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8));
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            try (PortProxy proxy = PortProxy.bind(List.of(new PortBinding("127.0.0.1", 0, server.getLocalPort(), "tcp")),
                    LOOPBACK, new DirectPortConnector())) {
                PortBinding b = proxy.bound().getFirst();
                assertNotEquals(0, b.hostPort(), "the host picked a port");
                proxy.start();
                try (Socket c = new Socket(InetAddress.getLoopbackAddress(), b.hostPort())) {
                    c.getOutputStream().write("hello".getBytes(StandardCharsets.UTF_8));
                    c.shutdownOutput();
                    InputStream in = c.getInputStream();
                    assertEquals("echo:hello", new String(in.readAllBytes(), StandardCharsets.UTF_8));
                }
            }
        }
    }

    @Test
    void udpDatagramsGoBothWays() throws Exception {
        try (DatagramSocket server = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
            Thread.ofVirtual().start(() -> {
                byte[] buf = new byte[1500];
                DatagramPacket p = new DatagramPacket(buf, buf.length);
                try {
                    for (int i = 0; i < 2; i++) {
                        server.receive(p);
                        byte[] reply = ("echo:" + new String(buf, 0, p.getLength(), StandardCharsets.UTF_8))
                                .getBytes(StandardCharsets.UTF_8);
                        server.send(new DatagramPacket(reply, reply.length, p.getSocketAddress()));
                    }
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            try (PortProxy proxy = PortProxy.bind(List.of(new PortBinding("127.0.0.1", 0, server.getLocalPort(), "udp")),
                    LOOPBACK, new DirectPortConnector());
                 DatagramSocket client = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
                proxy.start();
                client.setSoTimeout(10_000);
                InetSocketAddress to = new InetSocketAddress(InetAddress.getLoopbackAddress(), proxy.bound().getFirst().hostPort());
                for (String msg : List.of("one", "two")) {
                    byte[] d = msg.getBytes(StandardCharsets.UTF_8);
                    client.send(new DatagramPacket(d, d.length, to));
                    DatagramPacket reply = new DatagramPacket(new byte[1500], 1500);
                    client.receive(reply);
                    assertEquals("echo:" + msg, new String(reply.getData(), 0, reply.getLength(), StandardCharsets.UTF_8));
                }
            }
        }
    }

    @Test
    void aPortInUseFailsTheWholeSetAndLeavesNothingBound() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 10, InetAddress.getLoopbackAddress());
             ServerSocket probe = new ServerSocket(0, 10, InetAddress.getLoopbackAddress())) {
            int free = probe.getLocalPort();
            probe.close();
            NetworkException e = assertThrows(NetworkException.class, () -> PortProxy.bind(List.of(
                    new PortBinding("127.0.0.1", free, 80, "tcp"),
                    new PortBinding("127.0.0.1", taken.getLocalPort(), 81, "tcp")), LOOPBACK, new DirectPortConnector()));
            assertEquals(NetworkException.Kind.CONFLICT, e.kind());
            assertEquals("Bind for 127.0.0.1:" + taken.getLocalPort() + " failed: port is already allocated", e.getMessage());
            try (ServerSocket again = new ServerSocket(free, 10, InetAddress.getLoopbackAddress())) {
                assertTrue(again.isBound(), "the first port was let go");
            }
        }
    }
}
