package dev.vessel.machine;

import dev.vessel.guest.agent.ExecRequest;
import dev.vessel.guest.agent.ExecSession;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The host end of a Unix socket that a VM in the helper machine serves (its hybrid-vsock socket,
 * its API socket), so that host programs use the same path as with a VM on the host's own KVM.
 *
 * <ul>
 *   <li><b>Host to guest.</b> The relay listens on the host path; each client gets an exec session
 *   in the machine running {@code vessel-agent --connect-unix MACHINE_PATH}, whose stdin and stdout
 *   carry the bytes both ways (the {@code CONNECT <port>} line included) with half-closes.</li>
 *   <li><b>Guest to host.</b> The VMM in the machine is started with {@code --vsock-uplink}
 *   (see {@link #uplink()}): for a guest connection to port P it opens a TCP connection to this
 *   relay's loopback port (10.0.2.2 from the machine), sends {@code SECRET P\n}, and the relay
 *   connects to the host's {@code PATH_P} and answers {@code OK\n}, or closes when nothing
 *   listens there (the guest then sees its connection refused).</li>
 * </ul>
 * The secret keeps other local users' connections to the loopback port from reaching the host's
 * sockets through the relay.
 */
public final class SocketRelay implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(SocketRelay.class.getName());
    /** Longest uplink request line: a 32-hex-digit secret, a space, a decimal port, a newline. */
    private static final int MAX_LINE = 64;

    private final Path hostPath;
    private final String machinePath;
    private final MachineConnection machine;
    private final ServerSocketChannel hostListener;
    private final ServerSocket uplinkListener; // null: no guest-to-host direction (an API socket)
    private final String secret;
    /** The socket file this relay made: only that one is removed on close (a successor may own the path by then). */
    private Object socketFileKey;
    private final Set<AutoCloseable> open = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;

    private SocketRelay(Path hostPath, String machinePath, MachineConnection machine, boolean uplink) throws IOException {
        this.hostPath = hostPath.toAbsolutePath();
        this.machinePath = machinePath;
        this.machine = machine;
        byte[] s = new byte[16];
        new SecureRandom().nextBytes(s);
        this.secret = HexFormat.of().formatHex(s);
        if (Files.exists(this.hostPath, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            throw new IOException(this.hostPath + " already exists (another VM's socket?)");
        }
        this.hostListener = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            hostListener.bind(UnixDomainSocketAddress.of(this.hostPath));
            this.uplinkListener = uplink ? new ServerSocket(0, 50, InetAddress.getLoopbackAddress()) : null;
            this.socketFileKey = Files.readAttributes(this.hostPath, java.nio.file.attribute.BasicFileAttributes.class,
                    java.nio.file.LinkOption.NOFOLLOW_LINKS).fileKey();
        } catch (IOException e) {
            hostListener.close();
            Files.deleteIfExists(this.hostPath);
            throw e;
        }
    }

    /**
     * Starts relaying {@code hostPath} (created here, removed on close) to the socket the VM's
     * device will create at {@code machinePath} in the machine, and with {@code uplink} also the
     * guest's connections to the host (a vsock device; see {@link #uplink()}).
     */
    public static SocketRelay start(Path hostPath, String machinePath, MachineConnection machine, boolean uplink)
            throws IOException {
        SocketRelay r = new SocketRelay(hostPath, machinePath, machine, uplink);
        Thread.ofPlatform().daemon(true).name("socket-relay-host").start(r::acceptHostClients);
        if (uplink) {
            Thread.ofPlatform().daemon(true).name("socket-relay-uplink").start(r::acceptUplinks);
        }
        return r;
    }

    /** The {@code --vsock-uplink} value for the VMM in the machine: {@code HOST:PORT/SECRET}. */
    public String uplink() {
        if (uplinkListener == null) {
            throw new IllegalStateException("this relay has no uplink");
        }
        return DiskExports.HOST_FROM_MACHINE + ":" + uplinkListener.getLocalPort() + "/" + secret;
    }

    private void acceptHostClients() {
        while (!closed) {
            SocketChannel client;
            try {
                client = hostListener.accept();
            } catch (IOException e) {
                return; // closed
            }
            open.add(client);
            Thread.ofVirtual().name("vsock-relay-in").start(() -> relayIntoMachine(client));
        }
    }

    private void relayIntoMachine(SocketChannel client) {
        InputStream in = Channels.newInputStream(client);
        OutputStream out = Channels.newOutputStream(client);
        ExecRequest request = ExecRequest.of(List.of("/sbin/vessel-agent", "--connect-unix", machinePath))
                .withEnv(MachineConnection.BASE_ENV);
        OutputStream err = new OutputStream() { // the relay's own complaints: to the log, not the client
            private final StringBuilder line = new StringBuilder();

            @Override
            public void write(int b) {
                if (b == '\n') {
                    LOG.log(System.Logger.Level.DEBUG, "vsock relay: " + line);
                    line.setLength(0);
                } else if (line.length() < 512) {
                    line.append((char) b);
                }
            }
        };
        try (client; ExecSession session = machine.start(request, in, out, err)) {
            session.waitFor();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "vsock relay into the machine: " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            open.remove(client);
        }
    }

    private void acceptUplinks() {
        while (!closed) {
            Socket s;
            try {
                s = uplinkListener.accept();
            } catch (IOException e) {
                return;
            }
            open.add(s);
            Thread.ofVirtual().name("vsock-relay-out").start(() -> relayToHost(s));
        }
    }

    private void relayToHost(Socket s) {
        try (s) {
            s.setSoTimeout(10_000);
            String line = readLine(s.getInputStream());
            int space = line == null ? -1 : line.indexOf(' ');
            if (space < 0 || !MessageDigest.isEqual(line.substring(0, space).getBytes(StandardCharsets.US_ASCII),
                    secret.getBytes(StandardCharsets.US_ASCII))) {
                return; // not the VMM: say nothing
            }
            long port;
            try {
                port = Long.parseLong(line.substring(space + 1));
            } catch (NumberFormatException e) {
                return;
            }
            if (port < 0 || port > 0xFFFF_FFFFL) {
                return;
            }
            s.setSoTimeout(0);
            try (SocketChannel target = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                try {
                    target.connect(UnixDomainSocketAddress.of(hostPath + "_" + port));
                } catch (IOException e) {
                    return; // nothing listens there: the guest's connect is refused
                }
                open.add(target);
                s.getOutputStream().write("OK\n".getBytes(StandardCharsets.US_ASCII));
                s.getOutputStream().flush();
                Thread back = Thread.ofVirtual().start(() -> {
                    try {
                        Channels.newInputStream(target).transferTo(s.getOutputStream());
                        s.shutdownOutput();
                    } catch (IOException e) {
                        closeQuietly(s);
                    }
                });
                try {
                    s.getInputStream().transferTo(Channels.newOutputStream(target));
                    target.shutdownOutput();
                } catch (IOException e) {
                    closeQuietly(target);
                }
                back.join();
            } finally {
                open.remove(s);
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "vsock relay to the host: " + e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** One line of at most {@link #MAX_LINE} bytes without its newline, or null. */
    static String readLine(InputStream in) throws IOException {
        StringBuilder b = new StringBuilder();
        while (b.length() < MAX_LINE) {
            int c = in.read();
            if (c < 0) {
                return null;
            }
            if (c == '\n') {
                return b.toString();
            }
            b.append((char) c);
        }
        return null;
    }

    private static void closeQuietly(AutoCloseable c) {
        try {
            c.close();
        } catch (Exception e) {
            // closing on the way out
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        closeQuietly(hostListener);
        if (uplinkListener != null) {
            closeQuietly(uplinkListener);
        }
        open.forEach(SocketRelay::closeQuietly);
        try {
            Object now = Files.readAttributes(hostPath, java.nio.file.attribute.BasicFileAttributes.class,
                    java.nio.file.LinkOption.NOFOLLOW_LINKS).fileKey();
            if (now != null && now.equals(socketFileKey)) {
                Files.deleteIfExists(hostPath);
            }
        } catch (IOException e) {
            // already gone
        }
    }
}
