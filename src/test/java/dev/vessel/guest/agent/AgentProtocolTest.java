package dev.vessel.guest.agent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ReadableByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

class AgentProtocolTest {

    private static byte[] bytes(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.get(a);
        return a;
    }

    private static ReadableByteChannel channel(byte[] data) {
        return Channels.newChannel(new ByteArrayInputStream(data));
    }

    private static byte[] header(int type, int len) {
        return ByteBuffer.allocate(5).put((byte) type).putInt(len).array();
    }

    private static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    @Test
    void encodesHeaderBigEndian() {
        byte[] f = bytes(AgentProtocol.encode(AgentProtocol.STDIN, "abc".getBytes(StandardCharsets.US_ASCII)));
        assertArrayEquals(new byte[] {'I', 0, 0, 0, 3, 'a', 'b', 'c'}, f);
        byte[] big = new byte[0x010203];
        byte[] g = bytes(AgentProtocol.encode(AgentProtocol.STDOUT, big));
        assertArrayEquals(new byte[] {'O', 0, 1, 2, 3}, Arrays.copyOf(g, 5));
        assertEquals(5 + big.length, g.length);
    }

    @Test
    void emptyPayloadIsAFrame() throws IOException {
        byte[] f = bytes(AgentProtocol.encode(AgentProtocol.STDIN, new byte[0]));
        assertArrayEquals(new byte[] {'I', 0, 0, 0, 0}, f);
        AgentProtocol.Frame back = AgentProtocol.read(channel(f), AgentProtocol.CLIENT_TYPES);
        assertEquals(new AgentProtocol.Frame(AgentProtocol.STDIN, new byte[0]), back);
    }

    @Test
    void roundTripsSeveralFramesFromAStream() throws IOException {
        byte[] max = new byte[AgentProtocol.MAX_PAYLOAD];
        Arrays.fill(max, (byte) 7);
        byte[] stream = concat(
                bytes(AgentProtocol.encode(AgentProtocol.STDOUT, "out".getBytes(StandardCharsets.UTF_8))),
                bytes(AgentProtocol.encode(AgentProtocol.STDERR, max)),
                bytes(AgentProtocol.encode(AgentProtocol.EXIT, AgentProtocol.encodeExit(7))));
        ReadableByteChannel ch = channel(stream);
        AgentProtocol.Frame a = AgentProtocol.read(ch, AgentProtocol.AGENT_TYPES);
        AgentProtocol.Frame b = AgentProtocol.read(ch, AgentProtocol.AGENT_TYPES);
        AgentProtocol.Frame c = AgentProtocol.read(ch, AgentProtocol.AGENT_TYPES);
        assertEquals(AgentProtocol.STDOUT, a.type());
        assertArrayEquals("out".getBytes(StandardCharsets.UTF_8), a.payload());
        assertEquals(AgentProtocol.STDERR, b.type());
        assertArrayEquals(max, b.payload());
        assertEquals(7, AgentProtocol.decodeExit(c.payload()));
        assertNull(AgentProtocol.read(ch, AgentProtocol.AGENT_TYPES), "clean EOF between frames");
    }

    @Test
    void rejectsOversizedLengthBeforeReadingThePayload() {
        byte[] h = header('O', AgentProtocol.MAX_PAYLOAD + 1);
        AgentProtocolException e = assertThrows(AgentProtocolException.class,
                () -> AgentProtocol.read(channel(h), AgentProtocol.AGENT_TYPES));
        assertTrue(e.getMessage().contains("1048577"), e.getMessage());
        // a length with the top bit set must not turn into a negative allocation
        byte[] neg = header('O', 0xFFFFFFFF);
        e = assertThrows(AgentProtocolException.class,
                () -> AgentProtocol.read(channel(neg), AgentProtocol.AGENT_TYPES));
        assertTrue(e.getMessage().contains("4294967295"), e.getMessage());
        assertThrows(AgentProtocolException.class,
                () -> AgentProtocol.decode(ByteBuffer.wrap(header('O', AgentProtocol.MAX_PAYLOAD + 1)),
                        AgentProtocol.AGENT_TYPES));
        assertThrows(IllegalArgumentException.class,
                () -> AgentProtocol.encode(AgentProtocol.STDIN, new byte[AgentProtocol.MAX_PAYLOAD + 1]));
    }

