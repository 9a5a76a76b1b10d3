package dev.vessel.container;

import dev.vessel.guest.agent.AgentClient;
import dev.vessel.guest.agent.AgentProtocol;

import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** A connection to a container's guest agent through its VM's hybrid-vsock socket. */
public final class GuestAgent {
    private GuestAgent() {}

    /** Connects ({@code CONNECT 1024}), says hello, and returns the client for one request. */
    public static AgentClient connect(Path vsockSocket) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.connect(UnixDomainSocketAddress.of(vsockSocket));
            ch.write(ByteBuffer.wrap(("CONNECT " + AgentProtocol.CONTAINER_PORT + "\n").getBytes(StandardCharsets.US_ASCII)));
            InputStream in = Channels.newInputStream(ch);
            StringBuilder b = new StringBuilder();
            int c;
            while ((c = in.read()) >= 0 && c != '\n' && b.length() < 64) {
                b.append((char) c);
            }
            if (!b.toString().startsWith("OK ")) {
                throw new IOException("the guest agent did not accept the connection");
            }
            AgentClient client = new AgentClient(ch);
            client.hello(null);
            return client;
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }
}
