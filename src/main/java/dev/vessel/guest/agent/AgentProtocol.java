package dev.vessel.guest.agent;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.ReadableByteChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/**
 * The vessel-agent wire protocol, version 1. The C twin is {@code src/main/c/agent/protocol.h};
 * keep both in lockstep (same constants, same rules).
 *
 * <pre>
 * Transport: one stream socket (TCP or AF_VSOCK) per exec. All integers are
 * big-endian. Every message is a frame:
 *
 *     u8  type
 *     u32 payload length   (0 .. MAX_PAYLOAD; larger is a protocol error
 *                           and the agent closes the connection)
 *     u8  payload[length]
 *
 * Conversation:
 *
 *   client -> agent  'H' hello. Payload: the shared secret (token) bytes, at
 *                    most MAX_TOKEN; empty when the agent has no token.
 *                    Must be the first frame. The agent compares it in
 *                    constant time with the content of its --token-file; on a
 *                    mismatch it answers 'F' (EACCES) and closes.
 *   agent -> client  'H' hello reply. Payload: PROTOCOL_VERSION (ASCII).
 *
 *   client -> agent  'E' exec request (exactly one per connection, right
 *                    after the hello). Payload: a sequence of NUL-terminated
 *                    "key=value" strings (the payload ends with a NUL):
 *                      arg=VALUE        argv, in order; repeated; at least one;
 *                                       argv[0] must not be empty. Looked up
 *                                       in the PATH of the process environment
 *                                       (default /bin:/usr/bin) unless it
 *                                       contains a '/'.
 *                      env=NAME=VALUE   environment; repeated; NAME non-empty,
 *                                       unique. The process gets exactly these
 *                                       variables, plus the agent's own
 *                                       environment (overridden by these) when
 *                                       inherit-env=1.
 *                      inherit-env=0|1  default 0
 *                      cwd=/ABS/PATH    working directory (absolute); default:
 *                                       the agent's
 *                      tty=0|1          allocate a pseudo-terminal; default 0
 *                      rows=N, cols=N   initial terminal size, 0..65535;
 *                                       default 24x80; ignored without tty
 *                      uid=N, gid=N     numeric credentials, 0..4294967294;
 *                                       default: the agent's. With gid the
 *                                       supplementary groups become [gid];
 *                                       with uid alone they are dropped.
 *                      builtin=NAME     instead of executing argv[0], the
 *                                       process runs one of the agent's own
 *                                       builtins with argv as its arguments
 *                                       (the archive builtins below).
 *                    Every key except arg/env at most once; unknown keys, a
 *                    missing '=', empty strings or bad numbers make the agent
 *                    answer 'F' (EINVAL) and close.
 *
 *   After the exec request, in any order:
 *   client -> agent  'I' stdin bytes. An empty 'I' means stdin EOF: the agent
 *                    closes the process's stdin pipe, or in tty mode writes
 *                    the terminal's VEOF character (^D; twice when the last
 *                    byte written did not end a line). Later 'I' frames are
 *                    ignored, as is stdin the process no longer reads.
 *                    The agent buffers at most one 'I' frame: it stops reading
 *                    the socket while the process does not consume its stdin.
 *                    'R'/'S' frames queued behind such a frame wait too.
 *   client -> agent  'R' resize: u16 rows, u16 cols (payload exactly 4 bytes).
 *                    TIOCSWINSZ on the terminal; ignored without tty.
 *   client -> agent  'S' signal: u8 signal number 1..64 (payload exactly 1
 *                    byte), sent with kill(-pgid, sig) to the process group
 *                    (the process is a session and process-group leader).
 *   agent -> client  'O' stdout bytes (in tty mode all terminal output).
 *   agent -> client  'e' stderr bytes (never in tty mode).
 *   agent -> client  'X' exit: i32 status, the exit code 0..255, or 128+signo
 *                    when the process was killed by a signal. Sent after all
 *                    output that was readable when the process exited (a
 *                    background process that keeps the pipes open does not
 *                    delay it). Last frame; the agent then closes.
 *   agent -> client  'F' failure: u32 errno + UTF-8 message. Sent instead of
 *                    'X' when the process could not be started (ENOENT: not
 *                    found, EACCES/ENOEXEC: not executable, ...), when the
 *                    request was invalid (EINVAL), the token wrong (EACCES) or
 *                    the conversation malformed (EPROTO). Last frame.
 *                    Clients map ENOENT to exit status 127 and any other
 *                    failure to 126, like docker.
 *
 * The archive builtins (docker cp), in the process's root and credentials:
 *   archive-stat PATH NAME
 *                       stdout: one record, PATH's own (lstat) named NAME
 *                       (one clean component), no data.
 *   archive-get PATH NAME
 *                       stdout: the records of PATH (named NAME) and of all
 *                       below it (NAME/...), then the end record.
 *   archive-put DIR [no-overwrite-dir-non-dir]
 *                       stdin: records, extracted beneath DIR (no symlink
 *                       leads out of it), until the end record.
 *   Exit 0; 2 when PATH or DIR does not exist; 1 for any other failure, with
 *   the reason on stderr. A record (integers big-endian):
 *     u8 type ('f' file, 'd' directory, 'l' symlink, 'h' hard link, 'c'/'b'
 *        character/block device, 'p' fifo, 's' socket (stat only), 'Z' end)
 *     u32 mode (permission bits, 07777), u32 uid, u32 gid, i64 mtime (s),
 *     u32 device major, u32 device minor, u64 size (of the data that follows:
 *     files only), u16 name length, u16 link length, name, link (symlink
 *     target, or a hard link's earlier name). Names are relative, made of
 *     components other than "", "." and "..", at most ARCHIVE_MAX_NAME.
 *
 * The process builtins (docker top, docker stats) print lines read from the
 * process root's /proc (argv is ignored but must hold one argument):
 *   proc-list    "clock TICKS boot BTIME uptime SECONDS", then per process
 *                "PID PPID UID START CPU TTY STATE COMM<TAB>CMDLINE".
 *   proc-stats   "cpu USER NICE SYSTEM IDLE ...", "cpus N", "clock TICKS",
 *                "mem_total B", "mem_available B", "mem_free B", "cached B",
 *                "pids N", "net IF RXB RXP RXE RXD TXB TXP TXE TXD",
 *                "disk NAME SECTORS_READ SECTORS_WRITTEN READS WRITES".
 *
 * After 'X' or 'F' the agent half-closes, discards what the client still
 * sends and closes once the client closed (or after a few seconds). The
 * client must keep its sending side open until then: an EOF (or half-close),
 * a reset, or any malformed frame from the client while the process runs
 * counts as a dropped connection, and the agent kills the process's whole
 * process group with SIGKILL.
 * </pre>
 */
