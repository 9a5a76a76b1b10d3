package dev.vessel.devices.virtio.console;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.devices.virtio.VirtioStatus;
import dev.vessel.devices.virtio.console.ConsoleRig.DriverQueue;
import dev.vessel.devices.virtio.console.ConsoleRig.Used;

import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.RandomDistribution;
import net.jqwik.api.Tuple;
import net.jqwik.api.statistics.Statistics;

/**
 * virtio-console's control messages under hostile input: the wire format round-trips and decodes
 * any bytes, and whatever sequence of control messages a driver sends — short, unknown events,
 * ports that do not exist or are not added, values other than 0 and 1, trailing junk, out of
 * turn — the device never fails or throws, returns every buffer, and reacts exactly as the
 * protocol says (a small model of the handshake decides what it must send and which ports the
 * guest has open).
 */
class ControlMessageProperties {
    static final int BAD_ID = ControlMessage.BAD_ID;
    static final String PORT_NAME = "vessel.agent";

    @Property(tries = 500)
    void anyHeaderRoundTrips(@ForAll int id, @ForAll("u16") int event, @ForAll("u16") int value,
            @ForAll("payloads") byte[] payload) {
        byte[] wire = new ControlMessage(id, event, value, payload).encode();
        assertEquals(ControlMessage.HEADER_SIZE + payload.length, wire.length);
        ControlMessage back = ControlMessage.decodeHeader(wire);
        assertEquals(id, back.id());
        assertEquals(event, back.event());
        assertEquals(value, back.value());
        assertEquals(0, back.payload().length, "the header alone is decoded");
        assertArrayEquals(payload, Arrays.copyOfRange(wire, ControlMessage.HEADER_SIZE, wire.length));
    }

    @Property(tries = 500)
    void anyEightOrMoreBytesDecodeLittleEndian(@ForAll("payloads") byte[] tail, @ForAll long header) {
        byte[] bytes = ByteBuffer.allocate(8 + tail.length).order(ByteOrder.LITTLE_ENDIAN).putLong(header).put(tail)
                .array();
        ControlMessage m = ControlMessage.decodeHeader(bytes);
        assertEquals((int) header, m.id());
        assertEquals((int) (header >>> 32) & 0xFFFF, m.event());
        assertEquals((int) (header >>> 48) & 0xFFFF, m.value());
        assertTrue(m.toString().length() > 0);
    }

    @Provide
    Arbitrary<Integer> u16() {
        return Arbitraries.oneOf(Arbitraries.integers().between(0, 9), Arbitraries.of(0x7FFF, 0x8000, 0xFFFF),
                Arbitraries.integers().between(0, 0xFFFF));
    }

    @Provide
    Arbitrary<byte[]> payloads() {
        return Arbitraries.bytes().array(byte[].class).ofMaxSize(300);
    }

    // --- the device side ---------------------------------------------------------------------------

    /** Control messages as a driver might send them, as raw bytes; weighted towards the handshake's own. */
    @Provide
    Arbitrary<List<byte[]>> hostileSequences() {
        Arbitrary<Integer> id = Arbitraries.frequencyOf(
                Tuple.of(4, Arbitraries.of(0, 1)),
                Tuple.of(2, Arbitraries.just(BAD_ID)),
                Tuple.of(1, Arbitraries.of(2, 0x8000_0000, 0x7FFF_FFFF)),
                Tuple.of(1, Arbitraries.integers()));
        Arbitrary<Integer> event = Arbitraries.frequencyOf(
                Tuple.of(6, Arbitraries.of(ControlMessage.DEVICE_READY, ControlMessage.PORT_READY, ControlMessage.PORT_OPEN)),
                Tuple.of(2, Arbitraries.integers().between(0, 8)),
                Tuple.of(1, Arbitraries.of(99, 0xFFFF)),
                Tuple.of(1, Arbitraries.integers().between(0, 0xFFFF)));
        Arbitrary<Integer> value = Arbitraries.frequencyOf(
                Tuple.of(6, Arbitraries.of(0, 1)),
                Tuple.of(1, Arbitraries.of(2, 0xFFFF)),
                Tuple.of(1, Arbitraries.integers().between(0, 0xFFFF)));
        Arbitrary<byte[]> junk = Arbitraries.frequencyOf(
                Tuple.of(3, Arbitraries.just(new byte[0])),
                Tuple.of(1, Arbitraries.bytes().array(byte[].class).ofMaxSize(24)));
        Arbitrary<byte[]> header = Combinators.combine(id, event, value, junk).as((i, e, v, j) ->
                ByteBuffer.allocate(8 + j.length).order(ByteOrder.LITTLE_ENDIAN).putInt(i).putShort((short) (int) e)
                        .putShort((short) (int) v).put(j).array());
        Arbitrary<byte[]> shortMessage = Arbitraries.bytes().array(byte[].class).ofMaxSize(7);
        // The steps of Linux's handshake, so that hostile messages also land between them.
        Arbitrary<byte[]> handshake = Arbitraries.of(
                message(BAD_ID, ControlMessage.DEVICE_READY, 1),
                message(0, ControlMessage.PORT_READY, 1),
                message(1, ControlMessage.PORT_READY, 1),
                message(0, ControlMessage.PORT_OPEN, 1),
                message(1, ControlMessage.PORT_OPEN, 1),
                message(1, ControlMessage.PORT_OPEN, 0));
        return Arbitraries.frequencyOf(Tuple.of(4, header), Tuple.of(1, shortMessage), Tuple.of(3, handshake))
                .list().ofMaxSize(60).withSizeDistribution(RandomDistribution.uniform());
    }

