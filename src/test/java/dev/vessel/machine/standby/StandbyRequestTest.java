package dev.vessel.machine.standby;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

class StandbyRequestTest {
    static final StandbyRequest RUN = new StandbyRequest(
            List.of("vm", "run", "--kernel", "/k/vmlinuz", "--cmdline", "console=ttyS0 quiet", "--append", ""),
            Map.of("VESSEL_ROOT", "/var/lib/vessel", "VESSEL_TIMING", "1"), "/");

    static byte[] payload(String... entries) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (String e : entries) {
            out.writeBytes(e.getBytes(StandardCharsets.UTF_8));
            out.write(0);
        }
        return out.toByteArray();
    }

    static byte[] header(long length) {
        return ByteBuffer.allocate(8).put(StandbyRequest.MAGIC).putInt((int) length).array();
    }

    @Test
    void roundTripsThroughTheWireFormat() throws Exception {
        byte[] wire = RUN.encode();
        assertArrayEquals(StandbyRequest.MAGIC, Arrays.copyOf(wire, 4));
        int len = StandbyRequest.payloadLength(Arrays.copyOf(wire, 8));
        assertEquals(wire.length - 8, len);
        assertEquals(RUN, StandbyRequest.decode(Arrays.copyOfRange(wire, 8, wire.length)));
    }

    @Test
    void theWireFormatIsKeyValueStringsEndingInNul() {
        byte[] wire = RUN.encode();
        String payload = new String(wire, 8, wire.length - 8, StandardCharsets.UTF_8);
        assertEquals("arg=vm\0arg=run\0arg=--kernel\0arg=/k/vmlinuz\0arg=--cmdline\0arg=console=ttyS0 quiet\0"
                + "arg=--append\0arg=\0env=VESSEL_ROOT=/var/lib/vessel\0env=VESSEL_TIMING=1\0cwd=/\0", payload);
    }

    @Test
    void argumentsKeepOrderEqualsSignsAndUtf8() throws Exception {
        StandbyRequest r = StandbyRequest.decode(payload("cwd=/tmp", "arg=vm", "arg=a=b=c", "arg=caf\u00e9 \u2713"));
        assertEquals(List.of("vm", "a=b=c", "caf\u00e9 \u2713"), r.args());
        assertEquals("/tmp", r.cwd());
        assertEquals(Map.of(), r.env());
    }

    @Test
    void headersWithBadMagicOrLengthAreRejected() {
        assertThrows(StandbyRequest.BadRequest.class, () -> StandbyRequest.payloadLength(header(0)));
        assertThrows(StandbyRequest.BadRequest.class,
                () -> StandbyRequest.payloadLength(header(StandbyRequest.MAX_PAYLOAD + 1)));
        assertThrows(StandbyRequest.BadRequest.class, () -> StandbyRequest.payloadLength(header(0xFFFF_FFFFL)));
        byte[] h = header(10);
        h[0] = 'X';
        assertThrows(StandbyRequest.BadRequest.class, () -> StandbyRequest.payloadLength(h));
        assertThrows(StandbyRequest.BadRequest.class, () -> StandbyRequest.payloadLength(new byte[7]));
    }

    @Test
    void malformedPayloadsAreRejected() {
        List<byte[]> bad = new ArrayList<>(List.of(
                new byte[0],
                "arg=vm\0cwd=/".getBytes(StandardCharsets.US_ASCII), // no final NUL
                payload("arg=vm", "", "cwd=/"), // empty entry
                payload("arg=vm", "noequals", "cwd=/"),
                payload("arg=vm", "argv=x", "cwd=/"), // unknown key
                payload("cwd=/"), // no arguments
                payload("arg=vm"), // no cwd
                payload("arg=vm", "cwd=/", "cwd=/"),
                payload("arg=vm", "cwd=relative"),
                payload("arg=vm", "cwd=/", "env=PATH=/bin"), // only VESSEL_* variables
                payload("arg=vm", "cwd=/", "env=VESSEL_lower=1"),
                payload("arg=vm", "cwd=/", "env=VESSEL_X"), // no value part
                payload("arg=vm", "cwd=/", "env=VESSEL_X=1", "env=VESSEL_X=2"),
                payload("arg=vm", "cwd=/", "arg=" + "x".repeat(StandbyRequest.MAX_VALUE + 1))));
        byte[] notUtf8 = payload("arg=vm", "cwd=/", "arg=\u00ff");
        notUtf8[notUtf8.length - 3] = (byte) 0xC3; // a lead byte followed by '\0'-terminated garbage
        notUtf8[notUtf8.length - 2] = (byte) 0x28;
        bad.add(notUtf8);
        String[] many = new String[StandbyRequest.MAX_ARGS + 2];
        Arrays.fill(many, "arg=x");
        many[many.length - 1] = "cwd=/";
        bad.add(payload(many));
        String[] env = new String[StandbyRequest.MAX_ENV + 2];
        for (int i = 0; i < env.length - 1; i++) {
            env[i] = "env=VESSEL_V" + i + "=x";
        }
        env[env.length - 1] = "arg=vm\0cwd=/";
        bad.add(payload(env));
        for (byte[] b : bad) {
            assertThrows(StandbyRequest.BadRequest.class, () -> StandbyRequest.decode(b),
                    () -> new String(b, StandardCharsets.ISO_8859_1).replace('\0', '|'));
        }
    }

    @Test
    void limitsThemselvesAreAccepted() throws Exception {
        String[] many = new String[StandbyRequest.MAX_ARGS + 1];
        Arrays.fill(many, "arg=" + "y".repeat(200));
        many[many.length - 1] = "cwd=/" + "d".repeat(StandbyRequest.MAX_VALUE - 1);
        StandbyRequest r = StandbyRequest.decode(payload(many));
        assertEquals(StandbyRequest.MAX_ARGS, r.args().size());
    }

    @Test
    void statusIsFourBytesBigEndianWithinAnExitStatusRange() {
        assertArrayEquals(new byte[] {0, 0, 0, (byte) 143}, StandbyRequest.encodeStatus(143));
        assertThrows(IllegalArgumentException.class, () -> StandbyRequest.encodeStatus(256));
        assertThrows(IllegalArgumentException.class, () -> StandbyRequest.encodeStatus(-1));
    }

    @Test
    void aStandbyRunsOnlyWhatAFreshProcessWouldRunTheSameWay() {
        Map<String, String> env = Map.of("VESSEL_ROOT", "/var/lib/vessel", "PATH", "/bin");
        assertNull(StandbyVmm.refusal(RUN, env, "/"), "VESSEL_TIMING is the standby's own to report");
        assertNull(StandbyVmm.refusal(RUN, Map.of("VESSEL_ROOT", "/var/lib/vessel", "VESSEL_TIMING", "x"), "/"));
        assertNotNull(StandbyVmm.refusal(RUN, env, "/root"), "another working directory");
        assertNotNull(StandbyVmm.refusal(RUN, Map.of(), "/"), "VESSEL_ROOT differs");
        assertNotNull(StandbyVmm.refusal(RUN, Map.of("VESSEL_ROOT", "/var/lib/vessel", "VESSEL_DEBUG", "1"), "/"));
        StandbyRequest debug = new StandbyRequest(RUN.args(), Map.of("VESSEL_ROOT", "/var/lib/vessel", "VESSEL_DEBUG", "1"), "/");
        assertNotNull(StandbyVmm.refusal(debug, env, "/"), "VESSEL_DEBUG needs a fresh VMM");
        for (List<String> args : List.of(List.of("vm"), List.of("vm", "standby", "--socket", "/x.sock"),
                List.of("kernel", "fetch"), List.of("--root", "/r", "vm", "run"), List.of("machine", "exec", "--", "sh"))) {
            StandbyRequest r = new StandbyRequest(args, RUN.env(), "/");
            assertNotNull(StandbyVmm.refusal(r, env, "/"), args.toString());
        }
    }
}
