package dev.vessel.network.ports;

import dev.vessel.network.Ipv4Address;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.util.function.Consumer;

/**
 * How a published port's traffic reaches a container's address: straight from this host when the
 * containers' bridges are here, through the helper machine's agent when they are there.
 */
public interface PortConnector {
    /**
     * Relays {@code client} to {@code address:port} both ways, half-closes passed on, and returns
     * when both directions ended. A refused connection closes the client.
     */
    void relayTcp(SocketChannel client, Ipv4Address address, int port) throws IOException;

    /** Opens a datagram path to {@code address:port}; its replies go to {@code replies}. */
    DatagramLink udp(Ipv4Address address, int port, Consumer<byte[]> replies) throws IOException;

    /** One UDP peer's path to the container. */
    interface DatagramLink extends AutoCloseable {
        void send(byte[] datagram, int length) throws IOException;

        @Override
        void close();
    }
}
