package dev.vessel.sys;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

@Timeout(30)
class UnixSocketTest {
    @TempDir
    Path dir;

    static long openFds() throws IOException {
        try (Stream<Path> s = Files.list(Path.of("/proc/self/fd"))) {
            return s.count();
        }
    }

    static int openFile(Path p) throws ErrnoException {
        return Libc.open(p.toString(), Libc.O_RDWR | Libc.O_CREAT | Libc.O_CLOEXEC, 0600);
    }

    static void write(int fd, String s) throws ErrnoException {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        try (Arena a = Arena.ofConfined()) {
            MemorySegment m = a.allocate(b.length);
            m.copyFrom(MemorySegment.ofArray(b));
            Libc.write(fd, m, b.length);
        }
    }

    @Test
    void connectsAcceptsAndKnowsThePeer() throws Exception {
        Path p = dir.resolve("s.sock");
        try (UnixSocket listener = UnixSocket.listen(p, 4)) {
            assertNull(listener.accept(), "nothing pending on a non-blocking listener");
            assertFalse(listener.awaitReadable(0));
            try (UnixSocket client = UnixSocket.connect(p)) {
                assertTrue(listener.awaitReadable(5000));
                try (UnixSocket server = listener.accept()) {
                    assertNotNull(server);
                    UnixSocket.PeerCredentials peer = server.peerCredentials();
                    assertEquals(ProcessHandle.current().pid(), peer.pid());
                    assertEquals(Libc.geteuid(), peer.uid());
                    assertEquals(peer, client.peerCredentials());

                    client.send("hello".getBytes(StandardCharsets.US_ASCII), new int[0]);
                    byte[] buf = new byte[16];
                    UnixSocket.Received r = server.receive(buf, 3, 10, 4);
                    assertEquals(5, r.bytes());
                    assertEquals(0, r.fds().length);
                    assertEquals("hello", new String(buf, 3, 5, StandardCharsets.US_ASCII));
                }
                byte[] buf = new byte[4];
                assertEquals(0, client.receive(buf, 0, 4, 0).bytes(), "end of stream once the server side closed");
            }
        }
    }

    @Test
    void passesDescriptorsThatReferToTheSameFiles() throws Exception {
        Path p = dir.resolve("fds.sock");
        Path a = dir.resolve("a.txt");
        Path b = dir.resolve("b.txt");
        int fa = openFile(a);
        int fb = openFile(b);
        try (UnixSocket listener = UnixSocket.listen(p, 4); UnixSocket client = UnixSocket.connect(p)) {
            assertTrue(listener.awaitReadable(5000));
            try (UnixSocket server = listener.accept()) {
                client.send(new byte[] {1, 2, 3}, new int[] {fa, fb});
                byte[] buf = new byte[3];
                UnixSocket.Received r = server.receive(buf, 0, 3, 8);
                assertEquals(3, r.bytes());
                assertArrayEquals(new byte[] {1, 2, 3}, buf);
                assertEquals(2, r.fds().length);
                assertNotEquals(fa, r.fds()[0]);
                write(r.fds()[0], "via a");
                write(r.fds()[1], "via b");
                assertEquals("via a", Files.readString(a));
                assertEquals("via b", Files.readString(b));
                String flags = Files.readAllLines(Path.of("/proc/self/fdinfo/" + r.fds()[0])).stream()
                        .filter(l -> l.startsWith("flags:")).findFirst().orElseThrow();
                assertTrue((Integer.parseInt(flags.substring(6).strip(), 8) & Libc.O_CLOEXEC) != 0,
                        "received descriptors are close-on-exec: " + flags);
                UnixSocket.closeAll(r.fds());
            }
        } finally {
            UnixSocket.closeAll(fa, fb);
        }
    }

    @Test
    void tooManyDescriptorsAreAllClosedAndReported() throws Exception {
        Path p = dir.resolve("many.sock");
        int[] fds = new int[5];
        for (int i = 0; i < fds.length; i++) {
            fds[i] = openFile(dir.resolve("f" + i));
        }
        try (UnixSocket listener = UnixSocket.listen(p, 4); UnixSocket client = UnixSocket.connect(p)) {
            assertTrue(listener.awaitReadable(5000));
            try (UnixSocket server = listener.accept()) {
                long before = openFds();
                client.send(new byte[] {9}, fds);
                assertThrows(IOException.class, () -> server.receive(new byte[1], 0, 1, 2));
                assertEquals(before, openFds(), "no received descriptor is left open");

                client.send(new byte[] {8}, new int[] {fds[0]});
                assertThrows(IOException.class, () -> server.receive(new byte[1], 0, 1, 0),
                        "descriptors where none are expected");
                assertEquals(before, openFds());
            }
        } finally {
            UnixSocket.closeAll(fds);
        }
    }

    @Test
    void rejectsPathsThatDoNotFitSunPath() {
        Path longPath = dir.resolve("x".repeat(UnixSocket.MAX_PATH_BYTES));
        assertThrows(IllegalArgumentException.class, () -> UnixSocket.listen(longPath, 1));
        assertThrows(ErrnoException.class, () -> UnixSocket.connect(dir.resolve("nobody.sock")));
    }

    @Test
    void bindingAnExistingPathFails() throws Exception {
        Path p = dir.resolve("taken.sock");
        Files.writeString(p, "");
        ErrnoException e = assertThrows(ErrnoException.class, () -> UnixSocket.listen(p, 1));
        assertEquals(98, e.errno(), "EADDRINUSE");
    }
}