    @Test
    void rejectsTruncatedPayloadAndHeader() {
        byte[] truncated = concat(header('O', 10), "abc".getBytes(StandardCharsets.US_ASCII));
        assertThrows(AgentProtocolException.class,
                () -> AgentProtocol.read(channel(truncated), AgentProtocol.AGENT_TYPES));
        byte[] shortHeader = {'O', 0, 0};
        assertThrows(AgentProtocolException.class,
                () -> AgentProtocol.read(channel(shortHeader), AgentProtocol.AGENT_TYPES));
    }

    @Test
    void rejectsUnknownAndWrongDirectionTypes() {
        assertThrows(AgentProtocolException.class,
                () -> AgentProtocol.read(channel(header('Z', 0)), AgentProtocol.AGENT_TYPES));
        assertThrows(AgentProtocolException.class,
                () -> AgentProtocol.read(channel(header(0, 0)), AgentProtocol.AGENT_TYPES));
        // 'E' (exec request) is a client frame; the agent never sends it
        assertThrows(AgentProtocolException.class,
                () -> AgentProtocol.read(channel(header('E', 0)), AgentProtocol.AGENT_TYPES));
        // 'O' is an agent frame
        assertThrows(AgentProtocolException.class,
                () -> AgentProtocol.read(channel(header('O', 0)), AgentProtocol.CLIENT_TYPES));
    }

    @Test
    void incrementalDecodeWaitsForWholeFrames() throws IOException {
        byte[] f = bytes(AgentProtocol.encode(AgentProtocol.STDOUT, "hello".getBytes(StandardCharsets.US_ASCII)));
        ByteBuffer partial = ByteBuffer.wrap(f, 0, f.length - 1);
        assertNull(AgentProtocol.decode(partial, AgentProtocol.AGENT_TYPES));
        assertEquals(0, partial.position());
        ByteBuffer two = ByteBuffer.wrap(concat(f, f));
        assertEquals("hello", new String(AgentProtocol.decode(two, AgentProtocol.AGENT_TYPES).payload(),
                StandardCharsets.US_ASCII));
        assertEquals(f.length, two.position());
        AgentProtocol.decode(two, AgentProtocol.AGENT_TYPES);
        assertEquals(0, two.remaining());
    }

    @Test
    void execPayloadHasNulTerminatedEntriesInOrder() {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("PATH", "/bin");
        env.put("X", "a=b");
        ExecRequest r = ExecRequest.of("sh", "-c", "echo hi").withEnv(env).withCwd("/tmp").withTty(30, 100)
                .withUser(1000, 100);
        String s = new String(AgentProtocol.encodeExec(r), StandardCharsets.UTF_8);
        assertEquals("arg=sh\0arg=-c\0arg=echo hi\0env=PATH=/bin\0env=X=a=b\0cwd=/tmp\0tty=1\0rows=30\0cols=100\0"
                + "uid=1000\0gid=100\0", s);
        assertEquals("arg=true\0", new String(AgentProtocol.encodeExec(ExecRequest.of("true")),
                StandardCharsets.UTF_8));
    }

    @Test
    void execPayloadRoundTrips() throws IOException {
        ExecRequest r = ExecRequest.of("printf", "", "x\ny").withEnv(Map.of("A", "", "B", "é")).withCwd("/")
                .withTty(0, 65535).withUid(4294967294L).withInheritEnv(true);
        assertEquals(r, AgentProtocol.decodeExec(AgentProtocol.encodeExec(r)));
        ExecRequest plain = ExecRequest.of("true");
        assertEquals(plain, AgentProtocol.decodeExec(AgentProtocol.encodeExec(plain)));
    }

