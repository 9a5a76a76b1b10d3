package dev.vessel.machine;

import dev.vessel.guest.agent.ExecRequest;
import dev.vessel.guest.agent.ExecSession;
import dev.vessel.network.Ipv4Address;
import dev.vessel.network.ports.PortConnector;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.function.Consumer;

/**
 * Reaches containers whose bridges are in the helper machine: each TCP connection (each UDP peer)
 * is an exec session there running {@code vessel-agent --connect-tcp} ({@code --connect-udp}),
 * whose stdin and stdout carry the bytes (UDP datagrams framed as a u16 length and the bytes).
 */
public final class MachinePortConnector implements PortConnector {
    private static final System.Logger LOG = System.getLogger(MachinePortConnector.class.getName());

    private final HelperMachine helper;

    public MachinePortConnector(HelperMachine helper) {
        this.helper = helper;
    }

    private MachineConnection machine() throws IOException {
        return MachineConnection.open(helper.running()
                .orElseThrow(() -> new IOException("the helper machine is not running")));
    }

    private static ExecRequest relay(String how, Ipv4Address address, int port) {
        return ExecRequest.of(List.of("/sbin/vessel-agent", how, address + ":" + port)).withEnv(MachineConnection.BASE_ENV);
    }

    @Override
    public void relayTcp(SocketChannel client, Ipv4Address address, int port) throws IOException {
        try (ExecSession s = machine().start(relay("--connect-tcp", address, port), Channels.newInputStream(client),
                Channels.newOutputStream(client), log("tcp " + address + ":" + port))) {
            s.waitFor();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public DatagramLink udp(Ipv4Address address, int port, Consumer<byte[]> replies) throws IOException {
        ExecSession s = machine().start(relay("--connect-udp", address, port), null, new Deframer(replies),
                log("udp " + address + ":" + port));
        return new DatagramLink() {
            @Override
            public void send(byte[] datagram, int length) throws IOException {
                byte[] frame = new byte[length + 2];
                frame[0] = (byte) (length >> 8);
                frame[1] = (byte) length;
                System.arraycopy(datagram, 0, frame, 2, length);
                s.writeStdin(frame);
            }

            @Override
            public void close() {
                s.close();
            }
        };
    }

    /** The relay's complaints, a line at a time, to the log rather than to the peer. */
    private static OutputStream log(String what) {
        return new OutputStream() {
            private final StringBuilder line = new StringBuilder();

            @Override
            public void write(int b) {
                if (b == '\n') {
                    LOG.log(System.Logger.Level.DEBUG, what + ": " + line);
                    line.setLength(0);
                } else if (line.length() < 512) {
                    line.append((char) b);
                }
            }
        };
    }

    /** Splits the relay's stdout into datagrams: a big-endian u16 length, then that many bytes. */
    static final class Deframer extends OutputStream {
        private final Consumer<byte[]> out;
        private final byte[] header = new byte[2];
        private int headerFill;
        private byte[] body;
        private int bodyFill;

        Deframer(Consumer<byte[]> out) {
            this.out = out;
        }

        @Override
        public void write(int b) {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            int end = off + len;
            while (off < end) {
                if (body == null) {
                    header[headerFill++] = b[off++];
                    if (headerFill == 2) {
                        body = new byte[((header[0] & 0xff) << 8) | (header[1] & 0xff)];
                        bodyFill = 0;
                        headerFill = 0;
                    }
                } else {
                    int n = Math.min(end - off, body.length - bodyFill);
                    System.arraycopy(b, off, body, bodyFill, n);
                    off += n;
                    bodyFill += n;
                }
                if (body != null && bodyFill == body.length) {
                    out.accept(body);
                    body = null;
                }
            }
        }
    }
}
