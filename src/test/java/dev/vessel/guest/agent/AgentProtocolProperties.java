package dev.vessel.guest.agent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;
import net.jqwik.api.Tuple.Tuple2;
import net.jqwik.api.constraints.Size;

/**
 * A compromised guest agent talking to the host: any byte stream, delivered in any slicing, gives
 * the host's reader ({@link AgentProtocol#read}, {@link AgentProtocol#decode}) exactly the
 * well-formed frames at its start and then a clean end or an {@link AgentProtocolException}, never
 * another exception, and never allocates for a payload beyond what a valid header announced (at
 * most {@link AgentProtocol#MAX_PAYLOAD}). The payload decoders only throw AgentProtocolException.
 */
class AgentProtocolProperties {
    /** Room for the header, the frame objects, an exception with its stack trace and class loading. */
    private static final long ALLOCATION_SLACK = 256 * 1024;

    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    /** What a frame header says: its type byte, and its length relative to the bytes that follow. */
    enum Length { EXACT, SHORT_BY_ONE, LONG_BY_ONE, MAX, MAX_PLUS_ONE, NEGATIVE, ANY }

    /** One frame as sent: {@code cut} bytes of it are dropped from the end when {@code cut > 0}. */
    record FrameSpec(byte type, Length length, int anyLength, int payload, int cut) {
        byte[] bytes() {
            int len = switch (length) {
                case EXACT -> payload;
                case SHORT_BY_ONE -> payload - 1;
                case LONG_BY_ONE -> payload + 1;
                case MAX -> AgentProtocol.MAX_PAYLOAD;
                case MAX_PLUS_ONE -> AgentProtocol.MAX_PAYLOAD + 1;
                case NEGATIVE -> Integer.MIN_VALUE | payload;
                case ANY -> anyLength;
            };
            ByteBuffer b = ByteBuffer.allocate(AgentProtocol.HEADER_SIZE + payload);
            b.put(type).putInt(len);
            for (int i = 0; i < payload; i++) {
                b.put((byte) (i * 13 + type));
            }
            byte[] all = b.array();
            return cut > 0 ? java.util.Arrays.copyOf(all, Math.max(0, all.length - cut)) : all;
        }
    }

    @Provide
    Arbitrary<byte[]> streams() {
        Arbitrary<Byte> type = Arbitraries.frequencyOf(
                weighted(6, Arbitraries.of(AgentProtocol.AGENT_TYPES.chars().mapToObj(c -> (byte) c).toList())),
                weighted(1, Arbitraries.of((byte) 0, AgentProtocol.EXEC, AgentProtocol.STDIN, (byte) 0xff)),
                weighted(1, Arbitraries.bytes()));
        Arbitrary<FrameSpec> frame = Combinators.combine(
                type,
                Arbitraries.frequencyOf(
                        weighted(6, Arbitraries.just(Length.EXACT)),
                        weighted(3, Arbitraries.of(Length.values()))),
                Arbitraries.integers(),
                Arbitraries.frequencyOf(
                        weighted(6, Arbitraries.integers().between(0, 40)),
                        weighted(1, Arbitraries.integers().between(60_000, 70_000))),
                Arbitraries.frequencyOf(
                        weighted(8, Arbitraries.just(0)),
                        weighted(1, Arbitraries.integers().between(1, 8))))
                .as(FrameSpec::new);
        Arbitrary<byte[]> framed = frame.list().ofMaxSize(6).map(frames -> {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            for (FrameSpec f : frames) {
                out.writeBytes(f.bytes());
            }
            return out.toByteArray();
        });
        return Arbitraries.frequencyOf(
                weighted(4, framed),
                weighted(1, Arbitraries.bytes().array(byte[].class).ofMaxSize(64)));
    }

    /** How the channel slices the stream: the sizes of successive reads (0: a read that returns nothing). */
    @Provide
    Arbitrary<List<Integer>> slicing() {
        return Arbitraries.frequencyOf(
                        weighted(1, Arbitraries.just(0)),
                        weighted(4, Arbitraries.integers().between(1, 7)),
                        weighted(2, Arbitraries.integers().between(8, 100_000)))
                .list()
                .ofMinSize(1)
                .ofMaxSize(8);
    }