    @Test
    void execPayloadValidation() {
        List<String> bad = List.of(
                "", // empty
                "arg=x", // no final NUL
                "arg=x\0\0", // empty entry
                "bogus=1\0arg=x\0", // unknown key
                "argx\0", // no '='
                "env=A=1\0", // no arg
                "arg=\0", // empty argv[0]
                "arg=x\0env==1\0", // empty env name
                "arg=x\0env=A\0", // env without '='
                "arg=x\0env=A=1\0env=A=2\0", // duplicate env
                "arg=x\0tty=2\0",
                "arg=x\0tty=1\0tty=1\0",
                "arg=x\0rows=65536\0",
                "arg=x\0cols=-1\0",
                "arg=x\0uid=4294967295\0",
                "arg=x\0gid=1x\0",
                "arg=x\0cwd=relative\0",
                "arg=x\0inherit-env=yes\0");
        for (String s : bad) {
            assertThrows(AgentProtocolException.class,
                    () -> AgentProtocol.decodeExec(s.getBytes(StandardCharsets.UTF_8)),
                    () -> "accepted " + s.replace("\0", "\\0"));
        }
    }

    @Test
    void controlPayloads() throws IOException {
        assertArrayEquals(new byte[] {0, 40, 0, (byte) 200}, AgentProtocol.encodeResize(40, 200));
        assertArrayEquals(new byte[] {(byte) 0xff, (byte) 0xff, 0, 0}, AgentProtocol.encodeResize(65535, 0));
        assertThrows(IllegalArgumentException.class, () -> AgentProtocol.encodeResize(65536, 1));
        assertArrayEquals(new byte[] {15}, AgentProtocol.encodeSignal(15));
        assertThrows(IllegalArgumentException.class, () -> AgentProtocol.encodeSignal(0));
        assertThrows(IllegalArgumentException.class, () -> AgentProtocol.encodeSignal(65));

        assertEquals(-1, AgentProtocol.decodeExit(new byte[] {-1, -1, -1, -1}));
        assertEquals(137, AgentProtocol.decodeExit(AgentProtocol.encodeExit(137)));
        assertThrows(AgentProtocolException.class, () -> AgentProtocol.decodeExit(new byte[3]));
        assertThrows(AgentProtocolException.class, () -> AgentProtocol.decodeExit(new byte[5]));

        ExecFailure f = AgentProtocol.decodeFailure(AgentProtocol.encodeFailure(2, "exec foo: nope"));
        assertEquals(new ExecFailure(2, "exec foo: nope"), f);
        assertEquals(127, f.exitStatus());
        assertEquals(126, new ExecFailure(AgentProtocol.EACCES, "").exitStatus());
        assertEquals(126, new ExecFailure(AgentProtocol.ENOEXEC, "").exitStatus());
        assertEquals(new ExecFailure(13, ""), AgentProtocol.decodeFailure(new byte[] {0, 0, 0, 13}));
        assertThrows(AgentProtocolException.class, () -> AgentProtocol.decodeFailure(new byte[3]));
    }

    @Test
    void execRequestValidation() {
        assertThrows(IllegalArgumentException.class, () -> ExecRequest.of());
        assertThrows(IllegalArgumentException.class, () -> ExecRequest.of(""));
        assertThrows(IllegalArgumentException.class, () -> ExecRequest.of("a\0b"));
        assertThrows(IllegalArgumentException.class, () -> ExecRequest.of("x").withEnv(Map.of("A=B", "1")));
        assertThrows(IllegalArgumentException.class, () -> ExecRequest.of("x").withEnv(Map.of("", "1")));
        assertThrows(IllegalArgumentException.class, () -> ExecRequest.of("x").withEnv(Map.of("A", "\0")));
        assertThrows(IllegalArgumentException.class, () -> ExecRequest.of("x").withCwd("tmp"));
        assertThrows(IllegalArgumentException.class, () -> ExecRequest.of("x").withTty(-1, 80));
        assertThrows(IllegalArgumentException.class, () -> ExecRequest.of("x").withUid(-1));
        assertThrows(IllegalArgumentException.class, () -> ExecRequest.of("x").withUid(4294967295L));
        ExecRequest r = ExecRequest.of("x");
        assertEquals(OptionalLong.empty(), r.uid());
        assertEquals(Map.of(), r.env());
    }

