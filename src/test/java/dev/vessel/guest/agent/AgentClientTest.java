package dev.vessel.guest.agent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The Java client against a scripted fake agent (the real one is exercised by {@link AgentIntegrationTest}). */
@Timeout(30)
class AgentClientTest {
    private static final byte[] NONE = new byte[0];

    interface Script<T> {
        T run(SocketChannel ch) throws Exception;
    }

    /** Listens, accepts one connection and runs the script on it in a background thread. */
    static final class FakeAgent implements AutoCloseable {
        final ServerSocketChannel server;

        FakeAgent() throws IOException {
            server = ServerSocketChannel.open().bind(new InetSocketAddress("127.0.0.1", 0));
        }

        FakeAgent(Path unixSocket) throws IOException {
            server = ServerSocketChannel.open(StandardProtocolFamily.UNIX).bind(UnixDomainSocketAddress.of(unixSocket));
        }

        SocketAddress address() throws IOException {
            return server.getLocalAddress();
        }

        <T> CompletableFuture<T> serve(Script<T> script) {
            CompletableFuture<T> result = new CompletableFuture<>();
            Thread.ofVirtual().start(() -> {
                try (SocketChannel ch = server.accept()) {
                    result.complete(script.run(ch));
                } catch (Throwable t) {
                    result.completeExceptionally(t);
                }
            });
            return result;
        }

        @Override
        public void close() throws IOException {
            server.close();
        }
    }

    static AgentProtocol.Frame expect(SocketChannel ch, byte type) throws IOException {
        AgentProtocol.Frame f = AgentProtocol.read(ch, AgentProtocol.CLIENT_TYPES);
        if (f == null || f.type() != type) {
            throw new AssertionError("expected " + AgentProtocol.typeName(type) + ", got " + f);
        }
        return f;
    }

    /** Answers the hello and returns the exec request. */
    static ExecRequest handshake(SocketChannel ch, byte[] token) throws IOException {
        assertArrayEquals(token, expect(ch, AgentProtocol.HELLO).payload());
        AgentProtocol.write(ch, AgentProtocol.HELLO_REPLY,
                AgentProtocol.PROTOCOL_VERSION.getBytes(StandardCharsets.US_ASCII));
        return AgentProtocol.decodeExec(expect(ch, AgentProtocol.EXEC).payload());
    }

    @Test
    void relaysStdioSignalsResizeAndExitStatus() throws Exception {
        byte[] token = "secret".getBytes(StandardCharsets.UTF_8);
        ExecRequest req = ExecRequest.of("cat").withEnv(Map.of("TERM", "xterm")).withTty(24, 80);
        try (FakeAgent fake = new FakeAgent()) {
            CompletableFuture<List<AgentProtocol.Frame>> seen = fake.serve(ch -> {
                assertEquals(req, handshake(ch, token));
                List<AgentProtocol.Frame> frames = new ArrayList<>();
                boolean eof = false;
                boolean resized = false;
                boolean signalled = false;
                while (!(eof && resized && signalled)) {
                    AgentProtocol.Frame f = AgentProtocol.read(ch, AgentProtocol.CLIENT_TYPES);
                    frames.add(f);
                    eof |= f.type() == AgentProtocol.STDIN && f.payload().length == 0;
                    resized |= f.type() == AgentProtocol.RESIZE;
                    signalled |= f.type() == AgentProtocol.SIGNAL;
                }
                AgentProtocol.write(ch, AgentProtocol.STDOUT, "out".getBytes(StandardCharsets.UTF_8));
                AgentProtocol.write(ch, AgentProtocol.STDERR, "err".getBytes(StandardCharsets.UTF_8));
                AgentProtocol.write(ch, AgentProtocol.EXIT, AgentProtocol.encodeExit(3));
                return frames;
            });
            Capture out = new Capture();
            Capture err = new Capture();
            try (AgentClient c = AgentClient.connect(fake.address(), token)) {
                assertEquals(AgentProtocol.PROTOCOL_VERSION, c.agentVersion());
                ExecSession s = c.exec(req, new ByteArrayInputStream("abc".getBytes(StandardCharsets.UTF_8)), out,
                        err);
                s.resize(50, 132);
                s.signal(2);
                assertEquals(3, s.waitFor());
                assertEquals(Optional.empty(), s.failure());
            }
            assertEquals("out", out.text());
            assertEquals("err", err.text());
            List<AgentProtocol.Frame> frames = seen.get(10, TimeUnit.SECONDS);
            StringBuilder stdin = new StringBuilder();
            for (AgentProtocol.Frame f : frames) {
                switch (f.type()) {
                    case AgentProtocol.STDIN -> stdin.append(new String(f.payload(), StandardCharsets.UTF_8));
                    case AgentProtocol.RESIZE -> assertArrayEquals(new byte[] {0, 50, 0, (byte) 132}, f.payload());
                    case AgentProtocol.SIGNAL -> assertArrayEquals(new byte[] {2}, f.payload());
                    default -> throw new AssertionError("unexpected " + f);
                }
            }
            assertEquals("abc", stdin.toString());
            AgentProtocol.Frame last = frames.stream().filter(f -> f.type() == AgentProtocol.STDIN).reduce(
                    (a, b) -> b).orElseThrow();
            assertEquals(0, last.payload().length, "EOF is the last stdin frame");
        }
    }