    @Property(tries = 400)
    void readGivesTheWellFormedPrefixThenAnEndOrAProtocolError(@ForAll("streams") byte[] stream,
            @ForAll("slicing") List<Integer> slicing) {
        List<AgentProtocol.Frame> expected = new ArrayList<>();
        boolean expectError = referenceParse(stream, AgentProtocol.AGENT_TYPES, expected);
        SlicedChannel ch = new SlicedChannel(stream, slicing);
        List<AgentProtocol.Frame> got = new ArrayList<>();
        boolean error = false;
        while (true) {
            long before = THREADS.getCurrentThreadAllocatedBytes();
            AgentProtocol.Frame f;
            try {
                f = AgentProtocol.read(ch, AgentProtocol.AGENT_TYPES);
            } catch (AgentProtocolException e) {
                error = true;
                assertNotNull(e.getMessage());
                f = null;
            } catch (IOException | RuntimeException e) {
                fail("read threw " + e + " instead of AgentProtocolException", e);
                return;
            }
            long allocated = THREADS.getCurrentThreadAllocatedBytes() - before;
            long allowed = ch.lastValidAnnouncement + ALLOCATION_SLACK;
            assertTrue(allocated <= allowed, "read allocated " + allocated + " bytes; the last valid header announced "
                    + ch.lastValidAnnouncement);
            if (f == null) {
                break;
            }
            assertTrue(AgentProtocol.AGENT_TYPES.indexOf(f.type()) >= 0, f.toString());
            assertTrue(f.payload().length <= AgentProtocol.MAX_PAYLOAD);
            got.add(f);
        }
        assertEquals(expected, got);
        assertEquals(expectError, error, "a protocol error exactly when the stream is malformed");
    }

    @Property(tries = 400)
    void decodeOfAnyBufferIsAFrameNullOrAProtocolError(@ForAll("streams") byte[] stream) {
        List<AgentProtocol.Frame> expected = new ArrayList<>();
        referenceParse(stream, AgentProtocol.AGENT_TYPES, expected);
        ByteBuffer buf = ByteBuffer.wrap(stream);
        List<AgentProtocol.Frame> got = new ArrayList<>();
        while (true) {
            int position = buf.position();
            AgentProtocol.Frame f;
            try {
                f = AgentProtocol.decode(buf, AgentProtocol.AGENT_TYPES);
            } catch (AgentProtocolException e) {
                break;
            } catch (RuntimeException e) {
                fail("decode threw " + e, e);
                return;
            }
            if (f == null) {
                assertEquals(position, buf.position(), "an incomplete frame leaves the buffer as it was");
                break;
            }
            assertEquals(position + AgentProtocol.HEADER_SIZE + f.payload().length, buf.position());
            got.add(f);
        }
        assertEquals(expected, got);
    }

    @Property(tries = 400)
    void payloadDecodersOnlyThrowProtocolErrors(@ForAll @Size(max = 40) byte[] payload) {
        try {
            int status = AgentProtocol.decodeExit(payload);
            assertEquals(4, payload.length);
            assertEquals(ByteBuffer.wrap(payload).getInt(), status);
        } catch (AgentProtocolException e) {
            assertTrue(payload.length != 4);
        }
        try {
            ExecFailure f = AgentProtocol.decodeFailure(payload);
            assertNotNull(f.message());
            assertTrue(payload.length >= 4);
        } catch (AgentProtocolException e) {
            assertTrue(payload.length < 4);
        }
    }

    @Provide
    Arbitrary<byte[]> execPayloads() {
        Arbitrary<String> key = Arbitraries.frequencyOf(
                weighted(6, Arbitraries.of("arg", "env", "cwd", "tty", "inherit-env", "rows", "cols", "uid", "gid",
                        "user")),
                weighted(1, Arbitraries.strings().ofMaxLength(4)));
        Arbitrary<String> value = Arbitraries.frequencyOf(
                weighted(3, Arbitraries.of("0", "1", "2", "/", "/tmp", "sh", "A=b", "=x", "", "65535", "65536",
                        "4294967294", "4294967295", "99999999999999999999999", "root")),
                weighted(1, Arbitraries.strings().ofMaxLength(6)));
        Arbitrary<String> entry = Combinators.combine(key, Arbitraries.of("=", "", "=="), value)
                .as((k, eq, v) -> k + eq + v);
        return entry.list().ofMaxSize(8).map(entries -> {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            for (String e : entries) {
                out.writeBytes(e.getBytes(StandardCharsets.UTF_8));
                out.write(0);
            }
            return out.toByteArray();
        });
    }

