package dev.vessel.devices.block.nbd;

import dev.vessel.devices.block.BlockBackend;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;

/**
 * A disk served over NBD (fixed newstyle, NBD_OPT_GO, simple replies), as a {@link BlockBackend}.
 * Requests are sent one at a time; large transfers are split to the protocol's payload limit.
 * Everything the server sends is checked: magic numbers, the handle of each reply, lengths.
 */
public final class NbdClient implements BlockBackend {
    private final SocketChannel ch;
    private final long size;
    private final int flags;
    private final String name;
    private long nextHandle = 1;

    private NbdClient(SocketChannel ch, long size, int flags, String name) {
        this.ch = ch;
        this.size = size;
        this.flags = flags;
        this.name = name;
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
        SocketChannel ch = SocketChannel.open(address);
        try {
            ch.socket().setTcpNoDelay(true);
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
            return new NbdClient(ch, exportSize, transmissionFlags, address + "/" + exportName);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
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
            long handle = request(Nbd.CMD_READ, 0, offset + done, n, null);
            awaitReply(handle, dst.asSlice(done, n).asByteBuffer());
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
            long handle = request(Nbd.CMD_WRITE, 0, offset + done, n, src.asSlice(done, n).asByteBuffer());
            awaitReply(handle, null);
            done += n;
        }
    }

    @Override
    public synchronized void flush() throws IOException {
        if ((flags & Nbd.TFLAG_SEND_FLUSH) != 0) {
            awaitReply(request(Nbd.CMD_FLUSH, 0, 0, 0, null), null);
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
            awaitReply(request(Nbd.CMD_TRIM, 0, offset + done, n, null), null);
            done += n;
        }
    }

    private long request(int type, int cmdFlags, long offset, int length, ByteBuffer payload) throws IOException {
        long handle = nextHandle++;
        ByteBuffer req = ByteBuffer.allocate(28);
        req.putInt(Nbd.REQUEST_MAGIC).putShort((short) cmdFlags).putShort((short) type)
                .putLong(handle).putLong(offset).putInt(length);
        NbdServer.write(ch, req.flip());
        if (payload != null) {
            NbdServer.write(ch, payload);
        }
        return handle;
    }

    private void awaitReply(long handle, ByteBuffer readInto) throws IOException {
        ByteBuffer head = NbdServer.read(ch, 16);
        if (head.getInt() != Nbd.SIMPLE_REPLY_MAGIC) {
            throw new IOException("bad NBD reply from " + name);
        }
        int error = head.getInt();
        if (head.getLong() != handle) {
            throw new IOException("NBD reply for an unknown request from " + name);
        }
        if (error != 0) {
            throw new IOException("NBD server " + name + " failed the request (error " + error + ")");
        }
        if (readInto != null) {
            NbdServer.readFully(ch, readInto);
        }
    }

    @Override
    public synchronized void close() throws IOException {
        try {
            request(Nbd.CMD_DISC, 0, 0, 0, null);
        } catch (IOException ignored) {
            // Closing anyway.
        }
        ch.close();
    }

    @Override
    public String toString() {
        return "nbd://" + name;
    }
}
