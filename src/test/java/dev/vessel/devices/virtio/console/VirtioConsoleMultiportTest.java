package dev.vessel.devices.virtio.console;

import static dev.vessel.devices.virtio.console.ConsoleRig.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.devices.virtio.VirtioFeatures;
import dev.vessel.devices.virtio.VirtioStatus;
import dev.vessel.devices.virtio.console.ConsoleRig.DriverQueue;
import dev.vessel.devices.virtio.console.ConsoleRig.Used;
import dev.vessel.devices.virtio.console.VirtioConsoleTest.SyncBytes;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** MULTIPORT: the control handshake as Linux's driver does it, named ports, malformed messages. */
class VirtioConsoleMultiportTest {
    static final long ALL = -1L;
    static final int BAD_ID = 0xFFFF_FFFF;

    @TempDir
    Path dir;

    final SyncBytes console = new SyncBytes();
    final SyncBytes agentOut = new SyncBytes();
    PipedOutputStream agentIn;
    ConsoleRig rig;

    @AfterEach
    void tearDown() {
        if (rig != null) {
            rig.close();
        }
    }

    /** The console plus "vessel.agent" on a pair of streams, driver initialised, control buffers posted. */
    ConsoleRig withAgent() throws IOException {
        agentIn = new PipedOutputStream();
        InputStream in = new PipedInputStream(agentIn, 1 << 16);
        Map<String, PortBackend> ports = new LinkedHashMap<>();
        ports.put("vessel.agent", new StreamPortBackend(in, agentOut));
        rig = new ConsoleRig(new VirtioConsole(console, ports));
        rig.init(ALL);
        rig.q(VirtioConsole.CONTROL_RECEIVEQ).post(8, 4096);
        rig.q(VirtioConsole.CONTROL_RECEIVEQ).kick();
        return rig;
    }

