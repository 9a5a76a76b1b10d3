package dev.vessel.machine.standby;

import dev.vessel.guest.agent.AgentBinary;
import dev.vessel.sys.ErrnoException;
import dev.vessel.sys.Libc;
import dev.vessel.sys.UnixSocket;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The standby protocol from both ends: the real vessel-agent binary in its --vmm-client mode
 * against a fake standby in this JVM (built on the standby's own receive code), and that receive
 * code against malformed requests.
 */
@Timeout(60)
class StandbyClientTest {
    @TempDir
    static Path dir;

    static Path agent;

    @BeforeAll
    static void extractAgent() throws IOException {
        agent = AgentBinary.extractTo(dir.resolve("bin"));
    }

    /** A finished client: exit status and what it wrote. */
    record Result(int status, String stdout, String stderr) {}

    static Process startClient(Path socket, Map<String, String> env, Path cwd, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(agent.toString(), "--vmm-client", socket.toString(), "--"));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).directory(cwd.toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("VESSEL_"));
        pb.environment().putAll(env);
        return pb.start();
    }

    static Result finish(Process p, byte[] stdin) throws Exception {
        CompletableFuture<byte[]> out = CompletableFuture.supplyAsync(() -> readAll(p.getInputStream()));
        CompletableFuture<byte[]> err = CompletableFuture.supplyAsync(() -> readAll(p.getErrorStream()));
        try (var in = p.getOutputStream()) {
            in.write(stdin);
        } catch (IOException e) {
            // The client may have exited already.
        }
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "client did not exit");
        return new Result(p.exitValue(), new String(out.get(), StandardCharsets.UTF_8), new String(err.get(), StandardCharsets.UTF_8));
    }

    static byte[] readAll(InputStream in) {
        try (in) {
            return in.readAllBytes();
        } catch (IOException e) {
            return new byte[0];
        }
    }

    static void write(int fd, String s) throws ErrnoException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(b.length);
            m.copyFrom(MemorySegment.ofArray(b));
            Libc.write(fd, m, b.length);
        }
    }

    static String read(int fd, int max) throws ErrnoException {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(max);
            long n = Libc.read(fd, m, max);
            return new String(m.asSlice(0, n).toArray(java.lang.foreign.ValueLayout.JAVA_BYTE), StandardCharsets.UTF_8);
        }
    }

    /** Accepts one connection on {@code listener}, waiting at most 20 s. */
    static UnixSocket acceptOne(UnixSocket listener) throws IOException {
        assertTrue(listener.awaitReadable(20_000), "the client never connected");
        UnixSocket c = listener.accept();
        assertTrue(c != null, "connection vanished");
        return c;
    }

    static long openFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    @Test
    void withoutAStandbyItExits200AtOnceAndSaysNothing() throws Exception {
        Result r = finish(startClient(dir.resolve("nobody.sock"), Map.of(), dir, "vm", "run"), new byte[0]);
        assertEquals(new Result(200, "", ""), r);

        // A socket file nobody listens on any more (a standby killed with SIGKILL) is the same.
        Path stale = dir.resolve("stale.sock");
        UnixSocket.listen(stale, 1).close();
        assertTrue(Files.exists(stale));
        assertEquals(new Result(200, "", ""), finish(startClient(stale, Map.of(), dir, "vm", "run"), new byte[0]));
    }

    @Test
    void usageErrorsAreStatus2() throws Exception {
        Process p = new ProcessBuilder(agent.toString(), "--vmm-client", dir.resolve("x.sock").toString(), "vm").start();
        Result r = finish(p, new byte[0]);
        assertEquals(2, r.status());
        assertTrue(r.stderr().contains("usage"), r.stderr());
    }

    @Test
    void handsOverArgumentsEnvironmentWorkingDirectoryAndStdioThenExitsWithTheStatus() throws Exception {
        Path sock = dir.resolve("handover.sock");
        Path cwd = Files.createDirectories(dir.resolve("work dir"));
        try (UnixSocket listener = UnixSocket.listen(sock, 4)) {
            Process p = startClient(sock, Map.of("VESSEL_TIMING", "1", "VESSEL_ROOT", "/var/lib/x", "OTHER", "no"), cwd,
                    "vm", "run", "--cmdline", "console=ttyS0 a=b", "", "caf\u00e9");
            CompletableFuture<Result> result = CompletableFuture.supplyAsync(() -> {
                try {
                    return finish(p, "input line\n".getBytes(StandardCharsets.UTF_8));
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            try (UnixSocket conn = acceptOne(listener)) {
                UnixSocket.PeerCredentials peer = conn.peerCredentials();
                assertEquals(p.pid(), peer.pid());
                assertEquals(Libc.geteuid(), peer.uid());
                Handover got = Handover.receive(conn, 10_000);
                StandbyRequest req = got.request();
                assertEquals(List.of("vm", "run", "--cmdline", "console=ttyS0 a=b", "", "caf\u00e9"), req.args());
                assertEquals(Map.of("VESSEL_TIMING", "1", "VESSEL_ROOT", "/var/lib/x"), req.env());
                assertEquals(cwd.toRealPath().toString(), req.cwd());
                assertEquals(3, got.fds().length);
                conn.send(StandbyRequest.ACCEPTED, new int[0]);
                // The descriptors are the client's own stdin, stdout and stderr.
                assertEquals("input line\n", read(got.fds()[0], 100));
                write(got.fds()[1], "from the VMM on stdout\n");
                write(got.fds()[2], "from the VMM on stderr\n");
                UnixSocket.closeAll(got.fds());
                conn.send(StandbyRequest.encodeStatus(42), new int[0]);
            }
            Result r = result.get(30, TimeUnit.SECONDS);
            assertEquals(new Result(42, "from the VMM on stdout\n", "from the VMM on stderr\n"), r);
        }
    }

    @Test
    void aStandbyThatDeclinesMeans200AndNothingRan() throws Exception {
        Path sock = dir.resolve("decline.sock");
        try (UnixSocket listener = UnixSocket.listen(sock, 4)) {
            Process p = startClient(sock, Map.of(), dir, "vm", "run");
            try (UnixSocket conn = acceptOne(listener)) {
                UnixSocket.closeAll(Handover.receive(conn, 10_000).fds());
            }
            assertEquals(new Result(200, "", ""), finish(p, new byte[0]));
        }
    }

    @Test
    void aVmmThatEndsWithoutStatusOrSignalIs125WithAMessage() throws Exception {
        Path sock = dir.resolve("lost.sock");
        try (UnixSocket listener = UnixSocket.listen(sock, 4)) {
            Process p = startClient(sock, Map.of(), dir, "vm", "run");
            try (UnixSocket conn = acceptOne(listener)) {
                UnixSocket.closeAll(Handover.receive(conn, 10_000).fds());
                conn.send(StandbyRequest.ACCEPTED, new int[0]);
            }
            Result r = finish(p, new byte[0]);
            assertEquals(125, r.status(), r.toString());
            assertTrue(r.stderr().contains("without an exit status"), r.stderr());
        }
    }

    @Test
    void nonsenseFromTheStandbyIs125() throws Exception {
        for (byte[][] answers : new byte[][][] {{"HTTP".getBytes(StandardCharsets.US_ASCII)},
                {StandbyRequest.ACCEPTED, {0, 0, 1, 0}}}) {
            Path sock = dir.resolve("nonsense.sock");
            Files.deleteIfExists(sock);
            try (UnixSocket listener = UnixSocket.listen(sock, 4)) {
                Process p = startClient(sock, Map.of(), dir, "vm", "run");
                try (UnixSocket conn = acceptOne(listener)) {
                    UnixSocket.closeAll(Handover.receive(conn, 10_000).fds());
                    for (byte[] a : answers) {
                        conn.send(a, new int[0]);
                    }
                    Result r = finish(p, new byte[0]);
                    assertEquals(125, r.status(), r.toString());
                    assertFalse(r.stderr().isEmpty());
                }
            }
        }
    }

    /**
     * Signals go to the pid SO_PEERCRED names: this JVM here. SIGHUP is the one of the three it can
     * take without ending the test run; INT and TERM take the same path (and the integration tests
     * send TERM through a real standby).
     */
    @Test
    @SuppressWarnings("removal")
    void signalsAreForwardedOnceTheStandbyTookTheCommandAndEndItWith128PlusN() throws Exception {
        // A JVM started with SIGHUP ignored (under nohup) keeps it ignored: no handler of its own can take it.
        org.junit.jupiter.api.Assumptions.assumeFalse(hupIgnored(),
                "this JVM was started with SIGHUP ignored (nohup?), so it cannot receive the forwarded SIGHUP");
        CountDownLatch hup = new CountDownLatch(1);
        sun.misc.Signal sighup = new sun.misc.Signal("HUP");
        sun.misc.SignalHandler previous = sun.misc.Signal.handle(sighup, s -> hup.countDown());
        try {
            // Before the standby took it: nothing is forwarded, the client stops, nothing ran.
            Path early = dir.resolve("early.sock");
            try (UnixSocket listener = UnixSocket.listen(early, 4)) {
                Process p = startClient(early, Map.of(), dir, "vm", "run");
                try (UnixSocket conn = acceptOne(listener)) {
                    UnixSocket.closeAll(Handover.receive(conn, 10_000).fds());
                    kill("HUP", p.pid());
                    assertEquals(129, finish(p, new byte[0]).status());
                    assertFalse(hup.await(500, TimeUnit.MILLISECONDS), "forwarded before the standby took the command");
                    byte[] b = new byte[1];
                    assertEquals(0, conn.receive(b, 0, 1, 0).bytes(), "the client closed the connection");
                }
            }

            // After: forwarded to the standby, whose end (no status) makes the client exit 128+1.
            Path sock = dir.resolve("signals.sock");
            try (UnixSocket listener = UnixSocket.listen(sock, 4)) {
                Process p = startClient(sock, Map.of(), dir, "vm", "run");
                try (UnixSocket conn = acceptOne(listener)) {
                    UnixSocket.closeAll(Handover.receive(conn, 10_000).fds());
                    conn.send(StandbyRequest.ACCEPTED, new int[0]);
                    // The client may still be between reading the answer and forwarding: repeat until it arrives.
                    // Bounded by time, not by tries: on a loaded host each `kill` process can take long to start.
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                    while (hup.getCount() > 0 && System.nanoTime() < deadline) {
                        kill("HUP", p.pid());
                        hup.await(100, TimeUnit.MILLISECONDS);
                    }
                    assertEquals(0, hup.getCount(), "SIGHUP never reached the standby");
                    assertTrue(p.isAlive(), "the client waits for the VMM after forwarding");
                }
                assertEquals(129, finish(p, new byte[0]).status());
            }
        } finally {
            sun.misc.Signal.handle(sighup, previous);
        }
    }

    /** Whether SigIgn in /proc/self/status has SIGHUP (signal 1). */
    static boolean hupIgnored() throws IOException {
        for (String line : java.nio.file.Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("SigIgn:")) {
                return (Long.parseUnsignedLong(line.substring(7).strip(), 16) & 1L) != 0;
            }
        }
        return false;
    }

    static void kill(String sig, long pid) throws Exception {
        assertEquals(0, new ProcessBuilder("kill", "-" + sig, Long.toString(pid)).start().waitFor());
    }

    // ---- the standby's side: what it accepts of a request ----

    /** A connected pair: [0] the client end, [1] the standby end. */
    static UnixSocket[] pair(String name) throws IOException {
        Path p = dir.resolve(name);
        Files.deleteIfExists(p);
        try (UnixSocket listener = UnixSocket.listen(p, 1)) {
            UnixSocket client = UnixSocket.connect(p);
            return new UnixSocket[] {client, acceptOne(listener)};
        }
    }

    static int[] files(int n) throws ErrnoException {
        int[] fds = new int[n];
        for (int i = 0; i < n; i++) {
            fds[i] = Libc.open(dir.resolve("stdio" + i).toString(), Libc.O_RDWR | Libc.O_CREAT | Libc.O_CLOEXEC, 0600);
        }
        return fds;
    }

    @Test
    void theStandbyTakesARequestWithExactlyThreeDescriptorsOnItsFirstBytes() throws Exception {
        byte[] wire = StandbyRequestTest.RUN.encode();
        int[] stdio = files(3);
        UnixSocket[] s = pair("ok.sock");
        try {
            s[0].send(Arrays.copyOf(wire, 3), stdio); // a short first piece still carries them
            s[0].send(Arrays.copyOfRange(wire, 3, wire.length), new int[0]);
            Handover r = Handover.receive(s[1], 5_000);
            assertEquals(StandbyRequestTest.RUN, r.request());
            assertEquals(3, r.fds().length);
            UnixSocket.closeAll(r.fds());
        } finally {
            s[0].close();
            s[1].close();
            UnixSocket.closeAll(stdio);
        }
    }

    @Test
    void theStandbyDropsBadRequestsAndClosesWhateverDescriptorsCame() throws Exception {
        byte[] wire = StandbyRequestTest.RUN.encode();
        byte[] header = Arrays.copyOf(wire, StandbyRequest.HEADER_SIZE);
        byte[] payload = Arrays.copyOfRange(wire, StandbyRequest.HEADER_SIZE, wire.length);
        int[] stdio = files(4);
        try {
            long before = openFds();
            List<List<Object>> cases = List.of(
                    List.of("two descriptors", wire, Arrays.copyOf(stdio, 2)),
                    List.of("four descriptors", wire, stdio),
                    List.of("no descriptors", wire, new int[0]),
                    List.of("bad magic", concat("XXXX".getBytes(StandardCharsets.US_ASCII), Arrays.copyOfRange(wire, 4, wire.length)),
                            Arrays.copyOf(stdio, 3)),
                    List.of("truncated", Arrays.copyOf(wire, wire.length - 5), Arrays.copyOf(stdio, 3)),
                    List.of("malformed payload", concat(Arrays.copyOf(header, 8), bad(payload)), Arrays.copyOf(stdio, 3)));
            for (List<Object> c : cases) {
                UnixSocket[] s = pair("bad.sock");
                try {
                    s[0].send((byte[]) c.get(1), (int[]) c.get(2));
                    if (c.get(0).equals("truncated")) {
                        s[0].close(); // end of stream in the middle
                    }
                    assertThrows(StandbyRequest.BadRequest.class, () -> Handover.receive(s[1], 2_000),
                            (String) c.get(0));
                } catch (IOException e) {
                    // "four descriptors": the receive itself refuses them; fine as well.
                    assertEquals("four descriptors", c.get(0), e.toString());
                } finally {
                    s[0].close();
                    s[1].close();
                }
                assertEquals(before, openFds(), "descriptors left open after: " + c.get(0));
            }

            // Descriptors that come after the first bytes, and a client that stops half-way (time limit).
            UnixSocket[] s = pair("late.sock");
            try {
                s[0].send(header, new int[0]);
                s[0].send(payload, Arrays.copyOf(stdio, 3));
                assertThrows(StandbyRequest.BadRequest.class, () -> Handover.receive(s[1], 2_000));
            } finally {
                s[0].close();
                s[1].close();
            }
            UnixSocket[] slow = pair("slow.sock");
            try {
                slow[0].send(header, Arrays.copyOf(stdio, 3));
                long t0 = System.nanoTime();
                assertThrows(StandbyRequest.BadRequest.class, () -> Handover.receive(slow[1], 300));
                assertTrue(System.nanoTime() - t0 < 5_000_000_000L);
            } finally {
                slow[0].close();
                slow[1].close();
            }
            assertEquals(before, openFds(), "descriptors left open");
        } finally {
            UnixSocket.closeAll(stdio);
        }
    }

    static byte[] concat(byte[] a, byte[] b) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.writeBytes(a);
        o.writeBytes(b);
        return o.toByteArray();
    }

    /** The same length, but an entry without '='. */
    static byte[] bad(byte[] payload) {
        byte[] b = payload.clone();
        for (int i = 0; i < b.length; i++) {
            if (b[i] == '=') {
                b[i] = '_';
                break;
            }
        }
        return b;
    }
}
