package dev.vessel.machine.standby;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * What {@code vessel-agent --vmm-client} sends a standby VMM ({@code vessel vm standby}): the Vessel
 * arguments to run, the client's {@code VESSEL_*} environment and working directory. Its stdin,
 * stdout and stderr travel with the request's first bytes as SCM_RIGHTS.
 *
 * <p>Keep this class and {@code src/main/c/agent/standby.h} in lockstep: the wire format and every
 * limit are defined there, with the same values here.
 *
 * <pre>
 *   request   u8[4] "VSQ1", u32 payload length (big-endian, 1..MAX_PAYLOAD), payload:
 *             NUL-terminated "key=value" strings: arg=VALUE (1..MAX_ARGS, in order),
 *             env=NAME=VALUE (0..MAX_ENV, NAME a unique VESSEL_* name), cwd=/ABS/PATH (once);
 *             every value at most MAX_VALUE bytes of UTF-8
 *   accepted  u8[4] "VSA1" from the standby: it took the command and runs it
 *   status    u32 exit status 0..255 from the standby, last
 * </pre>
 */
record StandbyRequest(List<String> args, Map<String, String> env, String cwd) {
    static final byte[] MAGIC = {'V', 'S', 'Q', '1'};
    static final byte[] ACCEPTED = {'V', 'S', 'A', '1'};
    static final int HEADER_SIZE = 8;
    static final int MAX_PAYLOAD = 64 * 1024;
    static final int MAX_ARGS = 256;
    static final int MAX_ENV = 32;
    static final int MAX_VALUE = 8192;
    /** stdin, stdout, stderr: exactly these, in this order. */
    static final int FDS = 3;

    private static final Pattern ENV_NAME = Pattern.compile("VESSEL_[A-Z0-9_]*");

    /** A request that is malformed or breaks a limit; the standby drops it without running anything. */
    static final class BadRequest extends Exception {
        BadRequest(String message) {
            super(message);
        }
    }

    StandbyRequest {
        args = List.copyOf(args);
        env = Map.copyOf(env);
    }

    /** The payload length a request header announces. */
    static int payloadLength(byte[] header) throws BadRequest {
        if (header.length != HEADER_SIZE || !Arrays.equals(header, 0, 4, MAGIC, 0, 4)) {
            throw new BadRequest("not a standby request (bad magic)");
        }
        long len = ByteBuffer.wrap(header, 4, 4).getInt() & 0xFFFF_FFFFL;
        if (len < 1 || len > MAX_PAYLOAD) {
            throw new BadRequest("request payload of " + len + " bytes (1.." + MAX_PAYLOAD + ")");
        }
        return (int) len;
    }

    static StandbyRequest decode(byte[] payload) throws BadRequest {
        if (payload.length < 1 || payload.length > MAX_PAYLOAD) {
            throw new BadRequest("request payload of " + payload.length + " bytes");
        }
        if (payload[payload.length - 1] != 0) {
            throw new BadRequest("request does not end with NUL");
        }
        var decoder = StandardCharsets.UTF_8.newDecoder()
                .onMalformedInput(CodingErrorAction.REPORT)
                .onUnmappableCharacter(CodingErrorAction.REPORT);
        List<String> args = new ArrayList<>();
        Map<String, String> env = new LinkedHashMap<>();
        String cwd = null;
        int start = 0;
        while (start < payload.length) {
            int end = start;
            while (payload[end] != 0) {
                end++;
            }
            String entry;
            try {
                CharBuffer cb = decoder.decode(ByteBuffer.wrap(payload, start, end - start));
                entry = cb.toString();
            } catch (CharacterCodingException e) {
                throw new BadRequest("request entry is not UTF-8");
            }
            start = end + 1;
            int eq = entry.indexOf('=');
            if (eq < 0) {
                throw new BadRequest(entry.isEmpty() ? "empty request entry" : "request entry without '='");
            }
            String key = entry.substring(0, eq);
            String value = entry.substring(eq + 1);
            if (value.getBytes(StandardCharsets.UTF_8).length > MAX_VALUE) {
                throw new BadRequest("request value longer than " + MAX_VALUE + " bytes");
            }
            switch (key) {
                case "arg" -> {
                    if (args.size() == MAX_ARGS) {
                        throw new BadRequest("more than " + MAX_ARGS + " arguments");
                    }
                    args.add(value);
                }
                case "env" -> {
                    int veq = value.indexOf('=');
                    String name = veq < 0 ? value : value.substring(0, veq);
                    if (veq < 0 || !ENV_NAME.matcher(name).matches()) {
                        throw new BadRequest("env entry is not VESSEL_NAME=VALUE");
                    }
                    if (env.size() == MAX_ENV) {
                        throw new BadRequest("more than " + MAX_ENV + " environment variables");
                    }
                    if (env.putIfAbsent(name, value.substring(veq + 1)) != null) {
                        throw new BadRequest("duplicate env variable " + name);
                    }
                }
                case "cwd" -> {
                    if (cwd != null) {
                        throw new BadRequest("duplicate cwd");
                    }
                    if (!value.startsWith("/")) {
                        throw new BadRequest("cwd is not an absolute path");
                    }
                    cwd = value;
                }
                default -> throw new BadRequest("unknown request key");
            }
        }
        if (args.isEmpty()) {
            throw new BadRequest("request has no arguments");
        }
        if (cwd == null) {
            throw new BadRequest("request has no cwd");
        }
        return new StandbyRequest(args, env, cwd);
    }

    /** Header and payload, as the client sends them (the C client builds the same bytes). */
    byte[] encode() {
        ByteArrayOutputStream p = new ByteArrayOutputStream();
        for (String a : args) {
            entry(p, "arg=" + a);
        }
        env.entrySet().stream().sorted(Map.Entry.comparingByKey())
                .forEach(e -> entry(p, "env=" + e.getKey() + "=" + e.getValue()));
        entry(p, "cwd=" + cwd);
        byte[] payload = p.toByteArray();
        return ByteBuffer.allocate(HEADER_SIZE + payload.length).put(MAGIC).putInt(payload.length).put(payload).array();
    }

    private static void entry(ByteArrayOutputStream out, String s) {
        out.writeBytes(s.getBytes(StandardCharsets.UTF_8));
        out.write(0);
    }

    static byte[] encodeStatus(int status) {
        if (status < 0 || status > 255) {
            throw new IllegalArgumentException("exit status " + status);
        }
        return ByteBuffer.allocate(4).putInt(status).array();
    }
}