public final class AgentProtocol {
    private AgentProtocol() {}

    public static final String PROTOCOL_VERSION = "vessel-agent/1";

    public static final int HEADER_SIZE = 5;
    public static final int MAX_PAYLOAD = 1024 * 1024;
    public static final int MAX_TOKEN = 4096;
    public static final int MAX_SIGNAL = 64;
    public static final int DEFAULT_ROWS = 24;
    public static final int DEFAULT_COLS = 80;

    // client -> agent
    public static final byte HELLO = 'H';
    public static final byte EXEC = 'E';
    public static final byte STDIN = 'I';
    public static final byte RESIZE = 'R';
    public static final byte SIGNAL = 'S';
    /** Container mode only: kill everything, sync, power off (instead of an exec request). */
    public static final byte POWEROFF = 'P';
    /** Container mode: the agent listens on this vsock port... */
    public static final int CONTAINER_PORT = 1024;
    /** ...and says {@code READY <port>} to the host's vsock port READY_PORT once it does. */
    public static final int READY_PORT = 1025;

    // agent -> client
    public static final byte HELLO_REPLY = 'H';
    public static final byte STDOUT = 'O';
    public static final byte STDERR = 'e';
    public static final byte EXIT = 'X';
    public static final byte FAILURE = 'F';

    /** Frame types a client may send, and an agent may send. */
    public static final String CLIENT_TYPES = "HEIRS";
    public static final String AGENT_TYPES = "HOeXF";

    // Linux errno values that matter to clients.
    public static final int ENOENT = 2;
    public static final int ENOEXEC = 8;
    public static final int EACCES = 13;
    public static final int EINVAL = 22;
    public static final int EPROTO = 71;