    static byte[] msg(int id, int event, int value) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putInt(id).putShort((short) event)
                .putShort((short) value).array();
    }

    /** The driver sends a control message (and the device handles it before this returns). */
    void driverSends(byte[] message) {
        DriverQueue c = rig.q(VirtioConsole.CONTROL_TRANSMITQ);
        c.send(message);
        c.kick();
        List<Used> used = c.takeUsed();
        assertEquals(1, used.size(), "control message returned");
        assertEquals(0, used.get(0).length());
    }

    /** What the device sent since the last call, as "EVENT id value [payload]" strings; reposts the buffers. */
    List<String> deviceSent() {
        DriverQueue c = rig.q(VirtioConsole.CONTROL_RECEIVEQ);
        List<String> out = new ArrayList<>();
        for (Used u : c.takeUsed()) {
            assertTrue(u.length() >= 8, "control message of " + u.length() + " bytes");
            ByteBuffer b = ByteBuffer.wrap(u.data()).order(ByteOrder.LITTLE_ENDIAN);
            int id = b.getInt();
            int event = Short.toUnsignedInt(b.getShort());
            int value = Short.toUnsignedInt(b.getShort());
            String s = ControlMessage.eventName(event) + " " + id + " " + value;
            if (event == ControlMessage.PORT_NAME) {
                s += " " + new String(u.data(), 8, u.length() - 8, StandardCharsets.UTF_8);
            } else if (event == ControlMessage.RESIZE) {
                s += " " + Short.toUnsignedInt(b.getShort()) + "x" + Short.toUnsignedInt(b.getShort());
            }
            out.add(s);
            c.post(4096);
        }
        c.kick();
        return out;
    }

    /** Linux's sequence up to the point where both ports are ready. */
    void handshake() {
        driverSends(msg(BAD_ID, ControlMessage.DEVICE_READY, 1));
        assertEquals(List.of("PORT_ADD 0 0", "PORT_ADD 1 0"), deviceSent());
        // add_port(0): fill its receiveq, then PORT_READY
        rig.q(0).post(4, 4096);
        rig.q(0).kick();
        driverSends(msg(0, ControlMessage.PORT_READY, 1));
        assertEquals(List.of("CONSOLE_PORT 0 1", "PORT_OPEN 0 1"), deviceSent());
        // init_port_console: the guest has the console open
        driverSends(msg(0, ControlMessage.PORT_OPEN, 1));
        rig.q(4).post(4, 4096);
        rig.q(4).kick();
        driverSends(msg(1, ControlMessage.PORT_READY, 1));
        assertEquals(List.of("PORT_NAME 1 0 vessel.agent", "PORT_OPEN 1 1"), deviceSent());
    }

    @Test
    void offersMultiportWithTheControlQueuesAndMaxNrPorts() throws IOException {
        withAgent();
        assertTrue(VirtioFeatures.has(rig.offeredFeatures(), VirtioConsole.F_MULTIPORT));
        assertEquals(6, rig.device.queueCount());
        assertEquals(2, rig.configU32(VirtioConsole.CONFIG_MAX_NR_PORTS));
        assertEquals(VirtioConsole.CONTROL_QUEUE_SIZE, rig.q(2).size);
    }

    @Test
    void theControlHandshakeAnnouncesTheConsoleAndTheNamedPort() throws Exception {
        withAgent();
        handshake();
        assertTrue(rig.device.console().isGuestConnected());
        assertFalse(rig.device.ports().get(1).isGuestConnected(), "nobody in the guest opened vport0p1 yet");
        // Console output and input work as without MULTIPORT.
        rig.q(1).send("hello\n".getBytes(StandardCharsets.US_ASCII));
        rig.q(1).kick();
        await("console output", () -> console.text().equals("hello\n"));
        rig.device.console().receiveBlocking("ls\n".getBytes(StandardCharsets.US_ASCII), 0, 3);
        List<Used> in = rig.q(0).takeUsed();
        assertEquals(1, in.size());
        assertEquals("ls\n", new String(in.get(0).data(), StandardCharsets.US_ASCII));
        assertEquals(0, rig.status() & VirtioStatus.DEVICE_NEEDS_RESET);
    }

    @Test
    void aNamedPortDeliversOnlyWhileTheGuestHasItOpen() throws Exception {
        withAgent();
        handshake();
        DriverQueue rx = rig.q(4);
        DriverQueue tx = rig.q(5);
        agentIn.write("ping\n".getBytes(StandardCharsets.US_ASCII));
        agentIn.flush();
        await("host input held", () -> rig.device.heldInput(1) == 5);
        assertEquals(0, rx.takeUsed().size(), "the guest does not have the port open: Linux would discard it");

        driverSends(msg(1, ControlMessage.PORT_OPEN, 1)); // open("/dev/vport0p1")
        assertTrue(rig.device.ports().get(1).isGuestConnected());
        List<Used> got = rx.takeUsed();
        assertEquals(1, got.size());
        assertEquals("ping\n", new String(got.get(0).data(), StandardCharsets.US_ASCII));

        tx.send("pong\n".getBytes(StandardCharsets.US_ASCII));
        tx.kick();
        await("guest output on the port", () -> agentOut.text().equals("pong\n"));
        assertEquals("", console.text(), "nothing of the named port on the console");

        driverSends(msg(1, ControlMessage.PORT_OPEN, 0)); // close()
        assertFalse(rig.device.ports().get(1).isGuestConnected());
        rx.post(1, 4096);
        rx.kick();
        agentIn.write("later".getBytes(StandardCharsets.US_ASCII));
        agentIn.flush();
        await("held again", () -> rig.device.heldInput(1) == 5);
        assertEquals(0, rx.takeUsed().size());
        driverSends(msg(1, ControlMessage.PORT_OPEN, 1));
        got = rx.takeUsed();
        assertEquals("later", new String(got.get(0).data(), StandardCharsets.US_ASCII));

        agentIn.close(); // the host side ends
        await("PORT_OPEN 0 for the host side", () -> deviceSentContains("PORT_OPEN 1 0"));
    }

    private final List<String> seen = new ArrayList<>();

    private boolean deviceSentContains(String m) {
        seen.addAll(deviceSent());
        return seen.contains(m);
    }

    @Test
    void malformedControlMessagesAreIgnoredSafely() throws Exception {
        withAgent();
        DriverQueue c = rig.q(VirtioConsole.CONTROL_TRANSMITQ);
        // Before DEVICE_READY nothing is added: port messages are out of turn.
        driverSends(msg(0, ControlMessage.PORT_READY, 1));
        driverSends(msg(1, ControlMessage.PORT_OPEN, 1));
        c.send(new byte[] {0, 0, 0}); // short
        c.send(new byte[0 + 7]);
        c.kick();
        assertEquals(2, c.takeUsed().size());
        driverSends(msg(BAD_ID, ControlMessage.DEVICE_READY, 0)); // the driver failed: nothing to do
        driverSends(msg(0, 99, 1)); // unknown event
        driverSends(msg(0, ControlMessage.PORT_ADD, 1)); // a device-to-driver event from the driver
        assertEquals(List.of(), deviceSent());

        driverSends(msg(BAD_ID, ControlMessage.DEVICE_READY, 1));
        assertEquals(List.of("PORT_ADD 0 0", "PORT_ADD 1 0"), deviceSent());
        driverSends(msg(BAD_ID, ControlMessage.DEVICE_READY, 1)); // again: no duplicate ports
        driverSends(msg(7, ControlMessage.PORT_READY, 1)); // no such port
        driverSends(msg(BAD_ID, ControlMessage.PORT_READY, 1));
        driverSends(msg(0x8000_0000, ControlMessage.PORT_OPEN, 1));
        driverSends(msg(1, ControlMessage.PORT_OPEN, 1)); // not ready yet
        driverSends(msg(0, ControlMessage.PORT_READY, 2)); // value must be 0 or 1
        byte[] longMessage = new byte[64];
        System.arraycopy(msg(0, 98, 0), 0, longMessage, 0, 8);
        driverSends(longMessage);
        assertEquals(List.of(), deviceSent());
        assertFalse(rig.device.ports().get(1).isGuestConnected());

        // The device still works: the real handshake goes through.
        driverSends(msg(0, ControlMessage.PORT_READY, 1));
        assertEquals(List.of("CONSOLE_PORT 0 1", "PORT_OPEN 0 1"), deviceSent());
        driverSends(msg(0, ControlMessage.PORT_READY, 1)); // repeated: nothing new
        assertEquals(List.of(), deviceSent());
        assertEquals(0, rig.status() & VirtioStatus.DEVICE_NEEDS_RESET, rig.transport.lastError());
    }

    @Test
    void controlMessagesWaitForControlBuffersAndAreBounded() throws Exception {
        agentIn = new PipedOutputStream();
        Map<String, PortBackend> ports = new LinkedHashMap<>();
        ports.put("vessel.agent", new StreamPortBackend(new PipedInputStream(agentIn), agentOut));
        rig = new ConsoleRig(new VirtioConsole(console, ports));
        rig.init(ALL);
        driverSends(msg(BAD_ID, ControlMessage.DEVICE_READY, 1)); // no control receive buffers yet
        assertEquals(List.of(), deviceSent());
        DriverQueue c = rig.q(VirtioConsole.CONTROL_RECEIVEQ);
        c.post(1, 4096);
        c.kick();
        assertEquals(List.of("PORT_ADD 0 0"), deviceSent().subList(0, 1));
        // deviceSent reposted a buffer and kicked: the second one followed.
        assertEquals(List.of("PORT_ADD 1 0"), deviceSent());

        // A driver that never reads control messages cannot make the device queue without bound.
        for (int i = 0; i < VirtioConsole.MAX_PENDING_CONTROL + 50; i++) {
            rig.device.ports().get(1).setHostConnected(i % 2 == 0);
        }
        driverSends(msg(1, ControlMessage.PORT_READY, 1));
        driverSends(msg(0, ControlMessage.PORT_READY, 1));
        for (int i = 0; i < 2 * VirtioConsole.MAX_PENDING_CONTROL; i++) {
            rig.device.ports().get(1).setHostConnected(i % 2 == 0);
        }
        c.post(8, 4096);
        c.kick();
        int total = 0;
        for (int round = 0; round < 100; round++) {
            List<String> got = deviceSent();
            total += got.size();
            if (got.isEmpty()) {
                break;
            }
        }
        assertTrue(total <= VirtioConsole.MAX_PENDING_CONTROL + 8, total + " messages");
        assertEquals(0, rig.status() & VirtioStatus.DEVICE_NEEDS_RESET);
    }

    @Test
    void tooSmallControlBuffersLoseTheMessageNotTheDevice() throws Exception {
        rig = new ConsoleRig(new VirtioConsole(console, Map.of(), true));
        rig.init(ALL);
        DriverQueue c = rig.q(VirtioConsole.CONTROL_RECEIVEQ);
        c.post(4);
        c.post(4096);
        c.kick();
        driverSends(msg(BAD_ID, ControlMessage.DEVICE_READY, 1));
        List<Used> used = c.takeUsed();
        assertEquals(1, used.size());
        assertEquals(0, used.get(0).length());
        assertEquals(0, rig.status() & VirtioStatus.DEVICE_NEEDS_RESET);
    }

    @Test
    void resizeSendsAResizeMessageForTheConsole() throws Exception {
        withAgent();
        rig.device.resize(120, 40);
        handshakeExpectingResize();
        rig.device.resize(80, 25);
        assertEquals(List.of("RESIZE 0 0 80x25"), deviceSent());
    }

    private void handshakeExpectingResize() {
        driverSends(msg(BAD_ID, ControlMessage.DEVICE_READY, 1));
        deviceSent();
        driverSends(msg(0, ControlMessage.PORT_READY, 1));
        assertEquals(List.of("CONSOLE_PORT 0 1", "RESIZE 0 0 120x40", "PORT_OPEN 0 1"), deviceSent());
    }

    @Test
    void aUnixSocketIsTheHostSideOfANamedPort() throws Exception {
        Path sock = dir.resolve("agent.sock");
        Files.writeString(dir.resolve("x"), ""); // a plain file elsewhere does not matter
        Map<String, PortBackend> ports = new LinkedHashMap<>();
        ports.put("vessel.agent", new UnixSocketPortBackend(sock));
        rig = new ConsoleRig(new VirtioConsole(console, ports));
        rig.init(ALL);
        rig.q(VirtioConsole.CONTROL_RECEIVEQ).post(8, 4096);
        rig.q(VirtioConsole.CONTROL_RECEIVEQ).kick();
        driverSends(msg(BAD_ID, ControlMessage.DEVICE_READY, 1));
        deviceSent();
        rig.q(4).post(4, 4096);
        rig.q(4).kick();
        driverSends(msg(1, ControlMessage.PORT_READY, 1));
        assertEquals(List.of("PORT_NAME 1 0 vessel.agent"), deviceSent(), "no client yet: the host side is closed");
        driverSends(msg(1, ControlMessage.PORT_OPEN, 1));

        try (SocketChannel client = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            client.connect(UnixDomainSocketAddress.of(sock));
            await("PORT_OPEN 1 1", () -> deviceSentContains("PORT_OPEN 1 1"));
            client.write(ByteBuffer.wrap("hello guest".getBytes(StandardCharsets.US_ASCII)));
            List<Used> got = new ArrayList<>();
            await("delivery", () -> {
                got.addAll(rig.q(4).takeUsed());
                return got.stream().mapToInt(Used::length).sum() == 11;
            });
            StringBuilder sb = new StringBuilder();
            got.forEach(u -> sb.append(new String(u.data(), StandardCharsets.US_ASCII)));
            assertEquals("hello guest", sb.toString());

            rig.q(5).send("hello host".getBytes(StandardCharsets.US_ASCII));
            rig.q(5).kick();
            ByteBuffer reply = ByteBuffer.allocate(10);
            while (reply.hasRemaining()) {
                assertTrue(client.read(reply) >= 0);
            }
            assertEquals("hello host", new String(reply.array(), StandardCharsets.US_ASCII));
        }
        await("PORT_OPEN 1 0 after the client left", () -> deviceSentContains("PORT_OPEN 1 0"));
        assertFalse(rig.device.ports().get(1).isHostConnected());
        rig.close();
        rig = null;
        assertFalse(Files.exists(sock), "the socket file is removed on close");
    }

    @Test
    void aStaleSocketFileIsReplacedButNotAnyOtherFile() throws Exception {
        Path file = dir.resolve("not-a-socket");
        Files.writeString(file, "data");
        Map<String, PortBackend> ports = Map.of("p", new UnixSocketPortBackend(file));
        assertThrowsIo(() -> new VirtioConsole(console, ports));
        assertEquals("data", Files.readString(file));
    }

    interface IoAction {
        void run() throws IOException;
    }

    static void assertThrowsIo(IoAction a) {
        try {
            a.run();
        } catch (IOException e) {
            return;
        }
        throw new AssertionError("expected an IOException");
    }

    @Test
    void streamBackendWithoutInputIsAnAlwaysConnectedOutputPort() throws Exception {
        SyncBytes log = new SyncBytes();
        Map<String, PortBackend> ports = Map.of("vessel.log", new StreamPortBackend(null, log));
        rig = new ConsoleRig(new VirtioConsole(console, ports));
        assertTrue(rig.device.ports().get(1).isHostConnected());
        rig.init(ALL);
        rig.q(VirtioConsole.CONTROL_RECEIVEQ).post(8, 4096);
        rig.q(VirtioConsole.CONTROL_RECEIVEQ).kick();
        driverSends(msg(BAD_ID, ControlMessage.DEVICE_READY, 1));
        deviceSent();
        driverSends(msg(1, ControlMessage.PORT_READY, 1));
        assertEquals(List.of("PORT_NAME 1 0 vessel.log", "PORT_OPEN 1 1"), deviceSent());
        rig.q(5).send(new byte[] {1, 2, 3});
        rig.q(5).kick();
        await("log output", () -> log.size() == 3);
        assertArrayEquals(new byte[] {1, 2, 3}, log.toByteArray());
    }

    @Test
    void forcedMultiportWithoutNamedPortsHasOnlyTheConsole() throws Exception {
        rig = new ConsoleRig(new VirtioConsole(OutputStream.nullOutputStream(), Map.of(), true));
        assertEquals(4, rig.device.queueCount());
        rig.init(ALL);
        rig.q(2).post(4, 4096);
        rig.q(2).kick();
        driverSends(msg(BAD_ID, ControlMessage.DEVICE_READY, 1));
        assertEquals(List.of("PORT_ADD 0 0"), deviceSent());
    }
}
