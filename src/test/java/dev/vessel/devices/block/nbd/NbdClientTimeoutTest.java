package dev.vessel.devices.block.nbd;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The client against scripted fake servers that stop answering: every wait ends, a dropped
 * connection is replaced by a new one to the same export, and close() cuts a waiting request short.
 * Waits in the tests are bounded generously, so a client that hangs fails the test instead.
 */
class NbdClientTimeoutTest {
    static final Duration SHORT = Duration.ofMillis(300);
    static final Duration LONG = Duration.ofSeconds(60);
    /** Far beyond SHORT plus a watchdog tick, even on a loaded machine; reached only by a hang. */
    static final long HANG_SECONDS = 20;
    static final long SIZE = 1 << 20;
    static final int FLAGS = Nbd.TFLAG_HAS_FLAGS | Nbd.TFLAG_SEND_FLUSH;

    final ExecutorService threads = Executors.newCachedThreadPool(Thread.ofPlatform().daemon(true).factory());
    final List<AutoCloseable> toClose = new CopyOnWriteArrayList<>(); // servers add from their threads
    final Arena arena = Arena.ofShared();

    @AfterEach
    void cleanUp() throws Exception {
        for (AutoCloseable c : toClose.reversed()) {
            c.close();
        }
        threads.shutdownNow();
        arena.close();
    }

    ServerSocketChannel listen() throws IOException {
        ServerSocketChannel l = ServerSocketChannel.open().bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
        toClose.add(l);
        return l;
    }

    SocketChannel accept(ServerSocketChannel l) throws IOException {
        SocketChannel s = l.accept();
        toClose.add(s);
        return s;
    }

    static InetSocketAddress address(ServerSocketChannel l) throws IOException {
        return (InetSocketAddress) l.getLocalAddress();
    }

    <T> Future<T> async(Callable<T> task) {
        return threads.submit(task);
    }

    static <T> T await(Future<T> f) throws Exception {
        return f.get(HANG_SECONDS, TimeUnit.SECONDS);
    }

    /** The failure of {@code f}, which must fail with an IOException. */
    static IOException failure(Future<?> f) throws Exception {
        ExecutionException e = assertThrows(ExecutionException.class, () -> await(f));
        return assertInstanceOf(IOException.class, e.getCause());
    }

    /** The server's side of a handshake that goes well: greeting, flags, NBD_OPT_GO, info, ack. */
    static void handshake(SocketChannel s, long size, int flags) throws IOException {
        NbdServer.write(s, ByteBuffer.allocate(18).putLong(Nbd.NBDMAGIC).putLong(Nbd.IHAVEOPT)
                .putShort((short) (Nbd.FLAG_FIXED_NEWSTYLE | Nbd.FLAG_NO_ZEROES)).flip());
        NbdServer.read(s, 4);
        ByteBuffer option = NbdServer.read(s, 16);
        assertEquals(Nbd.IHAVEOPT, option.getLong());
        assertEquals(Nbd.OPT_GO, option.getInt());
        NbdServer.read(s, option.getInt());
        NbdServer.write(s, ByteBuffer.allocate(20 + 12).putLong(Nbd.OPTION_REPLY_MAGIC).putInt(Nbd.OPT_GO)
                .putInt(Nbd.REP_INFO).putInt(12).putShort((short) Nbd.INFO_EXPORT).putLong(size)
                .putShort((short) flags).flip());
        NbdServer.write(s, ByteBuffer.allocate(20).putLong(Nbd.OPTION_REPLY_MAGIC).putInt(Nbd.OPT_GO)
                .putInt(Nbd.REP_ACK).putInt(0).flip());
    }

    record Request(int type, long handle, long offset, int length) {}

    static Request request(SocketChannel s) throws IOException {
        ByteBuffer r = NbdServer.read(s, 28);
        assertEquals(Nbd.REQUEST_MAGIC, r.getInt());
        r.getShort();
        return new Request(Short.toUnsignedInt(r.getShort()), r.getLong(), r.getLong(), r.getInt());
    }

    static void replyWithData(SocketChannel s, Request r, byte[] data) throws IOException {
        NbdServer.write(s, ByteBuffer.allocate(16).putInt(Nbd.SIMPLE_REPLY_MAGIC).putInt(0).putLong(r.handle()).flip());
        NbdServer.write(s, ByteBuffer.wrap(data));
    }