    /** One frame; the payload array is owned by the frame (not copied on access). */
    public record Frame(byte type, byte[] payload) {
        public Frame {
            if (payload == null) {
                payload = new byte[0];
            }
            if (payload.length > MAX_PAYLOAD) {
                throw new IllegalArgumentException("payload of " + payload.length + " bytes exceeds " + MAX_PAYLOAD);
            }
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Frame f && f.type == type && Arrays.equals(f.payload, payload);
        }

        @Override
        public int hashCode() {
            return 31 * type + Arrays.hashCode(payload);
        }

        @Override
        public String toString() {
            return "Frame[" + typeName(type) + ", " + payload.length + " bytes]";
        }
    }

    static String typeName(int type) {
        return type >= 0x21 && type < 0x7f ? "'" + (char) type + "'" : String.format("0x%02x", type & 0xff);
    }

    // ---- framing ----

    /** Header plus payload, ready to write. */
    public static ByteBuffer encode(byte type, byte[] payload, int off, int len) {
        if (len < 0 || off < 0 || off + len > payload.length) {
            throw new IndexOutOfBoundsException();
        }
        if (len > MAX_PAYLOAD) {
            throw new IllegalArgumentException("payload of " + len + " bytes exceeds " + MAX_PAYLOAD);
        }
        ByteBuffer b = ByteBuffer.allocate(HEADER_SIZE + len);
        b.put(type).putInt(len).put(payload, off, len).flip();
        return b;
    }

    public static ByteBuffer encode(byte type, byte[] payload) {
        return encode(type, payload, 0, payload.length);
    }

    public static ByteBuffer encode(Frame f) {
        return encode(f.type(), f.payload());
    }

    /** Writes a whole frame (callers serialise concurrent writers). */
    public static void write(WritableByteChannel ch, byte type, byte[] payload, int off, int len) throws IOException {
        ByteBuffer b = encode(type, payload, off, len);
        while (b.hasRemaining()) {
            if (ch.write(b) == 0) {
                Thread.onSpinWait(); // a non-blocking channel; blocking ones never return 0
            }
        }
    }

    public static void write(WritableByteChannel ch, byte type, byte[] payload) throws IOException {
        write(ch, type, payload, 0, payload.length);
    }

    /**
     * Reads one frame whose type must be one of {@code allowedTypes} (e.g. {@link #AGENT_TYPES}).
     *
     * @return the frame, or null on a clean end of stream before its first byte
     * @throws AgentProtocolException for an unknown type, an oversized length or a stream that ends inside the frame
     */
    public static Frame read(ReadableByteChannel ch, String allowedTypes) throws IOException {
        ByteBuffer h = ByteBuffer.allocate(HEADER_SIZE);
        if (!readFully(ch, h, true)) {
            return null;
        }
        h.flip();
        byte type = h.get();
        int len = h.getInt();
        checkHeader(type, len, allowedTypes);
        ByteBuffer p = ByteBuffer.allocate(len);
        if (!readFully(ch, p, false)) {
            throw new AgentProtocolException("stream ends inside a frame");
        }
        return new Frame(type, p.array());
    }

    /**
     * Decodes one frame from the start of {@code buf}.
     *
     * @return the frame (buf's position moves past it), or null if buf does not hold a whole frame yet (position
     *     unchanged)
     * @throws AgentProtocolException for an unknown type or an oversized length (checked before the payload arrives)
     */
    public static Frame decode(ByteBuffer buf, String allowedTypes) throws AgentProtocolException {
        if (buf.remaining() < HEADER_SIZE) {
            return null;
        }
        int start = buf.position();
        byte type = buf.get(start);
        int len = buf.getInt(start + 1);
        checkHeader(type, len, allowedTypes);
        if (buf.remaining() < HEADER_SIZE + len) {
            return null;
        }
        byte[] payload = new byte[len];
        buf.position(start + HEADER_SIZE);
        buf.get(payload);
        return new Frame(type, payload);
    }