    static byte[] message(int id, int event, int value) {
        return new ControlMessage(id, event, value).encode();
    }

    @Property(tries = 150)
    void anySequenceOfControlMessagesIsHandledAsTheProtocolSays(@ForAll("hostileSequences") List<byte[]> messages)
            throws Exception {
        Map<String, PortBackend> named = new LinkedHashMap<>();
        named.put(PORT_NAME, new StreamPortBackend(null, OutputStream.nullOutputStream()));
        try (ConsoleRig rig = new ConsoleRig(new VirtioConsole(OutputStream.nullOutputStream(), named))) {
            rig.init(-1L);
            DriverQueue controlIn = rig.q(VirtioConsole.CONTROL_RECEIVEQ);
            DriverQueue controlOut = rig.q(VirtioConsole.CONTROL_TRANSMITQ);
            controlIn.post(8, 4096);
            controlIn.kick();
            Model model = new Model(2);
            for (byte[] m : messages) {
                controlOut.send(m);
                controlOut.kick();
                List<Used> back = controlOut.takeUsed();
                assertEquals(1, back.size(), "the control buffer came back");
                assertEquals(0, back.get(0).length());
                assertEquals(model.receive(m), deviceSent(controlIn), "what the device sent after " + describe(m));
                assertEquals(0, rig.status() & VirtioStatus.DEVICE_NEEDS_RESET,
                        "a bad control message fails no device: " + rig.transport.lastError());
                for (int p = 0; p < 2; p++) {
                    assertEquals(model.guestOpen[p], rig.device.ports().get(p).isGuestConnected(), "port " + p + " open");
                }
            }
            assertTrue(rig.transport.isActive());
            Statistics.label("the guest opened the named port").collect(model.everOpened[1]);
            Statistics.label("the guest opened the named port").coverage(
                    c -> c.check(true).percentage(p -> p > 5));
        }
    }

    /** The messages the device has sent since the last call, decoded; reposts the buffers. */
    private static List<String> deviceSent(DriverQueue controlIn) {
        List<String> out = new ArrayList<>();
        for (Used u : controlIn.takeUsed()) {
            assertTrue(u.length() >= ControlMessage.HEADER_SIZE, "a control message of " + u.length() + " bytes");
            ControlMessage m = ControlMessage.decodeHeader(u.data());
            String s = ControlMessage.eventName(m.event()) + " " + Integer.toUnsignedString(m.id()) + " " + m.value();
            if (m.event() == ControlMessage.PORT_NAME) {
                s += " " + new String(u.data(), 8, u.length() - 8, StandardCharsets.UTF_8);
            } else {
                assertEquals(ControlMessage.HEADER_SIZE, u.length(), s + " has no payload");
            }
            out.add(s);
            controlIn.post(4096);
        }
        controlIn.kick();
        return out;
    }

    private static String describe(byte[] m) {
        if (m.length < ControlMessage.HEADER_SIZE) {
            return "a " + m.length + "-byte message";
        }
        return ControlMessage.decodeHeader(m) + " + " + (m.length - 8) + " bytes";
    }

    /** The multiport handshake from the device's side, as virtio 1.2 §5.3.6.2 and Linux use it; both ports connected on the host. */
    static final class Model {
        final int ports;
        boolean deviceReady;
        final boolean[] added;
        final boolean[] ready;
        final boolean[] guestOpen;
        final boolean[] everOpened;

        Model(int ports) {
            this.ports = ports;
            this.added = new boolean[ports];
            this.ready = new boolean[ports];
            this.guestOpen = new boolean[ports];
            this.everOpened = new boolean[ports];
        }

        /** Applies a message from the driver; returns what the device must send in answer. */
        List<String> receive(byte[] bytes) {
            List<String> sent = new ArrayList<>();
            if (bytes.length < ControlMessage.HEADER_SIZE) {
                return sent;
            }
            ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
            long id = Integer.toUnsignedLong(b.getInt());
            int event = Short.toUnsignedInt(b.getShort());
            int value = Short.toUnsignedInt(b.getShort());
            if (event == ControlMessage.DEVICE_READY) {
                if (value == 1 && !deviceReady) {
                    deviceReady = true;
                    for (int p = 0; p < ports; p++) {
                        added[p] = true;
                        sent.add("PORT_ADD " + p + " 0");
                    }
                }
                return sent;
            }
            if (id >= ports || !added[(int) id] || (value != 0 && value != 1)) {
                return sent;
            }
            int p = (int) id;
            if (event == ControlMessage.PORT_READY) {
                if (value == 0) {
                    ready[p] = false;
                } else if (!ready[p]) {
                    ready[p] = true;
                    sent.add(p == 0 ? "CONSOLE_PORT 0 1" : "PORT_NAME " + p + " 0 " + PORT_NAME);
                    sent.add("PORT_OPEN " + p + " 1");
                }
            } else if (event == ControlMessage.PORT_OPEN) {
                if (ready[p]) {
                    guestOpen[p] = value == 1;
                    everOpened[p] |= guestOpen[p];
                }
            }
            return sent;
        }
    }
}
