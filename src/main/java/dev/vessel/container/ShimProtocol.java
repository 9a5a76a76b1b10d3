package dev.vessel.container;

import dev.vessel.guest.agent.AgentProtocol;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;

/**
 * What a CLI says to a container's supervisor on its Unix socket. The frames are the agent's
 * ({@link AgentProtocol}: u8 type, u32 length, payload); the conversation:
 *
 * <pre>
 *   client: 'H' (empty)              supervisor: 'H' "vessel-shim/1"
 *   client: one request:
 *     'A' u8 flags (1: stdin)        attach (optionally + u16 rows, u16 cols: the terminal, used for
 *                                    the main process's pty when it has not started): then 'I' stdin (empty: EOF) and
 *                                    'R' resize; the supervisor sends 'O'/'e' output as it comes
 *     'S' u8 signal                  signal the main process
 *     'T' u32 seconds                stop: SIGTERM, then SIGKILL after that many seconds
 *     'W'                            wait
 *   supervisor, last: 'X' i32 the main process's exit status once the container has stopped
 *   (after its VM powered off and its state was written), or 'F' u32 errno + message.
 *   For 'S' the 'X' comes at once with status 0 (an acknowledgement).
 * </pre>
 */
public final class ShimProtocol {
    private ShimProtocol() {}

    public static final String VERSION = "vessel-shim/1";
    public static final byte ATTACH = 'A';
    public static final byte SIGNAL = 'S';
    public static final byte STOP = 'T';
    public static final byte WAIT = 'W';
    /** Frame types a client may send. */
    static final String CLIENT_TYPES = "HASTWIR";
    /** Frame types the supervisor sends. */
    public static final String SHIM_TYPES = "HOeXF";
    public static final int ATTACH_STDIN = 1;

    /** Connects and says hello; throws when no supervisor listens (the container is not running). */
    public static SocketChannel connect(Path socket) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.connect(UnixDomainSocketAddress.of(socket));
            AgentProtocol.write(ch, AgentProtocol.HELLO, new byte[0]);
            AgentProtocol.Frame f = AgentProtocol.read(ch, SHIM_TYPES);
            if (f == null || f.type() != AgentProtocol.HELLO_REPLY) {
                throw new IOException("the container's supervisor did not answer");
            }
            return ch;
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    static byte[] u32(int v) {
        return ByteBuffer.allocate(4).putInt(v).array();
    }

    /** Sends {@code type} with {@code payload} and waits for the final 'X'; returns its status. */
    public static int request(Path socket, byte type, byte[] payload) throws IOException {
        try (SocketChannel ch = connect(socket)) {
            AgentProtocol.write(ch, type, payload);
            while (true) {
                AgentProtocol.Frame f = AgentProtocol.read(ch, SHIM_TYPES);
                if (f == null) {
                    throw new IOException("the container's supervisor closed the connection");
                }
                if (f.type() == AgentProtocol.EXIT) {
                    return ByteBuffer.wrap(f.payload()).getInt();
                }
                if (f.type() == AgentProtocol.FAILURE) {
                    throw new IOException(failureMessage(f.payload()));
                }
            }
        }
    }

    public static int stop(Path socket, int seconds) throws IOException {
        return request(socket, STOP, u32(seconds));
    }

    public static void signal(Path socket, int signo) throws IOException {
        request(socket, SIGNAL, new byte[] {(byte) signo});
    }

    public static int await(Path socket) throws IOException {
        return request(socket, WAIT, new byte[0]);
    }

    static byte[] failure(int errno, String message) {
        byte[] m = message.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        return ByteBuffer.allocate(4 + m.length).putInt(errno).put(m).array();
    }

    public static String failureMessage(byte[] payload) {
        return payload.length < 4 ? "failed" : new String(payload, 4, payload.length - 4, java.nio.charset.StandardCharsets.UTF_8);
    }
}