    private static ExecSession failWith(int errno, String message, Capture out) throws Exception {
        FakeAgent fake = new FakeAgent();
        fake.serve(ch -> {
            handshake(ch, NONE);
            AgentProtocol.write(ch, AgentProtocol.FAILURE, AgentProtocol.encodeFailure(errno, message));
            return null;
        });
        try (fake; AgentClient c = AgentClient.connect(fake.address(), null)) {
            ExecSession s = c.exec(ExecRequest.of("whatever"), null, out, out);
            s.waitFor();
            return s;
        }
    }

    @Test
    void mapsFailuresLikeDocker() throws Exception {
        Capture out = new Capture();
        ExecSession notFound = failWith(AgentProtocol.ENOENT, "exec whatever: No such file or directory", out);
        assertEquals(127, notFound.waitFor());
        assertEquals(new ExecFailure(2, "exec whatever: No such file or directory"), notFound.failure().orElseThrow());
        assertEquals(126, failWith(AgentProtocol.EACCES, "exec whatever: Permission denied", out).waitFor());
        assertEquals(126, failWith(AgentProtocol.ENOEXEC, "exec whatever: Exec format error", out).waitFor());
        assertEquals(126, failWith(AgentProtocol.EINVAL, "unknown key", out).waitFor());
        assertEquals("", out.text());
    }

    @Test
    void connectionLostBeforeExitIsAnError() throws Exception {
        try (FakeAgent fake = new FakeAgent()) {
            fake.serve(ch -> {
                handshake(ch, NONE);
                AgentProtocol.write(ch, AgentProtocol.STDOUT, "partial".getBytes(StandardCharsets.UTF_8));
                return null; // closes without 'X'
            });
            Capture out = new Capture();
            try (AgentClient c = AgentClient.connect(fake.address(), null)) {
                ExecSession s = c.exec(ExecRequest.of("x"), null, out, out);
                IOException e = assertThrows(IOException.class, s::waitFor);
                assertTrue(e.getMessage().contains("before the exit status"), e.getMessage());
                assertTrue(s.isDone());
            }
            assertEquals("partial", out.text());
        }
    }

    @Test
    void malformedAgentFramesAreAnError() throws Exception {
        try (FakeAgent fake = new FakeAgent()) {
            fake.serve(ch -> {
                handshake(ch, NONE);
                AgentProtocol.write(ch, AgentProtocol.EXIT, new byte[3]); // exit status must be 4 bytes
                return null;
            });
            try (AgentClient c = AgentClient.connect(fake.address(), null)) {
                ExecSession s = c.exec(ExecRequest.of("x"), null, new Capture(), new Capture());
                IOException e = assertThrows(IOException.class, s::waitFor);
                assertTrue(e.getCause() instanceof AgentProtocolException, String.valueOf(e.getCause()));
            }
        }
        try (FakeAgent fake = new FakeAgent()) {
            fake.serve(ch -> {
                handshake(ch, NONE);
                ch.write(AgentProtocol.encode((byte) 'Q', NONE)); // unknown type
                return null;
            });
            try (AgentClient c = AgentClient.connect(fake.address(), null)) {
                ExecSession s = c.exec(ExecRequest.of("x"), null, new Capture(), new Capture());
                assertThrows(IOException.class, s::waitFor);
            }
        }
    }

