package dev.vessel.container;

import dev.vessel.guest.agent.AgentProtocol;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The attach client against a fake supervisor that speaks {@link ShimProtocol} on a Unix socket. */
@Timeout(30)
class AttachClientTest {
    @TempDir
    Path dir;
    Path socket;
    ServerSocketChannel server;

    @BeforeEach
    void listen() throws IOException {
        socket = dir.resolve("c.shim");
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        server.bind(UnixDomainSocketAddress.of(socket));
    }

    @AfterEach
    void close() throws IOException {
        server.close();
    }

    /** Accepts one client, answers its hello, and returns the channel and its request. */
    private Accepted accept() throws IOException {
        SocketChannel ch = server.accept();
        AgentProtocol.Frame hello = AgentProtocol.read(ch, ShimProtocol.CLIENT_TYPES);
        assertEquals(AgentProtocol.HELLO, hello.type());
        AgentProtocol.write(ch, AgentProtocol.HELLO_REPLY, ShimProtocol.VERSION.getBytes(StandardCharsets.US_ASCII));
        return new Accepted(ch, AgentProtocol.read(ch, ShimProtocol.CLIENT_TYPES));
    }

    record Accepted(SocketChannel ch, AgentProtocol.Frame request) {}

    /** The next client, accepted on a thread of its own: connecting waits for the supervisor's hello. */
    private CompletableFuture<Accepted> acceptNext() {
        return CompletableFuture.supplyAsync(() -> {
            try {
                return accept();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }, runnable -> Thread.ofVirtual().start(runnable));
    }

    private static Accepted get(CompletableFuture<Accepted> f) throws Exception {
        return f.get(10, TimeUnit.SECONDS);
    }

    /** Frames the supervisor reads from {@code ch} until the client goes, on a thread of their own. */
    private static BlockingQueue<AgentProtocol.Frame> readAll(SocketChannel ch) {
        BlockingQueue<AgentProtocol.Frame> q = new LinkedBlockingQueue<>();
        Thread.ofVirtual().start(() -> {
            try {
                AgentProtocol.Frame f;
                while ((f = AgentProtocol.read(ch, ShimProtocol.CLIENT_TYPES)) != null) {
                    q.add(f);
                }
            } catch (IOException e) {
                // the client went
            }
            q.add(new AgentProtocol.Frame((byte) 'H', new byte[] {'E', 'N', 'D'}));
        });
        return q;
    }

    private static AgentProtocol.Frame next(BlockingQueue<AgentProtocol.Frame> q) throws InterruptedException {
        AgentProtocol.Frame f = q.poll(10, TimeUnit.SECONDS);
        assertNotNull(f, "no frame from the client");
        return f;
    }

    private static boolean isEnd(AgentProtocol.Frame f) {
        return f.type() == 'H' && Arrays.equals(f.payload(), new byte[] {'E', 'N', 'D'});
    }

    @Test
    void attachSendsTheTerminalSizeThenOutputComesUntilTheExitStatus() throws Exception {
        CompletableFuture<Accepted> incoming = acceptNext();
        try (AttachClient client = AttachClient.connect(socket, true, true, 30, 100)) {
            Accepted a = get(incoming);
            assertEquals(ShimProtocol.ATTACH, a.request().type());
            assertArrayEquals(new byte[] {ShimProtocol.ATTACH_STDIN, 0, 30, 0, 100}, a.request().payload());
            assertTrue(client.tty() && client.stdin());

            BlockingQueue<AgentProtocol.Frame> in = readAll(a.ch());
            client.resize(40, 120);
            AgentProtocol.Frame resize = next(in);
            assertEquals(AgentProtocol.RESIZE, resize.type());
            assertArrayEquals(new byte[] {0, 40, 0, 120}, resize.payload());
            client.writeStdin("typed".getBytes(StandardCharsets.UTF_8), 0, 5);
            assertEquals("typed", new String(next(in).payload(), StandardCharsets.UTF_8));
            client.closeStdin();
            AgentProtocol.Frame eof = next(in);
            assertEquals(AgentProtocol.STDIN, eof.type());
            assertEquals(0, eof.payload().length, "stdin's end is an empty frame");

            AgentProtocol.write(a.ch(), AgentProtocol.STDOUT, "out".getBytes(StandardCharsets.UTF_8));
            AgentProtocol.write(a.ch(), AgentProtocol.STDERR, "err".getBytes(StandardCharsets.UTF_8));
            AgentProtocol.write(a.ch(), AgentProtocol.STDOUT, "put".getBytes(StandardCharsets.UTF_8));
            AgentProtocol.write(a.ch(), AgentProtocol.EXIT, ByteBuffer.allocate(4).putInt(7).array());
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            ByteArrayOutputStream err = new ByteArrayOutputStream();
            assertEquals(new AttachClient.Outcome(false, 7), client.copyOutput(out, err));
            assertEquals("output", out.toString(StandardCharsets.UTF_8));
            assertEquals("err", err.toString(StandardCharsets.UTF_8));
            a.ch().close();
        }
    }

    @Test
    void withoutATerminalNoSizeIsSent() throws Exception {
        CompletableFuture<Accepted> incoming = acceptNext();
        try (AttachClient client = AttachClient.connect(socket, false, false, 30, 100)) {
            Accepted a = get(incoming);
            assertArrayEquals(new byte[] {0}, a.request().payload());
            assertFalse(client.tty() || client.stdin());
            a.ch().close();
        }
    }

    @Test
    void theSupervisorsFailureAndALostConnectionAreErrors() throws Exception {
        CompletableFuture<Accepted> incoming = acceptNext();
        try (AttachClient client = AttachClient.connect(socket, false, false, 0, 0)) {
            Accepted a = get(incoming);
            AgentProtocol.write(a.ch(), AgentProtocol.FAILURE, ShimProtocol.failure(5, "the VM did not boot"));
            ContainerException e = assertThrows(ContainerException.class,
                    () -> client.copyOutput(new ByteArrayOutputStream(), new ByteArrayOutputStream()));
            assertEquals("the VM did not boot", e.getMessage());
            assertEquals(125, e.status());
            a.ch().close();
        }
        CompletableFuture<Accepted> lost = acceptNext();
        try (AttachClient client = AttachClient.connect(socket, false, false, 0, 0)) {
            get(lost).ch().close();
            ContainerException e = assertThrows(ContainerException.class,
                    () -> client.copyOutput(new ByteArrayOutputStream(), new ByteArrayOutputStream()));
            assertEquals("lost the connection to the container's supervisor", e.getMessage());
        }
    }

    @Test
    void noSupervisorMeansNoAttachment() throws IOException {
        server.close();
        assertThrows(IOException.class, () -> AttachClient.connect(socket, false, false, 0, 0));
    }

    @Test
    void theDetachKeysLeaveTheContainerRunningAndAreNotSent() throws Exception {
        CompletableFuture<Accepted> incoming = acceptNext();
        try (AttachClient client = AttachClient.connect(socket, true, true, 0, 0)) {
            Accepted a = get(incoming);
            BlockingQueue<AgentProtocol.Frame> in = readAll(a.ch());
            byte[] typed = {'a', 'b', 16, 'c', 16, 17, 'z', 'z'}; // ctrl-p c, then ctrl-p ctrl-q
            assertTrue(client.pumpStdin(new ByteArrayInputStream(typed), DetachKeys.parse(DetachKeys.DEFAULT_SPEC)));
            assertTrue(client.isDetached());
            assertEquals(new AttachClient.Outcome(true, 0),
                    client.copyOutput(new ByteArrayOutputStream(), new ByteArrayOutputStream()));
            ByteArrayOutputStream sent = new ByteArrayOutputStream();
            for (AgentProtocol.Frame f = next(in); !isEnd(f); f = next(in)) {
                assertEquals(AgentProtocol.STDIN, f.type());
                assertTrue(f.payload().length > 0, "detaching does not close the container's stdin");
                sent.write(f.payload());
            }
            assertArrayEquals(new byte[] {'a', 'b', 16, 'c'}, sent.toByteArray(),
                    "a ctrl-p not followed by ctrl-q is input; the sequence and what follows it are not");
        }
    }

    @Test
    void withATerminalTheEndOfInputDetachesAndLeavesTheStdinOpen() throws Exception {
        CompletableFuture<Accepted> incoming = acceptNext();
        try (AttachClient client = AttachClient.connect(socket, true, true, 0, 0)) {
            Accepted a = get(incoming);
            BlockingQueue<AgentProtocol.Frame> in = readAll(a.ch());
            assertTrue(client.pumpStdin(new ByteArrayInputStream("line\n".getBytes(StandardCharsets.UTF_8)), DetachKeys.NONE, true));
            assertEquals("line\n", new String(next(in).payload(), StandardCharsets.UTF_8));
            assertTrue(client.isDetached());
            a.ch().close();
        }
    }

    @Test
    void theEndOfInputClosesTheContainersStdin() throws Exception {
        CompletableFuture<Accepted> incoming = acceptNext();
        try (AttachClient client = AttachClient.connect(socket, true, false, 0, 0)) {
            Accepted a = get(incoming);
            BlockingQueue<AgentProtocol.Frame> in = readAll(a.ch());
            assertFalse(client.pumpStdin(new ByteArrayInputStream("line\n".getBytes(StandardCharsets.UTF_8)), DetachKeys.NONE));
            assertEquals("line\n", new String(next(in).payload(), StandardCharsets.UTF_8));
            assertEquals(0, next(in).payload().length);
            a.ch().close();
        }
    }

    @Test
    void aSignalIsARequestOfItsOwn() throws Exception {
        CompletableFuture<Accepted> nextAttached = acceptNext();
        try (AttachClient client = AttachClient.connect(socket, false, false, 0, 0)) {
            Accepted attached = get(nextAttached);
            CompletableFuture<Accepted> nextSignal = acceptNext();
            List<Throwable> failure = new ArrayList<>();
            Thread signaller = Thread.ofVirtual().start(() -> {
                try {
                    client.signal(15);
                } catch (IOException e) {
                    failure.add(e);
                }
            });
            Accepted signal = get(nextSignal);
            assertEquals(ShimProtocol.SIGNAL, signal.request().type());
            assertArrayEquals(new byte[] {15}, signal.request().payload());
            AgentProtocol.write(signal.ch(), AgentProtocol.EXIT, ByteBuffer.allocate(4).putInt(0).array());
            signaller.join();
            assertTrue(failure.isEmpty(), failure.toString());
            signal.ch().close();
            attached.ch().close();
        }
    }
}