    @Test
    void cAndJavaConstantsAgree() throws IOException {
        // protocol.h is the other half of the definition; keep them in lockstep.
        String h = java.nio.file.Files.readString(java.nio.file.Path.of("src/main/c/agent/protocol.h"));
        assertTrue(h.contains("#define VA_PROTOCOL_VERSION \"" + AgentProtocol.PROTOCOL_VERSION + "\""));
        assertTrue(h.contains("#define VA_HEADER_SIZE " + AgentProtocol.HEADER_SIZE + "u"));
        assertTrue(h.contains("#define VA_MAX_PAYLOAD (1024u * 1024u)") && AgentProtocol.MAX_PAYLOAD == 1 << 20);
        assertTrue(h.contains("#define VA_MAX_TOKEN " + AgentProtocol.MAX_TOKEN + "u"));
        assertTrue(h.contains("#define VA_MAX_SIGNAL " + AgentProtocol.MAX_SIGNAL));
        assertTrue(h.contains("#define VA_DEFAULT_ROWS " + AgentProtocol.DEFAULT_ROWS + "u"));
        assertTrue(h.contains("#define VA_DEFAULT_COLS " + AgentProtocol.DEFAULT_COLS + "u"));
        Map<String, Byte> types = Map.of("VA_HELLO", AgentProtocol.HELLO, "VA_EXEC", AgentProtocol.EXEC,
                "VA_STDIN", AgentProtocol.STDIN, "VA_RESIZE", AgentProtocol.RESIZE, "VA_SIGNAL",
                AgentProtocol.SIGNAL, "VA_HELLO_REPLY", AgentProtocol.HELLO_REPLY, "VA_STDOUT",
                AgentProtocol.STDOUT, "VA_STDERR", AgentProtocol.STDERR, "VA_EXIT", AgentProtocol.EXIT,
                "VA_FAILURE", AgentProtocol.FAILURE);
        types.forEach((name, value) -> assertTrue(h.contains("#define " + name + " '" + (char) (byte) value + "'"),
                name));
        assertTrue(h.contains("#define VA_ARCHIVE_HEADER " + ArchiveRecord.HEADER + "u"));
        assertTrue(h.contains("#define VA_ARCHIVE_MAX_NAME " + ArchiveRecord.MAX_NAME + "u"));
        Map<String, Byte> records = Map.of("FILE", ArchiveRecord.FILE, "DIR", ArchiveRecord.DIRECTORY,
                "SYMLINK", ArchiveRecord.SYMLINK, "HARDLINK", ArchiveRecord.HARD_LINK, "CHAR", ArchiveRecord.CHAR_DEVICE,
                "BLOCK", ArchiveRecord.BLOCK_DEVICE, "FIFO", ArchiveRecord.FIFO, "SOCKET", ArchiveRecord.SOCKET,
                "END", ArchiveRecord.END);
        records.forEach((name, value) -> assertTrue(h.contains("#define VA_ARCHIVE_" + name + " '" + (char) (byte) value + "'"),
                name));
        // the documentation block is the same text (modulo the C macro prefix)
        String cDoc = h.substring(h.indexOf("Transport:"), h.indexOf("*/")).replaceAll("(?m)^ \\*( |$)", "")
                .replace("VA_", "").strip();
        String javaSrc = java.nio.file.Files.readString(
                java.nio.file.Path.of("src/main/java/dev/vessel/guest/agent/AgentProtocol.java"));
        String jDoc = javaSrc.substring(javaSrc.indexOf("Transport:"), javaSrc.indexOf("</pre>"))
                .replaceAll("(?m)^ \\*( |$)", "").strip();
        assertEquals(cDoc, jDoc);
    }
}
