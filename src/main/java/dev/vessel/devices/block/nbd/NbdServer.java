package dev.vessel.devices.block.nbd;

import dev.vessel.devices.block.BlockBackend;

import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;

/**
 * Serves one {@link BlockBackend} over NBD to clients on a loopback TCP port, one connection at a
 * time (a disk has one writer). Every request is checked against the export's size and
 * read-only flag; a malformed request ends that connection, a failed I/O gets an error reply.
 */
public final class NbdServer implements AutoCloseable {
    private final BlockBackend backend;
    private final String exportName;
    private final ServerSocketChannel listener;
    private final Thread thread;
    private volatile boolean closed;

    /** Serves {@code backend} under any export name. */
    public NbdServer(BlockBackend backend, InetSocketAddress bindAddress) throws IOException {
        this(backend, bindAddress, null);
    }

    /**
     * Serves {@code backend} only to clients that ask for export {@code exportName}: on a port
     * every local user can reach, a random name is what keeps the disk private to its VM.
     */
    public NbdServer(BlockBackend backend, InetSocketAddress bindAddress, String exportName) throws IOException {
        this.backend = backend;
        this.exportName = exportName;
        this.listener = ServerSocketChannel.open().bind(bindAddress);
        this.thread = Thread.ofPlatform().name("nbd-server").daemon(true).unstarted(this::serve);
    }

    public int port() throws IOException {
        return ((InetSocketAddress) listener.getLocalAddress()).getPort();
    }

    public NbdServer start() {
        thread.start();
        return this;
    }

    private void serve() {
        while (!closed) {
            try (SocketChannel ch = listener.accept()) {
                ch.socket().setTcpNoDelay(true);
                session(ch);
            } catch (IOException e) {
                // That client is gone or misbehaved; wait for the next one.
            }
        }
    }

    private void session(SocketChannel ch) throws IOException {
        ByteBuffer hello = ByteBuffer.allocate(18);
        hello.putLong(Nbd.NBDMAGIC).putLong(Nbd.IHAVEOPT).putShort((short) (Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES));
        write(ch, hello.flip());
        int clientFlags = read(ch, 4).getInt();
        if ((clientFlags & Nbd.FLAG_FIXED_NEWSTYLE) == 0) {
            throw new IOException("NBD client does not speak fixed newstyle");
        }
        if (!negotiate(ch)) {
            return;
        }
        transmit(ch);
    }

    /** Option haggling until NBD_OPT_GO succeeds (true) or the client aborts (false). */
    private boolean negotiate(SocketChannel ch) throws IOException {
        while (true) {
            ByteBuffer head = read(ch, 16);
            if (head.getLong() != Nbd.IHAVEOPT) {
                throw new IOException("bad NBD option magic");
            }
            int option = head.getInt();
            int length = head.getInt();
            if (length < 0 || length > Nbd.MAX_OPTION) {
                throw new IOException("NBD option too long: " + length);
            }
            ByteBuffer data = read(ch, length);
            switch (option) {
                case Nbd.OPT_ABORT -> {
                    optionReply(ch, option, Nbd.REP_ACK, ByteBuffer.allocate(0));
                    return false;
                }
                case Nbd.OPT_GO -> {
                    if (length < 6 || data.getInt(0) < 0 || 4 + data.getInt(0) + 2 > length) {
                        optionReply(ch, option, Nbd.REP_ERR_INVALID, ByteBuffer.allocate(0));
                        continue;
                    }
                    byte[] name = new byte[data.getInt(0)];
                    data.get(4, name);
                    if (exportName != null && !java.security.MessageDigest.isEqual(name,
                            exportName.getBytes(java.nio.charset.StandardCharsets.UTF_8))) {
                        optionReply(ch, option, Nbd.REP_ERR_UNKNOWN, ByteBuffer.allocate(0));
                        continue;
                    }
                    ByteBuffer info = ByteBuffer.allocate(12);
                    info.putShort((short) Nbd.INFO_EXPORT).putLong(backend.size()).putShort((short) transmissionFlags());
                    optionReply(ch, option, Nbd.REP_INFO, info.flip());
                    optionReply(ch, option, Nbd.REP_ACK, ByteBuffer.allocate(0));
                    return true;
                }
                default -> optionReply(ch, option, Nbd.REP_ERR_UNSUP, ByteBuffer.allocate(0));
            }
        }
    }