    /** What the exec parser accepts, the encoder writes back, and that parses to the same request. */
    @Property(tries = 400)
    void execRequestsParseOrFailWithAProtocolError(@ForAll("execPayloads") byte[] payload,
            @ForAll boolean dropTrailingNul) {
        byte[] p = dropTrailingNul && payload.length > 0 ? java.util.Arrays.copyOf(payload, payload.length - 1) : payload;
        ExecRequest r;
        try {
            r = AgentProtocol.decodeExec(p);
        } catch (AgentProtocolException e) {
            return;
        }
        byte[] again = AgentProtocol.encodeExec(r);
        ExecRequest back;
        try {
            back = AgentProtocol.decodeExec(again);
        } catch (AgentProtocolException e) {
            fail("re-encoding " + r + " gives a request the parser rejects: " + e.getMessage());
            return;
        }
        assertArrayEquals(again, AgentProtocol.encodeExec(back));
        assertEquals(r.argv(), back.argv());
        assertEquals(r.env(), back.env());
    }

    /**
     * The protocol as specified: frames while whole and valid; false at a clean end between frames,
     * true (an error) at a bad header or a stream ending inside a frame.
     */
    private static boolean referenceParse(byte[] s, String allowed, List<AgentProtocol.Frame> out) {
        int pos = 0;
        while (pos < s.length) {
            if (s.length - pos < AgentProtocol.HEADER_SIZE) {
                return true;
            }
            ByteBuffer b = ByteBuffer.wrap(s, pos, AgentProtocol.HEADER_SIZE);
            byte type = b.get();
            int len = b.getInt();
            if (len < 0 || len > AgentProtocol.MAX_PAYLOAD || type == 0 || allowed.indexOf(type & 0xff) < 0) {
                return true;
            }
            if (s.length - pos - AgentProtocol.HEADER_SIZE < len) {
                return true;
            }
            out.add(new AgentProtocol.Frame(type, java.util.Arrays.copyOfRange(s, pos + AgentProtocol.HEADER_SIZE,
                    pos + AgentProtocol.HEADER_SIZE + len)));
            pos += AgentProtocol.HEADER_SIZE + len;
        }
        return false;
    }

    /**
     * A blocking-style channel over a byte array that hands out reads of the given sizes in turn (a
     * 0 is one empty read, never two in a row). It also notes the length of the last header it
     * delivered that a reader may legitimately allocate for (valid type and length).
     */
    static final class SlicedChannel implements ReadableByteChannel {
        private final byte[] data;
        private final List<Integer> slicing;
        private int pos;
        private int turn;
        private boolean lastWasEmpty;
        long lastValidAnnouncement;

        SlicedChannel(byte[] data, List<Integer> slicing) {
            this.data = data;
            this.slicing = slicing;
        }

        @Override
        public int read(ByteBuffer dst) {
            if (pos == data.length) {
                return -1;
            }
            int size = slicing.get(turn++ % slicing.size());
            if (size == 0 && !lastWasEmpty) {
                lastWasEmpty = true;
                return 0;
            }
            lastWasEmpty = false;
            int n = Math.min(Math.max(size, 1), Math.min(dst.remaining(), data.length - pos));
            dst.put(data, pos, n);
            pos += n;
            noteHeaders();
            return n;
        }

        /** The announced length of every valid header whose bytes were handed out so far (the reader's view). */
        private void noteHeaders() {
            int at = 0;
            long last = 0;
            while (at + AgentProtocol.HEADER_SIZE <= pos) { // allocates nothing: it runs inside the measurement
                byte type = data[at];
                int len = (data[at + 1] & 0xff) << 24 | (data[at + 2] & 0xff) << 16 | (data[at + 3] & 0xff) << 8
                        | (data[at + 4] & 0xff);
                if (len < 0 || len > AgentProtocol.MAX_PAYLOAD || type == 0
                        || AgentProtocol.AGENT_TYPES.indexOf(type & 0xff) < 0) {
                    break;
                }
                last = len;
                at += AgentProtocol.HEADER_SIZE + len;
            }
            lastValidAnnouncement = last;
        }

        @Override
        public boolean isOpen() {
            return true;
        }

        @Override
        public void close() {}
    }

    private static <T> Tuple2<Integer, Arbitrary<? extends T>> weighted(int weight, Arbitrary<? extends T> a) {
        return Tuple.of(weight, a);
    }

    @Property(tries = 50)
    void aCleanEndBeforeAnyByteIsNull(@ForAll("slicing") List<Integer> slicing) throws IOException {
        assertNull(AgentProtocol.read(new SlicedChannel(new byte[0], slicing), AgentProtocol.AGENT_TYPES));
    }
}