    @Test
    void helloRejectionAndVersionMismatch() throws Exception {
        try (FakeAgent fake = new FakeAgent()) {
            fake.serve(ch -> {
                expect(ch, AgentProtocol.HELLO);
                AgentProtocol.write(ch, AgentProtocol.FAILURE,
                        AgentProtocol.encodeFailure(AgentProtocol.EACCES, "authentication failed"));
                return null;
            });
            AgentRejectedException e = assertThrows(AgentRejectedException.class,
                    () -> AgentClient.connect(fake.address(), "wrong".getBytes(StandardCharsets.UTF_8)));
            assertEquals(AgentProtocol.EACCES, e.failure().errno());
        }
        try (FakeAgent fake = new FakeAgent()) {
            fake.serve(ch -> {
                expect(ch, AgentProtocol.HELLO);
                AgentProtocol.write(ch, AgentProtocol.HELLO_REPLY, "vessel-agent/2".getBytes(StandardCharsets.UTF_8));
                return null;
            });
            assertThrows(AgentProtocolException.class, () -> AgentClient.connect(fake.address(), null));
        }
    }

    @Test
    void helloTimesOut() throws Exception {
        try (FakeAgent fake = new FakeAgent()) {
            CountDownLatch release = new CountDownLatch(1);
            fake.serve(ch -> {
                expect(ch, AgentProtocol.HELLO);
                release.await(); // never answers
                return null;
            });
            long t0 = System.nanoTime();
            IOException e = assertThrows(IOException.class,
                    () -> AgentClient.connect(fake.address(), null, Duration.ofMillis(300)));
            assertTrue(e.getMessage().contains("did not answer"), e.getMessage());
            assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(10));
            release.countDown();
        }
    }

    @Test
    void blockedStdinDoesNotDelayTheExitStatus() throws Exception {
        CountDownLatch reading = new CountDownLatch(1);
        CountDownLatch never = new CountDownLatch(1);
        InputStream stuck = new InputStream() {
            @Override
            public int read() throws IOException {
                reading.countDown();
                try {
                    never.await();
                } catch (InterruptedException e) {
                    throw new IOException(e);
                }
                return -1;
            }
        };
        try (FakeAgent fake = new FakeAgent()) {
            fake.serve(ch -> {
                handshake(ch, NONE);
                reading.await(); // the process "ends" while the stdin pump is blocked in read()
                AgentProtocol.write(ch, AgentProtocol.EXIT, AgentProtocol.encodeExit(0));
                return null;
            });
            try (AgentClient c = AgentClient.connect(fake.address(), null)) {
                ExecSession s = c.exec(ExecRequest.of("true"), stuck, new Capture(), new Capture());
                assertEquals(Optional.of(0), s.waitFor(Duration.ofSeconds(10)));
                // the pump is still blocked in read(), as a terminal's stdin would be; it must not hold the JVM
                Thread pump = Thread.getAllStackTraces().keySet().stream()
                        .filter(t -> t.getName().equals("vessel-agent-stdin")).findFirst().orElseThrow();
                assertTrue(pump.isAlive() && pump.isDaemon());
                s.writeStdin("ignored".getBytes(StandardCharsets.UTF_8)); // after the end: a no-op
                s.signal(15);
                s.resize(1, 1);
            } finally {
                never.countDown();
            }
        }
    }

    @Test
    void oneExecPerConnectionAndHelloFirst(@TempDir Path dir) throws Exception {
        Path sock = dir.resolve("agent.sock");
        try (FakeAgent fake = new FakeAgent(sock)) {
            fake.serve(ch -> {
                handshake(ch, NONE);
                AgentProtocol.write(ch, AgentProtocol.STDOUT, "unix".getBytes(StandardCharsets.UTF_8));
                AgentProtocol.write(ch, AgentProtocol.EXIT, AgentProtocol.encodeExit(0));
                return null;
            });
            // pluggable transport: an already connected Unix-domain channel
            SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(sock));
            try (AgentClient c = new AgentClient(ch)) {
                assertNull(c.agentVersion());
                assertThrows(IllegalStateException.class,
                        () -> c.exec(ExecRequest.of("x"), null, new Capture(), new Capture()));
                assertEquals(AgentProtocol.PROTOCOL_VERSION, c.hello(null));
                Capture out = new Capture();
                ExecSession s = c.exec(ExecRequest.of("x"), null, out, out);
                assertThrows(IllegalStateException.class,
                        () -> c.exec(ExecRequest.of("x"), null, new Capture(), new Capture()));
                assertEquals(0, s.waitFor());
                assertEquals("unix", out.text());
            }
        }
    }
}