    private int transmissionFlags() {
        int f = Nbd.TFLAG_HAS_FLAGS | Nbd.TFLAG_SEND_FLUSH | Nbd.TFLAG_SEND_FUA;
        if (backend.readOnly()) {
            f |= Nbd.TFLAG_READ_ONLY;
        }
        if (backend.supportsDiscard()) {
            f |= Nbd.TFLAG_SEND_TRIM;
        }
        return f;
    }

    private void transmit(SocketChannel ch) throws IOException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment buffer = arena.allocate(Nbd.MAX_PAYLOAD, 4096);
            while (true) {
                ByteBuffer req = read(ch, 28);
                if (req.getInt() != Nbd.REQUEST_MAGIC) {
                    throw new IOException("bad NBD request magic");
                }
                int flags = Short.toUnsignedInt(req.getShort());
                int type = Short.toUnsignedInt(req.getShort());
                long handle = req.getLong();
                long offset = req.getLong();
                long length = Integer.toUnsignedLong(req.getInt());
                boolean inRange = offset >= 0 && length <= backend.size() && offset <= backend.size() - length;
                switch (type) {
                    case Nbd.CMD_DISC -> {
                        return;
                    }
                    case Nbd.CMD_READ -> {
                        if (!inRange || length > Nbd.MAX_PAYLOAD) {
                            reply(ch, handle, Nbd.EINVAL, null);
                            continue;
                        }
                        MemorySegment data = buffer.asSlice(0, length);
                        int error = io(() -> backend.read(offset, data));
                        reply(ch, handle, error, error == 0 ? data.asByteBuffer() : null);
                    }
                    case Nbd.CMD_WRITE -> {
                        if (length > Nbd.MAX_PAYLOAD) {
                            throw new IOException("NBD write of " + length + " bytes is too large");
                        }
                        MemorySegment data = buffer.asSlice(0, length);
                        readFully(ch, data.asByteBuffer());
                        int error = backend.readOnly() ? Nbd.EPERM : !inRange ? Nbd.ENOSPC
                                : io(() -> {
                                    backend.write(offset, data);
                                    if ((flags & Nbd.CMD_FLAG_FUA) != 0) {
                                        backend.flush();
                                    }
                                });
                        reply(ch, handle, error, null);
                    }
                    case Nbd.CMD_FLUSH -> reply(ch, handle, io(backend::flush), null);
                    case Nbd.CMD_TRIM -> reply(ch, handle, backend.readOnly() ? Nbd.EPERM : !inRange ? Nbd.EINVAL
                            : io(() -> backend.discard(offset, length)), null);
                    default -> reply(ch, handle, Nbd.EINVAL, null);
                }
            }
        }
    }

    private interface Io {
        void run() throws IOException;
    }

    private static int io(Io op) {
        try {
            op.run();
            return 0;
        } catch (IOException e) {
            return Nbd.EIO;
        }
    }

    private static void optionReply(SocketChannel ch, int option, int type, ByteBuffer data) throws IOException {
        ByteBuffer head = ByteBuffer.allocate(20);
        head.putLong(Nbd.OPTION_REPLY_MAGIC).putInt(option).putInt(type).putInt(data.remaining());
        write(ch, head.flip());
        write(ch, data);
    }

    private static void reply(SocketChannel ch, long handle, int error, ByteBuffer data) throws IOException {
        ByteBuffer head = ByteBuffer.allocate(16);
        head.putInt(Nbd.SIMPLE_REPLY_MAGIC).putInt(error).putLong(handle);
        write(ch, head.flip());
        if (data != null) {
            write(ch, data);
        }
    }

    static ByteBuffer read(SocketChannel ch, int n) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(n);
        readFully(ch, b);
        return b.flip();
    }

    static void readFully(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            if (ch.read(b) < 0) {
                throw new EOFException("NBD peer closed the connection");
            }
        }
    }

    static void write(SocketChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    @Override
    public void close() throws IOException {
        closed = true;
        listener.close();
    }
}
