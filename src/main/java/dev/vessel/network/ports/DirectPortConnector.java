package dev.vessel.network.ports;

import dev.vessel.network.Ipv4Address;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SocketChannel;
import java.util.function.Consumer;

/** Connects from this host, where the containers' bridges are: plain sockets to the container's address. */
public final class DirectPortConnector implements PortConnector {
    @Override
    public void relayTcp(SocketChannel client, Ipv4Address address, int port) throws IOException {
        try (SocketChannel target = SocketChannel.open()) {
            target.setOption(StandardSocketOptions.TCP_NODELAY, true);
            target.socket().connect(new InetSocketAddress(address.toString(), port), 10_000);
            Thread back = Thread.ofVirtual().name("port-relay-back").start(() -> copy(target, client));
            copy(client, target);
            try {
                back.join();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** Copies until EOF, then half-closes {@code to}; on an error both ends are closed. */
    static void copy(SocketChannel from, SocketChannel to) {
        ByteBuffer buf = ByteBuffer.allocate(64 * 1024);
        try {
            while (from.read(buf) >= 0) {
                buf.flip();
                while (buf.hasRemaining()) {
                    to.write(buf);
                }
                buf.clear();
            }
            to.shutdownOutput();
        } catch (IOException e) {
            closeQuietly(from);
            closeQuietly(to);
        }
    }

    private static void closeQuietly(SocketChannel c) {
        try {
            c.close();
        } catch (IOException e) {
            // closing anyway
        }
    }

    @Override
    public DatagramLink udp(Ipv4Address address, int port, Consumer<byte[]> replies) throws IOException {
        DatagramChannel ch = DatagramChannel.open();
        ch.connect(new InetSocketAddress(address.toString(), port));
        Thread.ofVirtual().name("port-udp-replies").start(() -> {
            ByteBuffer buf = ByteBuffer.allocate(65536);
            while (ch.isOpen()) {
                try {
                    buf.clear();
                    ch.receive(buf);
                    buf.flip();
                    byte[] d = new byte[buf.remaining()];
                    buf.get(d);
                    replies.accept(d);
                } catch (IOException e) {
                    if (!ch.isOpen()) {
                        return;
                    }
                    // an ICMP "port unreachable" surfaces here: the datagram was lost, go on
                }
            }
        });
        return new DatagramLink() {
            @Override
            public void send(byte[] datagram, int length) throws IOException {
                ch.write(ByteBuffer.wrap(datagram, 0, length));
            }

            @Override
            public void close() {
                try {
                    ch.close();
                } catch (IOException e) {
                    // closing anyway
                }
            }
        };
    }
}