    static byte[] pattern(int n, int seed) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 7 + seed);
        }
        return b;
    }

    NbdClient connect(ServerSocketChannel l, Duration requestTimeout) throws Exception {
        NbdClient c = NbdClient.connect(address(l), "x", SHORT, requestTimeout);
        toClose.add(c);
        return c;
    }

    byte[] read(NbdClient c, long offset, int n) throws IOException {
        MemorySegment buf = arena.allocate(n);
        c.read(offset, buf);
        return buf.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
    }

    @Test
    void aServerThatNeverGreetsFailsTheConnectWithinTheTimeout() throws Exception {
        ServerSocketChannel l = listen();
        Future<SocketChannel> accepted = async(() -> accept(l)); // and then silence
        Future<NbdClient> connecting = async(() -> connect(l, LONG));
        IOException e = failure(connecting);
        assertInstanceOf(SocketTimeoutException.class, e);
        assertTrue(e.getMessage().contains("did not answer within 0.3 s while connecting"), e.getMessage());
        assertTrue(e.getMessage().contains(address(l).toString()), e.getMessage());
        await(accepted);
    }

    @Test
    void aRequestWithoutAReplyFailsAfterTheRequestTimeout() throws Exception {
        ServerSocketChannel l = listen();
        Future<Request> server = async(() -> {
            SocketChannel s = accept(l);
            handshake(s, SIZE, FLAGS);
            return request(s); // and no reply
        });
        NbdClient client = connect(l, SHORT);
        IOException e = failure(async(() -> read(client, 4096, 512)));
        assertInstanceOf(SocketTimeoutException.class, e);
        assertTrue(e.getMessage().contains("did not answer a read within 0.3 s"), e.getMessage());
        assertEquals(new Request(Nbd.CMD_READ, 1, 4096, 512), await(server));
    }

    @Test
    void afterATimeoutTheNextRequestReconnectsAndIsServed() throws Exception {
        ServerSocketChannel l = listen();
        byte[] data = pattern(512, 3);
        Future<Request> server = async(() -> {
            SocketChannel first = accept(l);
            handshake(first, SIZE, FLAGS);
            request(first); // never answered
            SocketChannel second = accept(l);
            handshake(second, SIZE, FLAGS);
            Request r = request(second);
            replyWithData(second, r, data);
            return r;
        });
        NbdClient client = connect(l, SHORT);
        assertInstanceOf(SocketTimeoutException.class, failure(async(() -> read(client, 0, 512))));
        assertArrayEquals(data, await(async(() -> read(client, 8192, 512))));
        Request served = await(server);
        assertEquals(Nbd.CMD_READ, served.type());
        assertEquals(8192, served.offset());
    }

    @Test
    void aReconnectionToAnExportThatChangedIsRefusedAndTheNextOneTriesAgain() throws Exception {
        ServerSocketChannel l = listen();
        byte[] data = pattern(512, 9);
        Future<Request> server = async(() -> {
            SocketChannel first = accept(l);
            handshake(first, SIZE, FLAGS);
            first.close(); // the connection breaks
            handshake(accept(l), 2 * SIZE, FLAGS); // bigger
            handshake(accept(l), SIZE, FLAGS | Nbd.TFLAG_READ_ONLY); // read-only now
            SocketChannel last = accept(l);
            handshake(last, SIZE, FLAGS); // as it was
            Request r = request(last);
            replyWithData(last, r, data);
            return r;
        });
        NbdClient client = connect(l, LONG);
        assertEquals(SIZE, client.size());
        failure(async(() -> read(client, 0, 512)));
        IOException bigger = failure(async(() -> read(client, 0, 512)));
        assertTrue(bigger.getMessage().contains("changed") && bigger.getMessage().contains("size 1048576 -> 2097152"),
                bigger.getMessage());
        IOException readOnly = failure(async(() -> read(client, 0, 512)));
        assertTrue(readOnly.getMessage().contains("changed") && readOnly.getMessage().contains("flags 0x4 -> 0x6"),
                readOnly.getMessage());
        assertArrayEquals(data, await(async(() -> read(client, 512, 512))));
        assertEquals(512, await(server).offset());
    }

    @Test
    void closeWhileARequestWaitsReturnsPromptlyAndFailsTheRequest() throws Exception {
        ServerSocketChannel l = listen();
        Future<Request> server = async(() -> {
            SocketChannel s = accept(l);
            handshake(s, SIZE, FLAGS);
            return request(s); // and no reply
        });
        NbdClient client = connect(l, LONG);
        Future<byte[]> reading = async(() -> read(client, 0, 512));
        await(server); // the request is out: the client waits for its reply
        await(async(() -> {
            client.close();
            return null;
        }));
        IOException e = failure(reading);
        assertTrue(e.getMessage().contains("is closed"), e.getMessage());
        client.close(); // again: nothing happens
        IOException after = assertThrows(IOException.class, () -> read(client, 0, 512));
        assertTrue(after.getMessage().contains("is closed"), after.getMessage());
    }

    @Test
    void timeoutsAreSaidInSeconds() {
        assertEquals("10 s", NbdClient.seconds(NbdClient.CONNECT_TIMEOUT));
        assertEquals("60 s", NbdClient.seconds(NbdClient.REQUEST_TIMEOUT));
        assertEquals("0.3 s", NbdClient.seconds(SHORT));
    }
}
