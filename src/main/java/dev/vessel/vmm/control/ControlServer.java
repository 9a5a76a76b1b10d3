package dev.vessel.vmm.control;

import dev.vessel.devices.virtio.balloon.BalloonStats;
import dev.vessel.devices.virtio.balloon.VirtioBalloon;
import dev.vessel.devices.virtio.net.NetCounters;
import dev.vessel.devices.virtio.net.VirtioNet;
import dev.vessel.vmm.VmConfig;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.core.StreamReadFeature;

import java.io.IOException;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The running VM's control socket ({@code vessel vm run --api-socket PATH}): a Unix stream socket
 * that takes one JSON object per line and answers each with one JSON object on one line. Every VM
 * with an API socket has it; the balloon requests need a balloon device.
 *
 * <h2>Requests</h2>
 * <ul>
 *   <li>{@code {"describe": true}}: the VM as it runs: {@code state}, {@code cpus},
 *   {@code memory_mib}, {@code kernel}, {@code initrd}, {@code cmdline}, {@code console},
 *   {@code disks} ({@code path}, {@code read_only}), {@code vsock}, {@code rng}, {@code balloon},
 *   {@code nets} (per network device: {@code tap}, {@code mac}, {@code link_up} and its counters
 *   {@code rx_frames}, {@code rx_bytes}, {@code rx_dropped}, {@code rx_bad_buffers},
 *   {@code tx_frames}, {@code tx_bytes}, {@code tx_dropped}; see {@link NetCounters}), {@code exits}.</li>
 *   <li>{@code {"pause": true}}: holds every vCPU outside the guest and answers once all are held
 *   (the guest's devices and clock go on); {@code {"resume": true}} lets them run again. Both
 *   answer with the state.</li>
 *   <li>{@code {"stop": true}}: ends the VM as the host's stop does ({@code vm run} exits 143);
 *   answers before the VM is gone.</li>
 *   <li>{@code {"balloon_mib": N}}: set the balloon target to N MiB (num_pages = N * 256) and tell
 *   the guest. 0 gives all memory back; N must be below the VM's memory. With
 *   {@code "wait_ms": T} (0..{@value #MAX_WAIT_MS}) the reply waits until the guest's balloon
 *   ({@code actual}) reaches the target or T ms pass, and says which in {@code "reached"}.</li>
 *   <li>{@code {"stats": true}}: asks the guest for fresh memory statistics and answers with them
 *   once they arrive, or after {@code "timeout_ms"} (default {@value #DEFAULT_STATS_TIMEOUT_MS},
 *   at most {@value #MAX_STATS_TIMEOUT_MS}) with the latest ones ({@code "stats_age_ms"} tells
 *   how old they are).</li>
 * </ul>
 * Any other key, a missing or doubled request, a value of the wrong type, malformed JSON or a line
 * over {@value #MAX_LINE_BYTES} bytes gets {@code {"ok": false, "error": "..."}} (an over-long line
 * also closes the connection); only {@code stop} ends the VM.
 *
 * <h2>Replies</h2>
 * Balloon and stats replies: {@code {"ok": true, "memory_mib", "target_pages", "target_mib",
 * "actual_pages", "actual_mib", ...}}: sizes in 4 KiB balloon pages and in MiB (rounded down).
 * Stats replies add {@code "stats_available"} (the guest negotiated the stats queue),
 * {@code "stats_age_ms"} (null before the first), {@code "stats"} (by name: {@code free_bytes},
 * {@code total_bytes}, {@code available_bytes}, {@code disk_caches_bytes}, {@code swap_in_bytes},
 * {@code swap_out_bytes}, {@code major_faults}, {@code minor_faults}, ...) and {@code "host"}: the
 * device's own counters.
 *
 * <h2>The socket</h2>
 * Created with mode 0600 (bound under a temporary name and renamed onto PATH): only its owner
 * (and root) may connect. A stale socket at PATH is replaced; a live one (another VM answers) or
 * a file that is not a socket is an error. At most {@value #MAX_CLIENTS} connections at once;
 * a connection idle for {@value #IDLE_TIMEOUT_SECONDS} s is closed. {@link #close()} removes PATH
 * if it is still this server's socket.
 */
public final class ControlServer implements AutoCloseable {
    public static final int MAX_LINE_BYTES = 4096;
    public static final int MAX_CLIENTS = 8;
    public static final int IDLE_TIMEOUT_SECONDS = 60;
    public static final long MAX_WAIT_MS = 600_000;
    public static final long DEFAULT_STATS_TIMEOUT_MS = 2_000;
    public static final long MAX_STATS_TIMEOUT_MS = 60_000;

    private static final System.Logger LOG = System.getLogger(ControlServer.class.getName());
    private static final Set<String> KEYS = Set.of("balloon_mib", "wait_ms", "stats", "timeout_ms", "pause", "resume", "stop", "describe");
    private static final JsonFactory JSON = JsonFactory.builder()
            .streamReadConstraints(StreamReadConstraints.builder()
                    .maxNestingDepth(4).maxStringLength(MAX_LINE_BYTES).maxNumberLength(32).build())
            .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
            .build();

    private final ControlledVm vm;
    private final Path path;
    private final ServerSocketChannel server;
    private final Object fileKey;
    private final Set<SocketChannel> clients = ConcurrentHashMap.newKeySet();
    private volatile boolean closed;
    private Thread acceptor;

    /** A server with no socket, for {@link #handle}: tests, or another transport. */
    public ControlServer(ControlledVm vm) {
        this.vm = Objects.requireNonNull(vm);
        this.path = null;
        this.server = null;
        this.fileKey = null;
    }

    private ControlServer(ControlledVm vm, Path path, ServerSocketChannel server, Object fileKey) {
        this.vm = Objects.requireNonNull(vm);
        this.path = path;
        this.server = server;
        this.fileKey = fileKey;
    }

    /** Listens on {@code socket} and serves requests for {@code vm} on daemon threads until {@link #close()}. */
    public static ControlServer start(Path socket, ControlledVm vm) throws IOException {
        Path path = socket.toAbsolutePath().normalize();
        Path dir = path.getParent();
        if (dir == null || !Files.isDirectory(dir)) {
            throw new NoSuchFileException(String.valueOf(dir), null, "--api-socket: no such directory");
        }
        checkNotInUse(path);
        String tempName = "." + path.getFileName() + "." + ProcessHandle.current().pid() + ".tmp";
        Path temp = dir.resolve(tempName);
        boolean viaTemp = temp.toString().getBytes(StandardCharsets.UTF_8).length < 108;
        Path bindAt = viaTemp ? temp : path;
        if (viaTemp) {
            Files.deleteIfExists(temp);
        }
        ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            try {
                server.bind(UnixDomainSocketAddress.of(bindAt), MAX_CLIENTS);
            } catch (IllegalArgumentException e) {
                throw new IOException("--api-socket " + socket + ": " + e.getMessage(), e);
            }
            Files.setPosixFilePermissions(bindAt, PosixFilePermissions.fromString("rw-------"));
            Object key = Files.readAttributes(bindAt, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
            if (viaTemp) {
                Files.move(temp, path, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            }
            ControlServer api = new ControlServer(vm, path, server, key);
            api.acceptor = Thread.ofPlatform().name("vm-control").daemon(true).start(api::acceptLoop);
            return api;
        } catch (IOException | RuntimeException e) {
            server.close();
            Files.deleteIfExists(bindAt);
            throw e;
        }
    }

    /** Refuses a PATH that is not a socket, or a socket another process serves. */
    private static void checkNotInUse(Path path) throws IOException {
        BasicFileAttributes attrs;
        try {
            attrs = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (NoSuchFileException e) {
            return;
        }
        if (!attrs.isOther()) {
            throw new FileAlreadyExistsException(path.toString(), null, "exists and is not a socket");
        }
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(path));
        } catch (IOException stale) {
            return; // nobody listens: replaced below
        }
        throw new FileAlreadyExistsException(path.toString(), null, "another process serves this socket");
    }

    /** The socket, or null for a server without one. */
    public Path path() {
        return path;
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel client;
            try {
                client = server.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                if (!closed) {
                    LOG.log(System.Logger.Level.WARNING, "control socket: accept failed: " + e.getMessage());
                }
                return;
            }
            if (clients.size() >= MAX_CLIENTS) {
                try (client) {
                    write(client, error("too many connections (at most " + MAX_CLIENTS + ")"));
                } catch (IOException ignored) {
                    // The client went away.
                }
                continue;
            }
            clients.add(client);
            if (closed) {
                closeQuietly(client);
                return;
            }
            Thread.ofVirtual().name("vm-control-client").start(() -> serve(client));
        }
    }

    /** One connection: a request per line until EOF, an over-long line, idleness or close. */
    private void serve(SocketChannel client) {
        Watchdog watchdog = new Watchdog(client);
        try (client) {
            ByteBuffer in = ByteBuffer.allocate(MAX_LINE_BYTES + 1);
            watchdog.arm();
            while (true) {
                int n = client.read(in);
                if (n < 0) {
                    if (in.position() > 0) {
                        in.flip();
                        write(client, handle(StandardCharsets.UTF_8.decode(in).toString()));
                    }
                    return;
                }
                int lineEnd;
                while ((lineEnd = indexOf(in, (byte) '\n')) >= 0) {
                    String line = new String(in.array(), 0, lineEnd, StandardCharsets.UTF_8);
                    in.flip();
                    in.position(lineEnd + 1);
                    in.compact();
                    watchdog.busy = true;
                    String reply = handle(line);
                    watchdog.busy = false;
                    watchdog.touch();
                    write(client, reply);
                }
                if (!in.hasRemaining()) {
                    write(client, error("request longer than " + MAX_LINE_BYTES + " bytes"));
                    return;
                }
            }
        } catch (IOException e) {
            // The client went away, or the watchdog or close() closed the connection.
        } finally {
            watchdog.cancelled = true;
            clients.remove(client);
        }
    }

    private static int indexOf(ByteBuffer buf, byte b) {
        byte[] a = buf.array();
        for (int i = 0; i < buf.position(); i++) {
            if (a[i] == b) {
                return i;
            }
        }
        return -1;
    }

    private static void write(SocketChannel client, String reply) throws IOException {
        ByteBuffer out = ByteBuffer.wrap((reply + "\n").getBytes(StandardCharsets.UTF_8));
        while (out.hasRemaining()) {
            client.write(out);
        }
    }

    /** Closes a connection that has been idle (not in a request) for the idle timeout. */
    private final class Watchdog {
        private final SocketChannel client;
        private volatile long lastActivity = System.nanoTime();
        volatile boolean busy;
        volatile boolean cancelled;

        Watchdog(SocketChannel client) {
            this.client = client;
        }

        void touch() {
            lastActivity = System.nanoTime();
        }

        void arm() {
            long idle = TimeUnit.SECONDS.toNanos(IDLE_TIMEOUT_SECONDS);
            long due = Math.max(1, idle - (System.nanoTime() - lastActivity));
            CompletableFuture.delayedExecutor(due, TimeUnit.NANOSECONDS).execute(this::check);
        }

        private void check() {
            if (cancelled || closed) {
                return;
            }
            if (!busy && System.nanoTime() - lastActivity >= TimeUnit.SECONDS.toNanos(IDLE_TIMEOUT_SECONDS)) {
                closeQuietly(client);
                return;
            }
            if (busy) {
                touch();
            }
            arm();
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Requests

    /** A request that cannot be served; its message goes back to the client. */
    static final class BadRequest extends Exception {
        BadRequest(String message) {
            super(message);
        }
    }

    /** What a request asks for: exactly one per line. */
    enum Kind { BALLOON, STATS, PAUSE, RESUME, STOP, DESCRIBE }

    /** A parsed request; the numbers only with the kinds they go with. */
    record Request(Kind kind, Long balloonMib, Long waitMs, Long timeoutMs) {}

    /** Handles one request line and returns the one-line JSON reply. Never throws. */
    public String handle(String line) {
        try {
            Request r = parse(line);
            return switch (r.kind()) {
                case BALLOON -> balloonReply(r);
                case STATS -> statsReply(r);
                case PAUSE -> {
                    vm.pause();
                    yield stateReply();
                }
                case RESUME -> {
                    vm.resume();
                    yield stateReply();
                }
                case STOP -> {
                    vm.stop();
                    yield stateReply();
                }
                case DESCRIBE -> describeReply();
            };
        } catch (BadRequest e) {
            return error(e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return error("the VM is stopping");
        } catch (IllegalStateException | java.util.concurrent.TimeoutException e) {
            return error(e.getMessage());
        } catch (Exception e) {
            LOG.log(System.Logger.Level.WARNING, "control socket: request failed", e);
            return error("internal error: " + e);
        }
    }

    static Request parse(String line) throws BadRequest {
        if (line.length() > MAX_LINE_BYTES) {
            throw new BadRequest("request longer than " + MAX_LINE_BYTES + " bytes");
        }
        Long balloonMib = null;
        Long waitMs = null;
        Long timeoutMs = null;
        java.util.EnumSet<Kind> kinds = java.util.EnumSet.noneOf(Kind.class);
        try (JsonParser p = JSON.createParser(line)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new BadRequest("a request is one JSON object on one line, e.g. {\"describe\": true} or {\"balloon_mib\": 128}");
            }
            JsonToken t;
            while ((t = p.nextToken()) != JsonToken.END_OBJECT) {
                if (t != JsonToken.FIELD_NAME) {
                    throw new BadRequest("malformed request");
                }
                String key = p.currentName();
                JsonToken value = p.nextToken();
                if (!KEYS.contains(key)) {
                    throw new BadRequest("unknown key \"" + abbreviate(key)
                            + "\" (known: describe, pause, resume, stop, balloon_mib, wait_ms, stats, timeout_ms)");
                }
                switch (key) {
                    case "balloon_mib" -> {
                        balloonMib = integer(p, value, key, 0, Long.MAX_VALUE);
                        kinds.add(Kind.BALLOON);
                    }
                    case "wait_ms" -> waitMs = integer(p, value, key, 0, MAX_WAIT_MS);
                    case "timeout_ms" -> timeoutMs = integer(p, value, key, 0, MAX_STATS_TIMEOUT_MS);
                    default -> {
                        if (value != JsonToken.VALUE_TRUE) {
                            throw new BadRequest("\"" + key + "\" must be true");
                        }
                        kinds.add(Kind.valueOf(key.toUpperCase(java.util.Locale.ROOT)));
                    }
                }
            }
            if (p.nextToken() != null) {
                throw new BadRequest("one JSON object per line; found more after it");
            }
        } catch (JsonProcessingException e) {
            throw new BadRequest("malformed JSON: " + abbreviate(e.getOriginalMessage()));
        } catch (IOException e) {
            throw new UncheckedIOException(e); // reading a String does no I/O
        }
        if (kinds.size() != 1) {
            throw new BadRequest("a request has exactly one of \"describe\", \"pause\", \"resume\", \"stop\", "
                    + "\"balloon_mib\" or \"stats\"");
        }
        Kind kind = kinds.iterator().next();
        if (waitMs != null && kind != Kind.BALLOON) {
            throw new BadRequest("\"wait_ms\" goes with \"balloon_mib\"");
        }
        if (timeoutMs != null && kind != Kind.STATS) {
            throw new BadRequest("\"timeout_ms\" goes with \"stats\"");
        }
        return new Request(kind, balloonMib, waitMs, timeoutMs);
    }

    private static long integer(JsonParser p, JsonToken value, String key, long min, long max)
            throws IOException, BadRequest {
        if (value != JsonToken.VALUE_NUMBER_INT) {
            throw new BadRequest("\"" + key + "\" must be a whole number");
        }
        if (p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) {
            throw new BadRequest("\"" + key + "\" is out of range (" + min + ".." + max + ")");
        }
        long v = p.getLongValue();
        if (v < min || v > max) {
            throw new BadRequest("\"" + key + "\" is out of range (" + min + ".." + max + "): " + v);
        }
        return v;
    }

    private static String abbreviate(String s) {
        if (s == null) {
            return "";
        }
        String oneLine = s.lines().findFirst().orElse("");
        return oneLine.length() > 200 ? oneLine.substring(0, 200) + "..." : oneLine;
    }

    private VirtioBalloon balloon() throws BadRequest {
        VirtioBalloon b = vm.balloon();
        if (b == null) {
            throw new BadRequest("this VM has no balloon device (start it with --balloon)");
        }
        return b;
    }

    private String stateReply() {
        return json(g -> g.writeStringField("state", vm.state()));
    }

    private String describeReply() {
        VmConfig c = vm.config();
        return json(g -> {
            g.writeStringField("state", vm.state());
            g.writeNumberField("cpus", c.cpus());
            g.writeNumberField("memory_mib", c.memoryBytes() >> 20);
            g.writeStringField("kernel", c.kernel().toString());
            g.writeStringField("initrd", c.initrd() == null ? null : c.initrd().toString());
            g.writeStringField("cmdline", c.cmdline());
            g.writeStringField("console", c.console().name().toLowerCase(java.util.Locale.ROOT));
            g.writeArrayFieldStart("disks");
            for (VmConfig.Disk d : c.disks()) {
                g.writeStartObject();
                g.writeStringField("path", d.location());
                g.writeBooleanField("read_only", d.readOnly());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeStringField("vsock", c.vsockSocket() == null ? null : c.vsockSocket().toString());
            g.writeBooleanField("rng", c.rng());
            g.writeBooleanField("balloon", c.balloon());
            g.writeArrayFieldStart("nets");
            for (VirtioNet n : vm.nets()) {
                NetCounters k = n.counters();
                g.writeStartObject();
                g.writeStringField("tap", n.backendName());
                g.writeStringField("mac", n.mac().toString());
                g.writeBooleanField("link_up", n.linkUp());
                g.writeNumberField("rx_frames", k.rxFrames());
                g.writeNumberField("rx_bytes", k.rxBytes());
                g.writeNumberField("rx_dropped", k.rxDropped());
                g.writeNumberField("rx_bad_buffers", k.rxBadBuffers());
                g.writeNumberField("tx_frames", k.txFrames());
                g.writeNumberField("tx_bytes", k.txBytes());
                g.writeNumberField("tx_dropped", k.txDropped());
                g.writeEndObject();
            }
            g.writeEndArray();
            g.writeNumberField("exits", vm.exits());
        });
    }

    private String balloonReply(Request r) throws BadRequest, InterruptedException {
        VirtioBalloon balloon = balloon();
        long mib = r.balloonMib();
        long memoryMib = balloon.memoryBytes() >> 20;
        if (mib >= memoryMib || (mib << 8) > balloon.maxTargetPages()) {
            throw new BadRequest("balloon_mib " + mib + " is not below the VM's memory (" + memoryMib + " MiB)");
        }
        long pages = mib << 8;
        balloon.setTargetPages(pages);
        Boolean reached = null;
        if (r.waitMs() != null) {
            reached = balloon.awaitActual(pages, Duration.ofMillis(r.waitMs()));
        }
        Boolean reachedFinal = reached;
        return json(g -> {
            sizes(g, balloon);
            if (reachedFinal != null) {
                g.writeBooleanField("reached", reachedFinal);
            }
        });
    }

    private String statsReply(Request r) throws BadRequest, InterruptedException {
        VirtioBalloon balloon = balloon();
        long timeout = r.timeoutMs() != null ? r.timeoutMs() : DEFAULT_STATS_TIMEOUT_MS;
        boolean available = balloon.statsAvailable();
        BalloonStats s = available ? balloon.refreshStats(Duration.ofMillis(timeout)) : balloon.stats();
        long now = System.currentTimeMillis();
        return json(g -> {
            sizes(g, balloon);
            g.writeBooleanField("stats_available", available);
            if (s.receivedAtMillis() == 0) {
                g.writeNullField("stats_age_ms");
            } else {
                g.writeNumberField("stats_age_ms", Math.max(0, now - s.receivedAtMillis()));
            }
            g.writeObjectFieldStart("stats");
            for (Map.Entry<String, Long> e : s.named().entrySet()) {
                g.writeFieldName(e.getKey());
                g.writeNumber(Long.toUnsignedString(e.getValue()));
            }
            g.writeEndObject();
            g.writeObjectFieldStart("host");
            g.writeNumberField("inflated_pages", balloon.inflatedPages());
            g.writeNumberField("deflated_pages", balloon.deflatedPages());
            g.writeNumberField("released_bytes", balloon.releasedBytes());
            g.writeNumberField("reported_bytes", balloon.reportedBytes());
            g.writeNumberField("invalid_pfns", balloon.invalidPfns());
            g.writeNumberField("duplicate_pfns", balloon.duplicatePfns());
            g.writeNumberField("malformed_requests", balloon.malformedRequests());
            g.writeNumberField("malformed_stats", balloon.malformedStats());
            g.writeNumberField("release_failures", balloon.releaseFailures());
            g.writeEndObject();
        });
    }

    private static void sizes(JsonGenerator g, VirtioBalloon balloon) throws IOException {
        long target = balloon.targetPages();
        long actual = balloon.actualPages();
        g.writeNumberField("memory_mib", balloon.memoryBytes() >> 20);
        g.writeNumberField("target_pages", target);
        g.writeNumberField("target_mib", target >> 8);
        g.writeNumberField("actual_pages", actual);
        g.writeNumberField("actual_mib", actual >> 8);
    }

    @FunctionalInterface
    private interface Fields {
        void write(JsonGenerator g) throws IOException;
    }

    private static String json(Fields fields) {
        StringWriter w = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(w)) {
            g.writeStartObject();
            g.writeBooleanField("ok", true);
            fields.write(g);
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return w.toString();
    }

    static String error(String message) {
        StringWriter w = new StringWriter();
        try (JsonGenerator g = JSON.createGenerator(w)) {
            g.writeStartObject();
            g.writeBooleanField("ok", false);
            g.writeStringField("error", message);
            g.writeEndObject();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return w.toString();
    }

    // ---------------------------------------------------------------------------------------------

    private static void closeQuietly(SocketChannel c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // Closing anyway.
        }
    }

    /** Stops serving, closes every connection and removes the socket if it is still this server's. Idempotent. */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (server == null) {
            return;
        }
        try {
            server.close();
        } catch (IOException ignored) {
            // Closing anyway.
        }
        clients.forEach(ControlServer::closeQuietly);
        if (acceptor != null && acceptor != Thread.currentThread()) {
            try {
                acceptor.join(1000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        try {
            Object key = Files.readAttributes(path, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
            if (Objects.equals(key, fileKey)) {
                Files.deleteIfExists(path);
            }
        } catch (IOException ignored) {
            // Gone already, or replaced by another server's socket: leave it.
        }
    }
}
