package dev.vessel.devices.block.nbd;

import dev.vessel.devices.block.FileBackend;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NbdTest {
    @TempDir
    Path dir;

    static InetSocketAddress loopback(int port) {
        return new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
    }

    Path image(int size) throws IOException {
        byte[] b = new byte[size];
        for (int i = 0; i < size; i++) {
            b[i] = (byte) (i * 31);
        }
        return Files.write(dir.resolve("disk.img"), b);
    }

    @Test
    void clientAndServerMoveBytesBothWays() throws Exception {
        Path img = image(3 << 20);
        try (FileBackend file = FileBackend.open(img, false);
             NbdServer server = new NbdServer(file, loopback(0)).start();
             NbdClient client = NbdClient.connect(loopback(server.port()), "");
             Arena arena = Arena.ofConfined()) {
            assertEquals(3 << 20, client.size());
            MemorySegment buf = arena.allocate(1 << 20);
            client.read(1 << 20, buf);
            assertEquals((byte) ((1 << 20) * 31 + 5 * 31), buf.get(ValueLayout.JAVA_BYTE, 5));
            buf.fill((byte) 0x5a);
            client.write(4096, buf.asSlice(0, 8192));
            client.flush();
            byte[] onDisk = Files.readAllBytes(img);
            assertEquals(0x5a, onDisk[4096]);
            assertEquals(0x5a, onDisk[4096 + 8191]);
            assertEquals((byte) ((4096 + 8192) * 31), onDisk[4096 + 8192]);
            assertThrows(IOException.class, () -> client.read((3 << 20) - 10, arena.allocate(20)), "read past the end");
            // The connection survives a refused request.
            client.read(0, buf.asSlice(0, 16));
            assertEquals((byte) 31, buf.get(ValueLayout.JAVA_BYTE, 1));
        }
    }

    @Test
    void aNamedExportIsServedOnlyUnderItsName() throws Exception {
        Path img = image(1 << 20);
        try (FileBackend file = FileBackend.open(img, false);
             NbdServer server = new NbdServer(file, loopback(0), "s3cret").start()) {
            IOException e = assertThrows(IOException.class, () -> NbdClient.connect(loopback(server.port()), "guess"));
            assertTrue(e.getMessage().contains("refused export"), e.getMessage());
            try (NbdClient client = NbdClient.connect("nbd://127.0.0.1:" + server.port() + "/s3cret")) {
                assertEquals(1 << 20, client.size());
            }
        }
    }

    @Test
    void readOnlyExportRefusesWrites() throws Exception {
        Path img = image(1 << 20);
        try (FileBackend file = FileBackend.open(img, true);
             NbdServer server = new NbdServer(file, loopback(0)).start();
             NbdClient client = NbdClient.connect(loopback(server.port()), "");
             Arena arena = Arena.ofConfined()) {
            assertTrue(client.readOnly());
            assertThrows(IOException.class, () -> client.write(0, arena.allocate(512)));
        }
    }

    @Test
    void garbageFromAClientEndsOnlyThatConnection() throws Exception {
        Path img = image(1 << 20);
        try (FileBackend file = FileBackend.open(img, false);
             NbdServer server = new NbdServer(file, loopback(0)).start()) {
            try (SocketChannel bad = SocketChannel.open(loopback(server.port()))) {
                NbdServer.read(bad, 18);
                bad.write(ByteBuffer.allocate(4).putInt(1).flip());
                // An option with an absurd length.
                bad.write(ByteBuffer.allocate(16).putLong(Nbd.IHAVEOPT).putInt(Nbd.OPT_GO).putInt(Integer.MAX_VALUE).flip());
                ByteBuffer sink = ByteBuffer.allocate(64);
                while (bad.read(sink) >= 0) {
                    sink.clear();
                }
            }
            try (NbdClient client = NbdClient.connect(loopback(server.port()), "")) {
                assertEquals(1 << 20, client.size());
            }
        }
    }

    /** Interoperability: QEMU's own NBD tools against Vessel's server and client. */
    @Test
    void qemuToolsSpeakToTheServerAndTheClientSpeaksToQemuNbd() throws Exception {
        for (String tool : List.of("qemu-io", "qemu-nbd")) {
            assertTrue(dev.vessel.host.HostCommand.available(tool),
                    tool + " is needed for the NBD interoperability test: apt-get install qemu-utils");
        }
        Path img = image(1 << 20);
        try (FileBackend file = FileBackend.open(img, false);
             NbdServer server = new NbdServer(file, loopback(0)).start()) {
            String out = dev.vessel.host.HostCommand.run(null, List.of("qemu-io", "-f", "raw",
                    "-c", "write -P 0x7e 65536 4096", "-c", "read -P 0x7e 65536 4096",
                    "nbd://127.0.0.1:" + server.port()));
            assertTrue(out.contains("wrote 4096/4096") && out.contains("read 4096/4096"), out);
        }
        assertEquals(0x7e, Files.readAllBytes(img)[65536]);

        int port;
        try (var s = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        // --fork: qemu-nbd returns once it listens, so no waiting or retrying is needed.
        Path pidFile = dir.resolve("qemu-nbd.pid");
        dev.vessel.host.HostCommand.run(null, List.of("qemu-nbd", "--fork", "--pid-file", pidFile.toString(),
                "-f", "raw", "-b", "127.0.0.1", "-p", Integer.toString(port), "-x", "vessel", img.toString()));
        ProcessHandle qemuNbd = ProcessHandle.of(Long.parseLong(Files.readString(pidFile).strip())).orElseThrow();
        try {
            try (NbdClient client = NbdClient.connect(loopback(port), "vessel"); Arena arena = Arena.ofConfined()) {
                MemorySegment buf = arena.allocate(4096);
                client.read(65536, buf);
                assertEquals(0x7e, buf.get(ValueLayout.JAVA_BYTE, 10));
                buf.fill((byte) 0x11);
                client.write(0, buf);
                client.flush();
            }
            assertEquals(0x11, Files.readAllBytes(img)[0]);
        } finally {
            qemuNbd.destroy();
            qemuNbd.onExit().get(10, TimeUnit.SECONDS);
        }
    }
}
