package dev.vessel.network.ports;

import dev.vessel.network.Ipv4Address;
import dev.vessel.network.NetworkException;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.DatagramChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A container's published ports on this host, as docker's userland proxy serves them: a listening
 * socket per port, every connection (or UDP peer) relayed to the container's address through a
 * {@link PortConnector}. It lives in the container's supervisor, so its ports close when the
 * supervisor ends, however it ends.
 *
 * <p>All ports are bound first ({@link #bind}), before the container starts: a port in use fails
 * the start and leaves nothing listening. {@link #start} then serves them.
 */
public final class PortProxy implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(PortProxy.class.getName());
    /** A UDP peer's path is closed after this long without a datagram either way (docker-proxy's value). */
    static final long UDP_IDLE_NANOS = 90L * 1_000_000_000L;

    private final List<PortBinding> bound;
    private final List<ServerSocketChannel> tcp;
    private final List<DatagramChannel> udp;
    private final Ipv4Address target;
    private final PortConnector connector;
    private volatile boolean closed;

    private PortProxy(List<PortBinding> bound, List<ServerSocketChannel> tcp, List<DatagramChannel> udp,
                      Ipv4Address target, PortConnector connector) {
        this.bound = List.copyOf(bound);
        this.tcp = tcp;
        this.udp = udp;
        this.target = target;
        this.connector = connector;
    }

    /**
     * Binds every port of {@code requested} (a host port of 0 gets one the kernel picks).
     *
     * @throws NetworkException CONFLICT, with docker's "port is already allocated", when one is in
     *     use (nothing stays bound); INVALID for an address this host does not have
     */
    public static PortProxy bind(List<PortBinding> requested, Ipv4Address target, PortConnector connector)
            throws NetworkException, IOException {
        List<PortBinding> bound = new ArrayList<>();
        List<ServerSocketChannel> tcp = new ArrayList<>();
        List<DatagramChannel> udp = new ArrayList<>();
        try {
            for (PortBinding b : requested) {
                InetSocketAddress at = new InetSocketAddress(b.hostAddress(), b.hostPort());
                try {
                    if (b.protocol().equals(PortBinding.TCP)) {
                        ServerSocketChannel s = ServerSocketChannel.open();
                        tcp.add(s);
                        s.bind(at, 128);
                        bound.add(b.withHostPort(((InetSocketAddress) s.getLocalAddress()).getPort()));
                    } else {
                        DatagramChannel d = DatagramChannel.open();
                        udp.add(d);
                        d.bind(at);
                        bound.add(b.withHostPort(((InetSocketAddress) d.getLocalAddress()).getPort()));
                    }
                } catch (java.net.BindException e) {
                    String msg = e.getMessage() == null ? "" : e.getMessage();
                    if (msg.contains("in use")) {
                        throw NetworkException.conflict("Bind for " + b.hostAddress() + ":" + b.hostPort()
                                + " failed: port is already allocated");
                    }
                    throw NetworkException.invalid("Bind for " + b.hostAddress() + ":" + b.hostPort() + " failed: " + msg);
                }
            }
        } catch (NetworkException | IOException | RuntimeException e) {
            closeAll(tcp, udp);
            throw e;
        }
        return new PortProxy(bound, tcp, udp, target, connector);
    }

    private static void closeAll(List<ServerSocketChannel> tcp, List<DatagramChannel> udp) {
        for (ServerSocketChannel s : tcp) {
            try {
                s.close();
            } catch (IOException e) {
                // closing anyway
            }
        }
        for (DatagramChannel d : udp) {
            try {
                d.close();
            } catch (IOException e) {
                // closing anyway
            }
        }
    }

    /** The ports as bound: a requested 0 replaced by the port the host gave. */
    public List<PortBinding> bound() {
        return bound;
    }

    /** Serves the ports until {@link #close}. */
    public void start() {
        for (int i = 0; i < tcp.size(); i++) {
            ServerSocketChannel s = tcp.get(i);
            int port = containerPort(PortBinding.TCP, i);
            Thread.ofPlatform().daemon(true).name("port-tcp-" + port).start(() -> acceptLoop(s, port));
        }
        for (int i = 0; i < udp.size(); i++) {
            DatagramChannel d = udp.get(i);
            int port = containerPort(PortBinding.UDP, i);
            Thread.ofPlatform().daemon(true).name("port-udp-" + port).start(() -> udpLoop(d, port));
        }
    }

    /** The container port of the {@code index}-th binding of {@code protocol}. */
    private int containerPort(String protocol, int index) {
        return bound.stream().filter(b -> b.protocol().equals(protocol)).toList().get(index).containerPort();
    }

    private void acceptLoop(ServerSocketChannel server, int port) {
        while (!closed) {
            SocketChannel client;
            try {
                client = server.accept();
            } catch (IOException e) {
                return; // closed
            }
            Thread.ofVirtual().name("port-conn-" + port).start(() -> {
                try (client) {
                    client.setOption(StandardSocketOptions.TCP_NODELAY, true);
                    connector.relayTcp(client, target, port);
                } catch (IOException e) {
                    LOG.log(System.Logger.Level.DEBUG, "published port " + port + ": " + e);
                }
            });
        }
    }

    private record Peer(PortConnector.DatagramLink link, long[] lastUsed) {}

    private void udpLoop(DatagramChannel socket, int port) {
        Map<SocketAddress, Peer> peers = new ConcurrentHashMap<>();
        ByteBuffer buf = ByteBuffer.allocate(65536);
        while (!closed) {
            SocketAddress from;
            try {
                buf.clear();
                from = socket.receive(buf);
            } catch (IOException e) {
                break; // closed
            }
            long now = System.nanoTime();
            peers.entrySet().removeIf(e -> {
                boolean idle = now - e.getValue().lastUsed()[0] > UDP_IDLE_NANOS;
                if (idle) {
                    e.getValue().link().close();
                }
                return idle;
            });
            Peer peer = peers.get(from);
            try {
                if (peer == null) {
                    long[] used = {now};
                    SocketAddress replyTo = from;
                    PortConnector.DatagramLink link = connector.udp(target, port, reply -> {
                        used[0] = System.nanoTime();
                        try {
                            socket.send(ByteBuffer.wrap(reply), replyTo);
                        } catch (IOException e) {
                            // the peer's loss, as on the wire
                        }
                    });
                    peer = new Peer(link, used);
                    peers.put(from, peer);
                }
                peer.lastUsed()[0] = now;
                peer.link().send(buf.array(), buf.position());
            } catch (IOException e) {
                LOG.log(System.Logger.Level.DEBUG, "published port " + port + "/udp: " + e);
            }
        }
        peers.values().forEach(p -> p.link().close());
    }

    @Override
    public void close() {
        closed = true;
        closeAll(tcp, udp);
    }
}
