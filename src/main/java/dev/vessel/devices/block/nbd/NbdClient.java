package dev.vessel.devices.block.nbd;

import dev.vessel.devices.block.BlockBackend;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.math.BigDecimal;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;

/**
 * A disk served over NBD (fixed newstyle, NBD_OPT_GO, simple replies), as a {@link BlockBackend}.
 * Requests are sent one at a time; large transfers are split to the protocol's payload limit.
 * Everything the server sends is checked: magic numbers, the handle of each reply, lengths.
 *
 * <p>No wait is unbounded: connecting with its handshake must finish within
 * {@link #CONNECT_TIMEOUT}, and each request must get its whole reply within
 * {@link #REQUEST_TIMEOUT}, or it fails with an IOException (a {@link SocketTimeoutException})
 * and the device answers the guest with an I/O error. A connection that timed out or failed is
 * out of step with the server (a late reply would carry an old handle), so it is dropped; the
 * next request connects afresh to the same export, and is refused if the export's size or
 * flags changed. {@link #close()} may come from another thread while a request waits: that
 * request fails at once.
 */
public final class NbdClient implements BlockBackend {
    /** Connecting and the handshake: a few round trips, even across the helper machine's emulated network. */
    static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
    /**
     * Each request until its whole reply (at most 32 MiB of data). Linux's NBD driver waits 30 s;
     * twice that, because the helper machine is emulated and its host may be busy.
     */
    static final Duration REQUEST_TIMEOUT = Duration.ofSeconds(60);

    /** Flags the device has told the guest about: a reconnection must find them unchanged. */
    private static final int STABLE_FLAGS = Nbd.TFLAG_READ_ONLY | Nbd.TFLAG_SEND_FLUSH | Nbd.TFLAG_SEND_TRIM;

    private final InetSocketAddress address;
    private final String exportName;
    private final String name;
    private final long size;
    private final int flags;
    private final Duration connectTimeout;
    private final Duration requestTimeout;
    private final NbdWatchdog.Watch watch;

    // Guarded by this (requests are serialized).
    /** The connection in step with the server, or null: the next request connects afresh. */
    private SocketChannel ch;
    private long nextHandle = 1;
    private final ByteBuffer requestHeader = ByteBuffer.allocate(28);
    private final ByteBuffer replyHeader = ByteBuffer.allocate(16);

    /** What a handshake learned. */
    private record Session(SocketChannel channel, long size, int flags) {}

    private NbdClient(InetSocketAddress address, String exportName, Session session, Duration connectTimeout,
            Duration requestTimeout, NbdWatchdog.Watch watch) {
        this.address = address;
        this.exportName = exportName;
        this.name = address + "/" + exportName;
        this.ch = session.channel();
        this.size = session.size();
        this.flags = session.flags();
        this.connectTimeout = connectTimeout;
        this.requestTimeout = requestTimeout;
        this.watch = watch;
    }

    /** Connects to {@code nbd://HOST:PORT[/EXPORT]}. */
    public static NbdClient connect(String uri) throws IOException {
        java.net.URI u;
        try {
            u = new java.net.URI(uri);
        } catch (java.net.URISyntaxException e) {
            throw new IOException("not an NBD address: " + uri);
        }
        if (!"nbd".equals(u.getScheme()) || u.getHost() == null || u.getPort() < 1) {
            throw new IOException("not an NBD address (nbd://HOST:PORT/EXPORT): " + uri);
        }
        String path = u.getPath() == null ? "" : u.getPath();
        return connect(new InetSocketAddress(u.getHost(), u.getPort()), path.startsWith("/") ? path.substring(1) : path);
    }

    public static NbdClient connect(InetSocketAddress address, String exportName) throws IOException {
        return connect(address, exportName, CONNECT_TIMEOUT, REQUEST_TIMEOUT);
    }

    /** With other timeouts (tests use short ones). */
    static NbdClient connect(InetSocketAddress address, String exportName, Duration connectTimeout,
            Duration requestTimeout) throws IOException {
        NbdWatchdog.Watch watch = NbdWatchdog.watch();
        try {
            Session session = handshake(address, exportName, watch, connectTimeout);
            return new NbdClient(address, exportName, session, connectTimeout, requestTimeout, watch);
        } catch (IOException | RuntimeException e) {
            watch.close();
            throw e;
        }
    }

