package dev.vessel.devices.virtio.console;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;

/**
 * A named port whose host side is a Unix stream socket the VMM listens on: one client at a time
 * is the other end of the guest's {@code /dev/vportNpM}. While a client is connected the port
 * counts as open on the host side (the guest's reads block for data, its writes go to the client);
 * when it disconnects the guest is told (its reads then return end-of-file) and the next client
 * may connect. Guest output with no client connected is dropped (the guest's driver does not
 * write while the host side is closed, so only bytes in flight are). Host input the guest has not
 * read yet stays queued for it, also across clients.
 *
 * <p>A stale socket file at the path (left by an earlier run) is replaced; any other file there
 * is an error. The socket file is removed on {@link #close()}.
 */
public final class UnixSocketPortBackend implements PortBackend {
    private final Path path;
    private final Object writeLock = new Object();
    private ServerSocketChannel server;
    private volatile SocketChannel client;
    private volatile boolean closed;
    private Thread acceptor;

    public UnixSocketPortBackend(Path path) {
        this.path = Objects.requireNonNull(path, "path");
    }

    public Path path() {
        return path;
    }

    @Override
    public synchronized void start(HostPort port) throws IOException {
        if (server != null) {
            throw new IllegalStateException("already started");
        }
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            BasicFileAttributes a = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
            if (!a.isOther()) {
                throw new IOException(path + " exists and is not a socket");
            }
            Files.delete(path);
        }
        ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            s.bind(UnixDomainSocketAddress.of(path));
        } catch (IOException e) {
            s.close();
            throw new IOException("cannot listen on " + path + ": " + e.getMessage(), e);
        }
        server = s;
        acceptor = Thread.ofPlatform().name("virtio-console-port" + port.id() + "-socket").daemon(true)
                .start(() -> serve(s, port));
    }

    private void serve(ServerSocketChannel s, HostPort port) {
        ByteBuffer buf = ByteBuffer.allocate(16 * 1024);
        while (!closed) {
            SocketChannel c;
            try {
                c = s.accept();
            } catch (IOException e) {
                return; // closed
            }
            client = c;
            port.setHostConnected(true);
            try {
                while (!closed) {
                    buf.clear();
                    int n = c.read(buf);
                    if (n < 0) {
                        break;
                    }
                    if (n > 0) {
                        port.receiveBlocking(buf.array(), 0, n);
                    }
                }
            } catch (IOException e) {
                // The client went away.
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                closed = true;
            } finally {
                synchronized (writeLock) {
                    client = null;
                }
                try {
                    c.close();
                } catch (IOException e) {
                    // Closing is best effort.
                }
                port.setHostConnected(false);
            }
        }
    }

    @Override
    public void write(byte[] data, int off, int len) throws IOException {
        synchronized (writeLock) {
            SocketChannel c = client;
            if (c == null) {
                return; // no host side: dropped (see the class comment)
            }
            ByteBuffer b = ByteBuffer.wrap(data, off, len);
            while (b.hasRemaining()) {
                c.write(b);
            }
        }
    }

    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        try {
            if (server != null) {
                server.close();
            }
        } catch (IOException e) {
            // Closing is best effort.
        }
        SocketChannel c = client;
        if (c != null) {
            try {
                c.close();
            } catch (IOException e) {
                // Closing is best effort.
            }
        }
        if (acceptor != null) {
            acceptor.interrupt();
        }
        try {
            Files.deleteIfExists(path);
        } catch (IOException e) {
            // Leave it; the next start replaces a stale socket.
        }
    }
}