    private static void checkHeader(byte type, int len, String allowedTypes) throws AgentProtocolException {
        if (len < 0 || len > MAX_PAYLOAD) {
            throw new AgentProtocolException(
                    "frame " + typeName(type) + " announces " + Integer.toUnsignedString(len) + " bytes, more than "
                            + MAX_PAYLOAD);
        }
        if (allowedTypes.indexOf((char) (type & 0xff)) < 0 || type == 0) {
            throw new AgentProtocolException("unexpected frame type " + typeName(type));
        }
    }

    /** Fills buf; false on EOF before any byte when {@code eofOk}, else an exception on EOF. */
    private static boolean readFully(ReadableByteChannel ch, ByteBuffer buf, boolean eofOk) throws IOException {
        boolean first = true;
        while (buf.hasRemaining()) {
            int n = ch.read(buf);
            if (n < 0) {
                if (first && eofOk) {
                    return false;
                }
                if (eofOk) {
                    throw new AgentProtocolException("stream ends inside a frame header");
                }
                return false;
            }
            if (n == 0) {
                Thread.onSpinWait();
            } else {
                first = false;
            }
        }
        return true;
    }

    // ---- payloads ----

    /** The 'E' payload for a request. */
    public static byte[] encodeExec(ExecRequest r) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (String a : r.argv()) {
            entry(out, "arg", a);
        }
        for (Map.Entry<String, String> e : r.env().entrySet()) {
            entry(out, "env", e.getKey() + "=" + e.getValue());
        }
        if (r.inheritEnv()) {
            entry(out, "inherit-env", "1");
        }
        if (r.cwd() != null) {
            entry(out, "cwd", r.cwd());
        }
        if (r.tty()) {
            entry(out, "tty", "1");
            entry(out, "rows", Integer.toString(r.rows()));
            entry(out, "cols", Integer.toString(r.cols()));
        }
        r.uid().ifPresent(v -> entry(out, "uid", Long.toString(v)));
        r.gid().ifPresent(v -> entry(out, "gid", Long.toString(v)));
        if (r.user() != null) {
            entry(out, "user", r.user());
        }
        if (r.builtin() != null) {
            entry(out, "builtin", r.builtin());
        }
        if (out.size() > MAX_PAYLOAD) {
            throw new IllegalArgumentException("exec request of " + out.size() + " bytes exceeds " + MAX_PAYLOAD);
        }
        return out.toByteArray();
    }

    private static void entry(ByteArrayOutputStream out, String key, String value) {
        out.writeBytes(key.getBytes(StandardCharsets.UTF_8));
        out.write('=');
        out.writeBytes(value.getBytes(StandardCharsets.UTF_8));
        out.write(0);
    }

    /** Parses an 'E' payload with the agent's rules (used by tests and fakes; the agent has its own C parser). */
    public static ExecRequest decodeExec(byte[] payload) throws AgentProtocolException {
        if (payload.length == 0) {
            throw new AgentProtocolException("empty exec request");
        }
        if (payload[payload.length - 1] != 0) {
            throw new AgentProtocolException("exec request does not end with NUL");
        }
        List<String> argv = new ArrayList<>();
        Map<String, String> env = new LinkedHashMap<>();
        String cwd = null;
        Boolean tty = null;
        Boolean inherit = null;
        Integer rows = null;
        Integer cols = null;
        Long uid = null;
        Long gid = null;
        String user = null;
        String builtin = null;
        int start = 0;
        for (int i = 0; i < payload.length; i++) {
            if (payload[i] != 0) {
                continue;
            }
            String s = new String(payload, start, i - start, StandardCharsets.UTF_8);
            start = i + 1;
            if (s.isEmpty()) {
                throw new AgentProtocolException("empty entry in exec request");
            }
            int eq = s.indexOf('=');
            if (eq < 0) {
                throw new AgentProtocolException("malformed entry '" + s + "' (no '=')");
            }
            String key = s.substring(0, eq);
            String v = s.substring(eq + 1);
            switch (key) {
                case "arg" -> argv.add(v);
                case "env" -> {
                    int veq = v.indexOf('=');
                    if (veq <= 0) {
                        throw new AgentProtocolException("malformed env entry '" + v + "' (want NAME=VALUE)");
                    }
                    if (env.putIfAbsent(v.substring(0, veq), v.substring(veq + 1)) != null) {
                        throw new AgentProtocolException("duplicate env variable '" + v.substring(0, veq) + "'");
                    }
                }
                case "cwd" -> cwd = once(key, cwd, v);
                case "tty" -> tty = once(key, tty, flag(key, v));
                case "inherit-env" -> inherit = once(key, inherit, flag(key, v));
                case "rows" -> rows = once(key, rows, (int) number(key, v, 65535));
                case "cols" -> cols = once(key, cols, (int) number(key, v, 65535));
                case "uid" -> uid = once(key, uid, number(key, v, 4294967294L));
                case "gid" -> gid = once(key, gid, number(key, v, 4294967294L));
                case "user" -> user = once(key, user, v);
                case "builtin" -> builtin = once(key, builtin, v);
                default -> throw new AgentProtocolException("unknown key '" + key + "' in exec request");
            }
        }
        if (argv.isEmpty()) {
            throw new AgentProtocolException("exec request has no arg");
        }
        try {
            return new ExecRequest(argv, env, cwd, tty != null && tty,
                    rows == null ? DEFAULT_ROWS : rows, cols == null ? DEFAULT_COLS : cols,
                    uid == null ? OptionalLong.empty() : OptionalLong.of(uid),
                    gid == null ? OptionalLong.empty() : OptionalLong.of(gid),
                    inherit != null && inherit, user, builtin);
        } catch (IllegalArgumentException e) {
            throw new AgentProtocolException(e.getMessage());
        }
    }

    private static <T> T once(String key, T old, T value) throws AgentProtocolException {
        if (old != null) {
            throw new AgentProtocolException("duplicate key '" + key + "'");
        }
        return value;
    }

    private static boolean flag(String key, String v) throws AgentProtocolException {
        return switch (v) {
            case "0" -> false;
            case "1" -> true;
            default -> throw new AgentProtocolException(key + " must be 0 or 1");
        };
    }

    private static long number(String key, String v, long max) throws AgentProtocolException {
        if (v.isEmpty() || v.length() > 20 || !v.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new AgentProtocolException(key + " must be a number 0.." + max);
        }
        long n = 0;
        for (int i = 0; i < v.length(); i++) {
            n = n * 10 + (v.charAt(i) - '0');
            if (n > max) {
                throw new AgentProtocolException(key + " must be a number 0.." + max);
            }
        }
        return n;
    }

    /** 'R' payload. */
    public static byte[] encodeResize(int rows, int cols) {
        if (rows < 0 || rows > 65535 || cols < 0 || cols > 65535) {
            throw new IllegalArgumentException("terminal size out of range: " + rows + "x" + cols);
        }
        return ByteBuffer.allocate(4).putShort((short) rows).putShort((short) cols).array();
    }

    /** 'S' payload. */
    public static byte[] encodeSignal(int signo) {
        if (signo < 1 || signo > MAX_SIGNAL) {
            throw new IllegalArgumentException("signal number out of range 1.." + MAX_SIGNAL + ": " + signo);
        }
        return new byte[] {(byte) signo};
    }

    /** 'X' payload. */
    public static byte[] encodeExit(int status) {
        return ByteBuffer.allocate(4).putInt(status).array();
    }

    public static int decodeExit(byte[] payload) throws AgentProtocolException {
        if (payload.length != 4) {
            throw new AgentProtocolException("exit frame of " + payload.length + " bytes, want 4");
        }
        return ByteBuffer.wrap(payload).getInt();
    }

    /** 'F' payload. */
    public static byte[] encodeFailure(int errno, String message) {
        byte[] m = message.getBytes(StandardCharsets.UTF_8);
        return ByteBuffer.allocate(4 + m.length).putInt(errno).put(m).array();
    }

    public static ExecFailure decodeFailure(byte[] payload) throws AgentProtocolException {
        if (payload.length < 4) {
            throw new AgentProtocolException("failure frame of " + payload.length + " bytes, want at least 4");
        }
        int errno = ByteBuffer.wrap(payload).getInt();
        return new ExecFailure(errno, new String(payload, 4, payload.length - 4, StandardCharsets.UTF_8));
    }

    /** Docker's convention: 127 when the command was not found, 126 when it could not be invoked. */
    public static int exitStatusFor(int errno) {
        return errno == ENOENT ? 127 : 126;
    }
}