    /** Connects and negotiates the export, all within {@code timeout}. */
    private static Session handshake(InetSocketAddress address, String exportName, NbdWatchdog.Watch watch,
            Duration timeout) throws IOException {
        SocketChannel ch = SocketChannel.open();
        // Watched from before the connect, so even a connect that hangs is cut short.
        if (!watch.begin(ch, timeout)) {
            ch.close();
            throw new IOException("NBD disk " + address + "/" + exportName + " is closed");
        }
        boolean done = false;
        try {
            ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
            ch.connect(address);
            ByteBuffer hello = NbdServer.read(ch, 18);
            if (hello.getLong() != Nbd.NBDMAGIC || hello.getLong() != Nbd.IHAVEOPT) {
                throw new IOException(address + " is not an NBD server (newstyle)");
            }
            int serverFlags = Short.toUnsignedInt(hello.getShort());
            if ((serverFlags & Nbd.FLAG_FIXED_NEWSTYLE) == 0) {
                throw new IOException("NBD server at " + address + " does not support fixed newstyle");
            }
            int clientFlags = Nbd.FLAG_FIXED_NEWSTYLE | (serverFlags & Nbd.FLAG_NO_ZEROES);
            NbdServer.write(ch, ByteBuffer.allocate(4).putInt(clientFlags).flip());
            byte[] nameBytes = exportName.getBytes(StandardCharsets.UTF_8);
            ByteBuffer go = ByteBuffer.allocate(16 + 4 + nameBytes.length + 2);
            go.putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_GO).putInt(4 + nameBytes.length + 2)
                    .putInt(nameBytes.length).put(nameBytes).putShort((short) 0);
            NbdServer.write(ch, go.flip());
            long exportSize = -1;
            int transmissionFlags = 0;
            while (true) {
                ByteBuffer head = NbdServer.read(ch, 20);
                if (head.getLong() != Nbd.OPTION_REPLY_MAGIC || head.getInt() != Nbd.OPT_GO) {
                    throw new IOException("bad NBD option reply from " + address);
                }
                int type = head.getInt();
                int length = head.getInt();
                if (length < 0 || length > Nbd.MAX_OPTION) {
                    throw new IOException("NBD option reply too long: " + length);
                }
                ByteBuffer data = NbdServer.read(ch, length);
                if (type == Nbd.REP_ACK) {
                    break;
                }
                if (type == Nbd.REP_INFO) {
                    if (length >= 12 && data.getShort(0) == Nbd.INFO_EXPORT) {
                        exportSize = data.getLong(2);
                        transmissionFlags = Short.toUnsignedInt(data.getShort(10));
                    }
                    continue;
                }
                throw new IOException("NBD server refused export '" + exportName + "' (reply 0x" + Integer.toHexString(type) + ")");
            }
            if (exportSize < 0) {
                throw new IOException("NBD server did not say the export's size");
            }
            done = true;
            return new Session(ch, exportSize, transmissionFlags);
        } catch (IOException e) {
            if (watch.closed()) {
                throw new IOException("NBD disk " + address + "/" + exportName + " was closed while connecting", e);
            }
            if (watch.expired()) {
                throw timeout("NBD server " + address + " did not answer within " + seconds(timeout)
                        + " while connecting", e);
            }
            throw e;
        } finally {
            watch.end();
            if (!done) {
                NbdWatchdog.closeQuietly(ch);
            }
        }
    }

    @Override
    public long size() {
        return size;
    }

    @Override
    public boolean readOnly() {
        return (flags & Nbd.TFLAG_READ_ONLY) != 0;
    }

    @Override
    public synchronized void read(long offset, MemorySegment dst) throws IOException {
        long done = 0;
        while (done < dst.byteSize()) {
            int n = (int) Math.min(Nbd.MAX_PAYLOAD, dst.byteSize() - done);
            transact(Nbd.CMD_READ, offset + done, n, null, dst.asSlice(done, n).asByteBuffer());
            done += n;
        }
    }

    @Override
    public synchronized void write(long offset, MemorySegment src) throws IOException {
        if (readOnly()) {
            throw new IOException("NBD export " + name + " is read-only");
        }
        long done = 0;
        while (done < src.byteSize()) {
            int n = (int) Math.min(Nbd.MAX_PAYLOAD, src.byteSize() - done);
            transact(Nbd.CMD_WRITE, offset + done, n, src.asSlice(done, n).asByteBuffer(), null);
            done += n;
        }
    }

    @Override
    public synchronized void flush() throws IOException {
        if ((flags & Nbd.TFLAG_SEND_FLUSH) != 0) {
            transact(Nbd.CMD_FLUSH, 0, 0, null, null);
        }
    }

    @Override
    public boolean supportsDiscard() {
        return (flags & Nbd.TFLAG_SEND_TRIM) != 0 && !readOnly();
    }

    @Override
    public synchronized void discard(long offset, long length) throws IOException {
        long done = 0;
        while (done < length) {
            int n = (int) Math.min(1L << 30, length - done);
            transact(Nbd.CMD_TRIM, offset + done, n, null, null);
            done += n;
        }
    }

    /**
     * One request and its reply, within the request timeout. An error the server reports leaves
     * the connection in step; anything else (a timeout, a broken or garbled reply) drops it.
     */
    private void transact(int type, long offset, int length, ByteBuffer payload, ByteBuffer readInto) throws IOException {
        SocketChannel c = connection();
        if (!watch.begin(c, requestTimeout)) {
            throw closedError();
        }
        int error;
        try {
            long handle = nextHandle++;
            requestHeader.clear().putInt(Nbd.REQUEST_MAGIC).putShort((short) 0).putShort((short) type)
                    .putLong(handle).putLong(offset).putInt(length).flip();
            NbdServer.write(c, requestHeader);
            if (payload != null) {
                NbdServer.write(c, payload);
            }
            replyHeader.clear();
            NbdServer.readFully(c, replyHeader);
            if (replyHeader.getInt(0) != Nbd.SIMPLE_REPLY_MAGIC) {
                throw new IOException("bad NBD reply from " + name);
            }
            error = replyHeader.getInt(4);
            if (replyHeader.getLong(8) != handle) {
                throw new IOException("NBD reply for an unknown request from " + name);
            }
            // A simple reply carries data only on success.
            if (error == 0 && readInto != null) {
                NbdServer.readFully(c, readInto);
            }
        } catch (IOException e) {
            ch = null;
            NbdWatchdog.closeQuietly(c);
            if (watch.closed()) {
                throw closedError();
            }
            if (watch.expired()) {
                throw timeout("NBD server " + name + " did not answer " + command(type) + " within "
                        + seconds(requestTimeout), e);
            }
            throw e;
        } finally {
            watch.end();
        }
        if (error != 0) {
            throw new IOException("NBD server " + name + " failed the request (error " + error + ")");
        }
    }

    /** The connection in step with the server: the current one, or a new one to the same export. */
    private SocketChannel connection() throws IOException {
        if (ch != null && ch.isOpen()) {
            return ch;
        }
        ch = null;
        Session s = handshake(address, exportName, watch, connectTimeout);
        if (s.size() != size || (s.flags() & STABLE_FLAGS) != (flags & STABLE_FLAGS)) {
            NbdWatchdog.closeQuietly(s.channel());
            throw new IOException("NBD export " + name + " changed while reconnecting (size " + size + " -> "
                    + s.size() + ", flags 0x" + Integer.toHexString(flags & STABLE_FLAGS) + " -> 0x"
                    + Integer.toHexString(s.flags() & STABLE_FLAGS) + "); not using it");
        }
        ch = s.channel();
        return ch;
    }

    private IOException closedError() {
        return new IOException("NBD disk " + name + " is closed");
    }

    private static SocketTimeoutException timeout(String message, IOException cause) {
        SocketTimeoutException e = new SocketTimeoutException(message);
        e.initCause(cause);
        return e;
    }

    private static String command(int type) {
        return switch (type) {
            case Nbd.CMD_READ -> "a read";
            case Nbd.CMD_WRITE -> "a write";
            case Nbd.CMD_FLUSH -> "a flush";
            case Nbd.CMD_TRIM -> "a discard";
            default -> "a request";
        };
    }

    /** "10 s", "0.3 s". */
    static String seconds(Duration d) {
        return BigDecimal.valueOf(d.toMillis(), 3).stripTrailingZeros().toPlainString() + " s";
    }

    /**
     * Fails a request that is waiting (at once: its channel is closed under it), then says goodbye
     * to the server if the connection is in step, without waiting for it. Idempotent.
     */
    @Override
    public void close() throws IOException {
        if (!watch.close()) {
            return;
        }
        // A request still holding the lock is failing now, and cannot begin another.
        synchronized (this) {
            SocketChannel c = ch;
            ch = null;
            if (c == null) {
                return;
            }
            try {
                // Non-blocking: a server that stopped reading must not hold up the close.
                c.configureBlocking(false);
                requestHeader.clear().putInt(Nbd.REQUEST_MAGIC).putShort((short) 0).putShort((short) Nbd.CMD_DISC)
                        .putLong(nextHandle++).putLong(0).putInt(0).flip();
                c.write(requestHeader);
            } catch (IOException ignored) {
                // Closing anyway.
            } finally {
                c.close();
            }
        }
    }

    @Override
    public String toString() {
        return "nbd://" + name;
    }
}
