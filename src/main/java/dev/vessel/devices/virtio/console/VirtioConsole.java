package dev.vessel.devices.virtio.console;

import dev.vessel.devices.ConsoleSink;
import dev.vessel.devices.virtio.AbstractVirtioDevice;
import dev.vessel.devices.virtio.VirtioContext;
import dev.vessel.devices.virtio.VirtioFeatures;
import dev.vessel.devices.virtio.queue.ChainReader;
import dev.vessel.devices.virtio.queue.DescriptorChain;
import dev.vessel.devices.virtio.queue.Virtqueue;
import dev.vessel.devices.virtio.queue.VirtqueueException;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * virtio-console (device type 3, virtio 1.2 §5.3): the guest's console on {@code hvc0} as the
 * para-virtual alternative to the emulated UART, plus optional named ports for host↔guest
 * channels ({@code /dev/vportNpM}, named in {@code /sys/class/virtio-ports/vport*&#47;name}).
 *
 * <h2>Ports and queues</h2>
 * Port 0 is the console: guest output (its transmitq) goes to the host stream given to the
 * constructor (the VMM's stdout); host input ({@link #console()}, a {@link ConsoleSink}) goes to
 * its receiveq. With named ports the device offers VIRTIO_CONSOLE_F_MULTIPORT: queues 2 and 3 are
 * the control queues and port N ≥ 1 has queues 2N+2 (receive) and 2N+3 (transmit). Without named
 * ports it offers no MULTIPORT: two queues, and Linux creates hvc0 synchronously while the driver
 * probes (no control handshake), which is what a console wants at boot.
 *
 * <h2>Multiport handshake</h2>
 * The driver sends DEVICE_READY; the device answers PORT_ADD for every port; the driver answers
 * each with PORT_READY; the device then sends CONSOLE_PORT (port 0, and RESIZE when it knows the
 * terminal size) or PORT_NAME (named ports), and PORT_OPEN(1) when the host side is connected. The
 * driver's PORT_OPEN(1/0) says whether the guest has the port open. Control messages the device
 * cannot send yet (no control receive buffers) wait in a bounded queue; malformed ones from the
 * driver (shorter than the 8-byte header, unknown event, port id out of range or not added, a value
 * other than 0 or 1) are ignored. A malformed descriptor chain in any queue fails the device, as in
 * every virtio device (the package {@code dev.vessel.devices.virtio} gives the policy).
 *
 * <h2>Input: never lost, bounded</h2>
 * Host input for a port waits in that port's {@link InputQueue} ({@link #INPUT_CAPACITY} bytes)
 * until the guest can take it: the driver has posted receive buffers and the port is open on the
 * guest side (Linux discards data that arrives at a port nobody has open). For the console without
 * MULTIPORT the device cannot see when Linux has hooked the port up to hvc (it discards input that
 * arrives in that window), so it delivers once the console has produced output or
 * {@link #CONSOLE_INPUT_GRACE_MILLIS} after the first receive buffers appeared, whichever comes
 * first. A full queue blocks {@link ConsoleSink#receiveBlocking}: the host stops reading.
 *
 * <h2>Output: the worker never waits for the host</h2>
 * Transmit buffers are copied into the port's {@link OutputPump} and returned to the driver at
 * once (Linux's hvc spins until they are); the pump's thread writes them to the host. When a pump
 * is full, the device leaves the rest of the transmit queue alone until it has room, so a slow host
 * slows the guest's writes down instead of growing memory or blocking the device's worker.
 * Emergency writes (VIRTIO_CONSOLE_F_EMERG_WRITE, a byte written to {@code emerg_wr}) join the
 * console's output in order.
 *
 * <h2>Configuration space</h2>
 * {@code le16 cols, le16 rows} (VIRTIO_CONSOLE_F_SIZE; 0 × 0 until {@link #resize} is called),
 * {@code le32 max_nr_ports} (1 + named ports), {@code le32 emerg_wr} (write-only). Without
 * MULTIPORT a size change raises a configuration-change interrupt, which Linux answers by reading
 * cols/rows and resizing hvc0; with MULTIPORT it sends a RESIZE control message for port 0.
 *
 * <p>Threading: the {@code AbstractVirtioDevice} contract. Host-side threads (stdin reader,
 * backends, pumps, timers) hand work to the worker with {@link VirtioContext#execute}.
 */
public final class VirtioConsole extends AbstractVirtioDevice implements AutoCloseable {
    /** Feature: cols and rows in the configuration space are valid. */
    public static final int F_SIZE = 0;
    /** Feature: several ports, control queues, max_nr_ports valid. */
    public static final int F_MULTIPORT = 1;
    /** Feature: the driver may write single bytes to emerg_wr. */
    public static final int F_EMERG_WRITE = 2;

    static final int CONFIG_COLS = 0;
    static final int CONFIG_ROWS = 2;
    static final int CONFIG_MAX_NR_PORTS = 4;
    static final int CONFIG_EMERG_WR = 8;
    static final int CONFIG_SIZE = 12;

    /** The most named ports (queues: 2 + 2 + 2 per named port). */
    public static final int MAX_NAMED_PORTS = 31;
    /** The longest port name in UTF-8 bytes. */
    public static final int MAX_NAME_BYTES = 255;
    /** Host input held per port for the guest before {@link ConsoleSink#receiveBlocking} blocks. */
    public static final int INPUT_CAPACITY = 64 * 1024;
    /** Guest output buffered per port on its way to the host before the device stops taking more. */
    public static final int OUTPUT_CAPACITY = 256 * 1024;
    /** Without MULTIPORT: how long after the console's first receive buffers input waits for the driver (see above). */
    public static final long CONSOLE_INPUT_GRACE_MILLIS = 500;

    static final int RECEIVE_QUEUE_SIZE = 64;
    static final int TRANSMIT_QUEUE_SIZE = 128;
    static final int CONTROL_QUEUE_SIZE = 32;
    static final int CONTROL_RECEIVEQ = 2;
    static final int CONTROL_TRANSMITQ = 3;
    /** Control messages waiting for control receive buffers; more means a driver that does not read them. */
    static final int MAX_PENDING_CONTROL = 64;
    /** How long a reset (VM stop) waits for buffered output to reach the host. */
    static final long DRAIN_ON_RESET_MILLIS = 2000;

    private static final System.Logger LOG = System.getLogger(VirtioConsole.class.getName());

    private final Port[] ports;
    private final boolean multiport;
    private final AtomicBoolean warnedControl = new AtomicBoolean();
    private volatile boolean closed;

    /** The current activation's state; only the worker touches it. */
    private Session session;

    /** A console only (port 0, no MULTIPORT): guest output goes to {@code consoleOut}. */
    public VirtioConsole(OutputStream consoleOut) throws IOException {
        this(consoleOut, Map.of());
    }

    /**
     * The console plus named ports, numbered 1, 2, ... in the map's iteration order (use a
     * LinkedHashMap); MULTIPORT is offered when there is at least one. Each backend is started.
     *
     * @throws IllegalArgumentException for more than {@link #MAX_NAMED_PORTS} ports or a bad name
     *     (empty, over {@link #MAX_NAME_BYTES} bytes, control characters or '/')
     */
    public VirtioConsole(OutputStream consoleOut, Map<String, ? extends PortBackend> namedPorts) throws IOException {
        this(consoleOut, namedPorts, !namedPorts.isEmpty());
    }

    /** {@code multiport} may force MULTIPORT for a console without named ports (tests). */
    VirtioConsole(OutputStream consoleOut, Map<String, ? extends PortBackend> namedPorts, boolean multiport)
            throws IOException {
        super(TYPE_CONSOLE, features(multiport), queueSizes(multiport, namedPorts.size()), CONFIG_SIZE);
        Objects.requireNonNull(consoleOut, "consoleOut");
        if (!multiport && !namedPorts.isEmpty()) {
            throw new IllegalArgumentException("named ports need MULTIPORT");
        }
        this.multiport = multiport;
        List<Port> list = new ArrayList<>();
        list.add(new Port(0, null, null, bytesTo(consoleOut)));
        Map<String, PortBackend> copy = new LinkedHashMap<>(namedPorts);
        for (Map.Entry<String, PortBackend> e : copy.entrySet()) {
            checkName(e.getKey());
            PortBackend backend = Objects.requireNonNull(e.getValue(), "backend of port " + e.getKey());
            list.add(new Port(list.size(), e.getKey(), backend, backend::write));
        }
        this.ports = list.toArray(Port[]::new);
        config.putU32(CONFIG_MAX_NR_PORTS, ports.length);
        ports[0].hostConnected = true;
        List<PortBackend> started = new ArrayList<>();
        try {
            for (int i = 1; i < ports.length; i++) {
                ports[i].backend.start(ports[i]);
                started.add(ports[i].backend);
            }
        } catch (IOException | RuntimeException e) {
            started.forEach(PortBackend::close);
            throw e;
        }
    }

    private static long features(boolean multiport) {
        long f = VirtioFeatures.bit(F_SIZE) | VirtioFeatures.bit(F_EMERG_WRITE);
        return multiport ? f | VirtioFeatures.bit(F_MULTIPORT) : f;
    }

    private static int[] queueSizes(boolean multiport, int named) {
        if (named > MAX_NAMED_PORTS) {
            throw new IllegalArgumentException("at most " + MAX_NAMED_PORTS + " named ports, not " + named);
        }
        if (!multiport) {
            return new int[] {RECEIVE_QUEUE_SIZE, TRANSMIT_QUEUE_SIZE};
        }
        int[] sizes = new int[4 + 2 * named];
        for (int i = 0; i < sizes.length; i++) {
            boolean control = i == CONTROL_RECEIVEQ || i == CONTROL_TRANSMITQ;
            sizes[i] = control ? CONTROL_QUEUE_SIZE : (i % 2 == 0 ? RECEIVE_QUEUE_SIZE : TRANSMIT_QUEUE_SIZE);
        }
        return sizes;
    }

    static void checkName(String name) {
        byte[] utf8 = name.getBytes(StandardCharsets.UTF_8);
        if (utf8.length == 0 || utf8.length > MAX_NAME_BYTES) {
            throw new IllegalArgumentException("port name must be 1.." + MAX_NAME_BYTES + " bytes: \"" + name + "\"");
        }
        for (int i = 0; i < name.length(); i++) {
            char c = name.charAt(i);
            if (c < 0x20 || c == 0x7f || c == '/') {
                throw new IllegalArgumentException("port name has a control character or '/': \"" + name + "\"");
            }
        }
    }

    private static OutputPump.Sink bytesTo(OutputStream out) {
        return (data, off, len) -> {
            out.write(data, off, len);
            out.flush();
        };
    }

    // ---------------------------------------------------------------------------------------------
    // Host side (any thread)

    /** Port 0's host side: host console input goes here (and its {@link HostPort} state). */
    public HostPort console() {
        return ports[0];
    }

    /** All ports, console first. */
    public List<HostPort> ports() {
        return List.of(ports);
    }

    /** Whether MULTIPORT is offered (named ports, or forced). */
    public boolean multiport() {
        return multiport;
    }

    /**
     * The host terminal's size changed (or is known now): the guest's hvc0 takes it (stty size).
     * Values are clamped to 0..65535. Safe from any thread (a SIGWINCH handler).
     */
    public void resize(int cols, int rows) {
        config.putU16(CONFIG_COLS, Math.clamp(cols, 0, 0xFFFF));
        config.putU16(CONFIG_ROWS, Math.clamp(rows, 0, 0xFFFF));
        configChanged(); // without MULTIPORT, Linux re-reads cols/rows on this interrupt
        VirtioContext c = context();
        if (c != null && multiport) {
            c.execute(() -> guarded(c, () -> {
                Session s = current(c);
                if (s != null && s.ports[0].ready) {
                    sendResize(s);
                }
            }));
        }
    }

    /** Host input bytes held for the guest on {@code port} (not yet in a receive buffer). */
    public int heldInput(int port) {
        return ports[port].input.available();
    }

    /** Bytes of console output that reached the host stream. */
    public long consoleBytesWritten() {
        return ports[0].output.written();
    }

    /**
     * Stops the host side: wakes threads blocked in receiveBlocking, lets the output pumps finish
     * (bounded), closes the backends. The guest-facing device stays consistent (its transport
     * resets it separately). Idempotent.
     */
    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        for (Port p : ports) {
            p.input.close();
            try {
                p.output.awaitDrained(DRAIN_ON_RESET_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            p.output.close();
            if (p.backend != null) {
                p.backend.close();
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Configuration space (vCPU threads)

    @Override
    public void writeConfig(int offset, int size, int value) {
        // emerg_wr: "the device MUST allow a write, even on an unconfigured device"; its low byte is output.
        if (offset == CONFIG_EMERG_WR) {
            ports[0].output.offer(new byte[] {(byte) value}, 0, 1);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Worker

    @Override
    protected void onActivate(VirtioContext ctx) {
        boolean mp = ctx.hasFeature(F_MULTIPORT);
        if (ctx.queue(0) == null || ctx.queue(1) == null) {
            ctx.fail("virtio-console: the driver did not enable port 0's queues");
            return;
        }
        if (mp && (ctx.queue(CONTROL_RECEIVEQ) == null || ctx.queue(CONTROL_TRANSMITQ) == null)) {
            ctx.fail("virtio-console: MULTIPORT without control queues");
            return;
        }
        Session s = new Session(ctx, mp, ctx.hasFeature(F_SIZE), ports.length);
        session = s;
        for (Port p : ports) {
            p.deliveryScheduled.set(false);
        }
        if (!mp) {
            s.ports[0].added = true;
            s.ports[0].ready = true;
        }
    }

    @Override
    protected void onReset() {
        Session s = session;
        session = null;
        for (Port p : ports) {
            if (s != null && s.ports[p.id].guestOpen && p.backend != null) {
                p.backend.guestConnected(false);
            }
            p.guestConnected = false;
        }
        // Output the guest already handed over (its last words before a power-off) reaches the host first.
        for (Port p : ports) {
            try {
                p.output.awaitDrained(DRAIN_ON_RESET_MILLIS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    @Override
    protected void processQueue(int index, Virtqueue queue) throws VirtqueueException {
        Session s = session;
        if (s == null || s.ctx != context()) {
            return;
        }
        if (s.multiport && index == CONTROL_RECEIVEQ) {
            flushControl(s);
        } else if (s.multiport && index == CONTROL_TRANSMITQ) {
            receiveControl(s, queue);
        } else {
            int port = index < 2 ? 0 : index / 2 - 1;
            if (port >= ports.length) {
                return;
            }
            if (index % 2 == 0) {
                deliver(s, ports[port], queue);
            } else {
                transmit(s, ports[port], queue);
            }
        }
    }

    static int receiveQueue(int port) {
        return port == 0 ? 0 : 2 * port + 2;
    }

    static int transmitQueue(int port) {
        return receiveQueue(port) + 1;
    }

    /** The session of activation {@code c} if it is still the current one (worker only). */
    private Session current(VirtioContext c) {
        Session s = session;
        return s != null && s.ctx == c && c.isLive() ? s : null;
    }

    @FunctionalInterface
    private interface Work {
        void run() throws VirtqueueException;
    }

    private static void guarded(VirtioContext c, Work work) {
        try {
            work.run();
        } catch (VirtqueueException e) {
            c.fail(e.getMessage());
        }
    }

    /** Guest output on {@code port}: into its pump, buffers back to the driver at once. */
    private void transmit(Session s, Port port, Virtqueue q) throws VirtqueueException {
        PortState ps = s.ports[port.id];
        int chains = 0;
        try {
            while (chains < q.size()) {
                if (ps.txChain == null) {
                    DescriptorChain c = q.pop();
                    if (c == null) {
                        break;
                    }
                    ps.txChain = c;
                    ps.txReader = c.reader();
                    if (port.id == 0 && !s.multiport) {
                        consoleLive(s); // hvc is up: it could not write otherwise
                    }
                }
                ChainReader r = ps.txReader;
                while (r.remaining() > 0 && port.output.append(r, r.remaining()) > 0) {
                    // copied as much as the pump took
                }
                if (r.remaining() > 0) {
                    int index = transmitQueue(port.id);
                    VirtioContext c = s.ctx;
                    port.output.whenSpace(() -> c.execute(() -> queueNotify(index)));
                    return;
                }
                q.addUsed(ps.txChain, 0);
                ps.txChain = null;
                ps.txReader = null;
                chains++;
            }
        } finally {
            s.ctx.notifyIfNeeded(q);
        }
        if (chains == q.size()) {
            int index = transmitQueue(port.id);
            s.ctx.execute(() -> queueNotify(index));
        }
    }

    /** Host input for {@code port} into the receive buffers the driver posted, as far as both go. */
    private void deliver(Session s, Port port, Virtqueue q) throws VirtqueueException {
        PortState ps = s.ports[port.id];
        if (!ps.guestOpen) {
            if (port.id == 0 && !s.multiport && !s.graceArmed) {
                // Without MULTIPORT: the console's driver is taking shape; see CONSOLE_INPUT_GRACE_MILLIS.
                s.graceArmed = true;
                VirtioContext c = s.ctx;
                CompletableFuture.delayedExecutor(CONSOLE_INPUT_GRACE_MILLIS, TimeUnit.MILLISECONDS)
                        .execute(() -> c.execute(() -> guarded(c, () -> {
                            Session now = current(c);
                            if (now != null) {
                                consoleLive(now);
                            }
                        })));
            }
            return;
        }
        int chains = 0;
        try {
            while (chains < q.size() && port.input.available() > 0) {
                DescriptorChain c = q.pop();
                if (c == null) {
                    break;
                }
                int n = c.writableLength() > 0 ? port.input.drainTo(c.writer()) : 0;
                q.addUsed(c, n);
                chains++;
            }
        } finally {
            s.ctx.notifyIfNeeded(q);
        }
        if (chains == q.size() && port.input.available() > 0) {
            int index = receiveQueue(port.id);
            s.ctx.execute(() -> queueNotify(index));
        }
    }

    /** Without MULTIPORT: port 0 is hooked up to hvc in the guest; input may flow, the size may be read. */
    private void consoleLive(Session s) throws VirtqueueException {
        PortState ps = s.ports[0];
        if (ps.guestOpen) {
            return;
        }
        ps.guestOpen = true;
        ports[0].guestConnected = true;
        if (s.sizeFeature && config.getU32(CONFIG_COLS) != 0) {
            configChanged(); // Linux reads cols/rows on a configuration change (and only then)
        }
        Virtqueue rx = s.ctx.queue(0);
        if (rx != null) {
            deliver(s, ports[0], rx);
        }
    }

    private void scheduleDelivery(Port port) {
        VirtioContext c = context();
        if (c == null || closed) {
            return; // the next activation delivers it
        }
        if (port.deliveryScheduled.compareAndSet(false, true)) {
            int index = receiveQueue(port.id);
            c.execute(() -> {
                port.deliveryScheduled.set(false);
                queueNotify(index);
            });
        }
    }

    // --- control queues (MULTIPORT) ------------------------------------------------------------

    private void receiveControl(Session s, Virtqueue q) throws VirtqueueException {
        int chains = 0;
        try {
            while (chains < q.size()) {
                DescriptorChain c = q.pop();
                if (c == null) {
                    break;
                }
                ControlMessage m = null;
                if (c.readableLength() >= ControlMessage.HEADER_SIZE) {
                    m = ControlMessage.decodeHeader(c.reader().readBytes(ControlMessage.HEADER_SIZE));
                } else {
                    LOG.log(System.Logger.Level.DEBUG, "virtio-console: short control message ignored ("
                            + c.readableLength() + " bytes)");
                }
                q.addUsed(c, 0);
                chains++;
                if (m != null) {
                    handleControl(s, m);
                }
            }
        } finally {
            s.ctx.notifyIfNeeded(q);
        }
        if (chains == q.size()) {
            s.ctx.execute(() -> queueNotify(CONTROL_TRANSMITQ));
        }
    }

    /** One message from the driver; anything malformed or out of turn is ignored. */
    private void handleControl(Session s, ControlMessage m) throws VirtqueueException {
        int event = m.event();
        if (event == ControlMessage.DEVICE_READY) {
            if (m.value() != 1) {
                LOG.log(System.Logger.Level.WARNING, "virtio-console: the driver failed to set up (DEVICE_READY 0)");
                return;
            }
            if (s.deviceReady) {
                return;
            }
            s.deviceReady = true;
            for (Port p : ports) {
                if (s.ctx.queue(receiveQueue(p.id)) != null && s.ctx.queue(transmitQueue(p.id)) != null) {
                    s.ports[p.id].added = true;
                    send(s, new ControlMessage(p.id, ControlMessage.PORT_ADD, 0));
                }
            }
            return;
        }
        long id = Integer.toUnsignedLong(m.id());
        if (id >= ports.length || !s.ports[(int) id].added || (m.value() != 0 && m.value() != 1)) {
            LOG.log(System.Logger.Level.DEBUG, "virtio-console: control message ignored: " + m);
            return;
        }
        Port p = ports[(int) id];
        PortState ps = s.ports[p.id];
        switch (event) {
            case ControlMessage.PORT_READY -> {
                if (m.value() == 0) {
                    LOG.log(System.Logger.Level.WARNING, "virtio-console: the driver failed to add port " + p.id);
                    ps.ready = false;
                    return;
                }
                if (ps.ready) {
                    return;
                }
                ps.ready = true;
                if (p.id == 0) {
                    send(s, new ControlMessage(0, ControlMessage.CONSOLE_PORT, 1));
                    if (s.sizeFeature && config.getU32(CONFIG_COLS) != 0) {
                        sendResize(s);
                    }
                } else {
                    send(s, new ControlMessage(p.id, ControlMessage.PORT_NAME, 0,
                            p.name.getBytes(StandardCharsets.UTF_8)));
                }
                if (p.hostConnected) {
                    send(s, new ControlMessage(p.id, ControlMessage.PORT_OPEN, 1));
                }
            }
            case ControlMessage.PORT_OPEN -> {
                boolean open = m.value() == 1;
                if (!ps.ready || ps.guestOpen == open) {
                    return;
                }
                ps.guestOpen = open;
                p.guestConnected = open;
                if (p.backend != null) {
                    p.backend.guestConnected(open);
                }
                if (open) {
                    Virtqueue rx = s.ctx.queue(receiveQueue(p.id));
                    if (rx != null) {
                        deliver(s, p, rx);
                    }
                }
            }
            default -> LOG.log(System.Logger.Level.DEBUG, "virtio-console: control message ignored: " + m);
        }
    }

    /**
     * RESIZE for the console. The virtio spec puts {@code le16 cols, le16 rows} after the header;
     * Linux before 6.14 (commit 5326ab737a47, "virtio_console: fix order of fields cols and rows")
     * reads rows first. Vessel follows the spec.
     */
    private void sendResize(Session s) throws VirtqueueException {
        byte[] size = new byte[4];
        int cols = config.getU16(CONFIG_COLS);
        int rows = config.getU16(CONFIG_ROWS);
        size[0] = (byte) cols;
        size[1] = (byte) (cols >>> 8);
        size[2] = (byte) rows;
        size[3] = (byte) (rows >>> 8);
        send(s, new ControlMessage(0, ControlMessage.RESIZE, 0, size));
    }

    private void send(Session s, ControlMessage m) throws VirtqueueException {
        if (s.controlOut.size() >= MAX_PENDING_CONTROL) {
            if (warnedControl.compareAndSet(false, true)) {
                LOG.log(System.Logger.Level.WARNING, "virtio-console: the driver takes no control messages; dropping " + m);
            }
            return;
        }
        s.controlOut.add(m.encode());
        flushControl(s);
    }

    /** Pending control messages into the control receive buffers the driver posted. */
    private void flushControl(Session s) throws VirtqueueException {
        Virtqueue q = s.ctx.queue(CONTROL_RECEIVEQ);
        if (q == null) {
            return;
        }
        try {
            while (!s.controlOut.isEmpty()) {
                DescriptorChain c = q.pop();
                if (c == null) {
                    break;
                }
                byte[] m = s.controlOut.poll();
                if (c.writableLength() >= m.length) {
                    c.writer().write(m);
                    q.addUsed(c, m.length);
                } else {
                    LOG.log(System.Logger.Level.DEBUG, "virtio-console: control buffer too small ("
                            + c.writableLength() + " bytes), message dropped");
                    q.addUsed(c, 0);
                }
            }
        } finally {
            s.ctx.notifyIfNeeded(q);
        }
    }

    private void hostConnectionChanged(Port p) {
        VirtioContext c = context();
        if (c == null || !multiport) {
            return;
        }
        c.execute(() -> guarded(c, () -> {
            Session s = current(c);
            if (s != null && s.multiport && s.ports[p.id].ready) {
                send(s, new ControlMessage(p.id, ControlMessage.PORT_OPEN, p.hostConnected ? 1 : 0));
            }
        }));
    }

    // ---------------------------------------------------------------------------------------------

    /** Per-activation state, confined to the worker. */
    private static final class Session {
        final VirtioContext ctx;
        final boolean multiport;
        final boolean sizeFeature;
        final PortState[] ports;
        final ArrayDeque<byte[]> controlOut = new ArrayDeque<>();
        boolean deviceReady;
        boolean graceArmed;

        Session(VirtioContext ctx, boolean multiport, boolean sizeFeature, int portCount) {
            this.ctx = ctx;
            this.multiport = multiport;
            this.sizeFeature = sizeFeature;
            this.ports = new PortState[portCount];
            for (int i = 0; i < portCount; i++) {
                ports[i] = new PortState();
            }
        }
    }

    /** One port within an activation. */
    private static final class PortState {
        /** A transmit chain partly copied into a full pump. */
        DescriptorChain txChain;
        ChainReader txReader;
        /** PORT_ADD sent (always true without MULTIPORT). */
        boolean added;
        /** The driver confirmed the port (PORT_READY 1). */
        boolean ready;
        /** The guest has the port open: input may be delivered. */
        boolean guestOpen;
    }

    /** A port for the device's lifetime: its host side. */
    private final class Port implements HostPort {
        final int id;
        final String name;
        final PortBackend backend;
        final InputQueue input;
        final OutputPump output;
        final AtomicBoolean deliveryScheduled = new AtomicBoolean();
        volatile boolean hostConnected;
        volatile boolean guestConnected;

        Port(int id, String name, PortBackend backend, OutputPump.Sink sink) {
            this.id = id;
            this.name = name;
            this.backend = backend;
            this.input = new InputQueue(INPUT_CAPACITY, () -> scheduleDelivery(this));
            this.output = new OutputPump("virtio-console-" + (name == null ? "hvc" : "port" + id) + "-out", sink,
                    OUTPUT_CAPACITY);
        }

        @Override
        public int id() {
            return id;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public void receiveBlocking(byte[] data, int off, int len) throws InterruptedException {
            input.put(data, off, len);
        }

        @Override
        public void setHostConnected(boolean connected) {
            if (id == 0 || hostConnected == connected) {
                return;
            }
            hostConnected = connected;
            hostConnectionChanged(this);
        }

        @Override
        public boolean isHostConnected() {
            return hostConnected;
        }

        @Override
        public boolean isGuestConnected() {
            return guestConnected;
        }

        @Override
        public String toString() {
            return "virtio-console port " + id + (name == null ? " (console)" : " \"" + name + "\"");
        }
    }
}
