package dev.vessel.devices.virtio.vsock;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

/** A host-side Unix socket for tests: non-blocking underneath, with deadline-bound helpers. */
final class HostEnd implements AutoCloseable {
    final SocketChannel channel;
    private final Selector selector;
    private boolean eof;

    HostEnd(SocketChannel channel) throws IOException {
        this.channel = channel;
        channel.configureBlocking(false);
        this.selector = Selector.open();
        channel.register(selector, 0);
    }

    static HostEnd connect(Path path) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        ch.connect(UnixDomainSocketAddress.of(path));
        return new HostEnd(ch);
    }

    /** Connects to the device's socket and sends {@code CONNECT port}; does not wait for the answer. */
    static HostEnd connectTo(Path path, int port) throws IOException {
        HostEnd h = connect(path);
        h.write(("CONNECT " + Integer.toUnsignedString(port) + "\n").getBytes(StandardCharsets.US_ASCII),
                Duration.ofSeconds(5));
        return h;
    }

    static ServerSocketChannel listen(Path path) throws IOException {
        ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        s.bind(UnixDomainSocketAddress.of(path));
        return s;
    }

    static HostEnd accept(ServerSocketChannel server, Duration timeout) throws IOException, InterruptedException {
        server.configureBlocking(false);
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            SocketChannel ch = server.accept();
            if (ch != null) {
                return new HostEnd(ch);
            }
            if (System.nanoTime() > deadline) {
                throw new AssertionError("nobody connected within " + timeout);
            }
            Thread.sleep(2);
        }
    }

    private boolean waitFor(int op, long deadlineNanos) throws IOException {
        long left = deadlineNanos - System.nanoTime();
        if (left <= 0) {
            return false;
        }
        SelectionKey key = channel.keyFor(selector);
        key.interestOps(op);
        int n = selector.select(Math.max(1, left / 1_000_000));
        selector.selectedKeys().clear();
        key.interestOps(0);
        return n > 0;
    }

    /** Writes everything or fails at the deadline. */
    void write(byte[] data, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        ByteBuffer b = ByteBuffer.wrap(data);
        while (b.hasRemaining()) {
            if (channel.write(b) == 0 && !waitFor(SelectionKey.OP_WRITE, deadline) && System.nanoTime() > deadline) {
                throw new AssertionError("could not write " + b.remaining() + " more bytes within " + timeout);
            }
        }
    }

    /** Writes what the socket takes without blocking. */
    int writeSome(ByteBuffer b) throws IOException {
        return channel.write(b);
    }

    /** Reads exactly {@code n} bytes, or fails at the deadline or end of stream. */
    byte[] read(int n, Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        ByteBuffer b = ByteBuffer.allocate(n);
        while (b.hasRemaining()) {
            int r = channel.read(b);
            if (r < 0) {
                throw new AssertionError("end of stream after " + b.position() + " of " + n + " bytes");
            }
            if (r == 0 && !waitFor(SelectionKey.OP_READ, deadline) && System.nanoTime() > deadline) {
                throw new AssertionError("read " + b.position() + " of " + n + " bytes within " + timeout);
            }
        }
        return b.array();
    }

    String readLine(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        ByteBuffer one = ByteBuffer.allocate(1);
        while (true) {
            one.clear();
            int r = channel.read(one);
            if (r < 0) {
                throw new AssertionError("end of stream in a line: " + line);
            }
            if (r == 0) {
                if (!waitFor(SelectionKey.OP_READ, deadline) && System.nanoTime() > deadline) {
                    throw new AssertionError("no line within " + timeout + ": " + line);
                }
                continue;
            }
            if (one.get(0) == '\n') {
                return line.toString(StandardCharsets.US_ASCII);
            }
            line.write(one.get(0));
        }
    }

    /** Reads until end of stream; fails at the deadline. */
    byte[] readToEnd(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        ByteBuffer b = ByteBuffer.allocate(65536);
        while (true) {
            b.clear();
            int r;
            try {
                r = channel.read(b);
            } catch (IOException e) {
                eof = true;
                return all.toByteArray(); // reset by peer counts as the end
            }
            if (r < 0) {
                eof = true;
                return all.toByteArray();
            }
            all.write(b.array(), 0, r);
            if (r == 0 && !waitFor(SelectionKey.OP_READ, deadline) && System.nanoTime() > deadline) {
                throw new AssertionError("no end of stream within " + timeout + " (" + all.size() + " bytes read)");
            }
        }
    }

    /** Reads what is there now, without waiting. */
    int readAvailable(ByteBuffer b) throws IOException {
        return channel.read(b);
    }

    /** Whether the peer closed (end of stream, or reset) within the timeout; data before it is discarded. */
    boolean closedWithin(Duration timeout) throws IOException {
        try {
            readToEnd(timeout);
            return eof;
        } catch (AssertionError e) {
            return false;
        }
    }

    @Override
    public void close() throws IOException {
        selector.close();
        channel.close();
    }
}
