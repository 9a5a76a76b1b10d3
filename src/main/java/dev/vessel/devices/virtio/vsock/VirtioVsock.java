package dev.vessel.devices.virtio.vsock;

import static dev.vessel.devices.virtio.vsock.VsockHeader.*;

import dev.vessel.devices.virtio.AbstractVirtioDevice;
import dev.vessel.devices.virtio.VirtioContext;
import dev.vessel.devices.virtio.queue.ChainReader;
import dev.vessel.devices.virtio.queue.ChainWriter;
import dev.vessel.devices.virtio.queue.DescriptorChain;
import dev.vessel.devices.virtio.queue.Virtqueue;
import dev.vessel.devices.virtio.queue.VirtqueueException;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channel;
import java.nio.channels.SelectionKey;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * virtio-vsock (virtio 1.2 §5.10, device type 19) served entirely in user space, with the host side
 * on Unix sockets the way Firecracker's "hybrid vsock" does it. The guest has CID {@code guestCid}
 * (configuration space: {@code le64 guest_cid}); the host is CID 2. Stream sockets only (no feature
 * bits: VIRTIO_VSOCK_F_SEQPACKET is not offered).
 *
 * <h2>Host side</h2>
 * <ul>
 *   <li><b>Host to guest.</b> The device listens on the Unix socket {@code PATH}. A host client
 *   connects and writes {@code CONNECT <port>\n}; the device sends the guest a REQUEST from host
 *   port {@code hostport} (a fresh local port, {@code >= 2^30}) to guest port {@code port}. On the
 *   guest's RESPONSE the client reads {@code OK <hostport>\n}, and from then on the socket carries
 *   the stream both ways. If the guest refuses (RST), or the device is reset, the client's socket is
 *   closed. A malformed line (more than {@value #CONNECT_LINE_MAX} bytes, not {@code CONNECT} and a
 *   decimal port) closes it too. Clients that connect before the guest's driver is up wait in the
 *   listen backlog.</li>
 *   <li><b>Guest to host.</b> A guest connection to CID 2 port {@code P} makes the device connect to
 *   the Unix socket {@code PATH_P} (e.g. {@code /tmp/v.sock_5000}); if nothing listens there, the
 *   guest gets RST (its connect fails with ECONNRESET). With a {@link VsockUplink} (the VMM runs in
 *   the helper machine) the device asks the host's relay instead; that handshake blocks, so it runs
 *   on a virtual thread, never on the worker, and is bounded by
 *   {@link VsockUplink#handshakeTimeout} (10 s by default) for connect, request and answer together:
 *   a host peer that never answers holds one connection slot that long, and every other connection
 *   keeps flowing. The guest's REQUEST is answered (RESPONSE or RST) when the handshake ends; its
 *   RST, or a device reset, aborts the handshake.</li>
 * </ul>
 *
 * <h2>Protocol</h2>
 * One connection per (host port, guest port) pair, with the state machine of §5.10.6: REQUEST /
 * RESPONSE, RW, CREDIT_UPDATE / CREDIT_REQUEST, SHUTDOWN with its RCV and SEND flags, RST. Closing
 * is graceful: the guest's SHUTDOWN(SEND) becomes a half-close of the host socket once the data
 * before it was delivered; its SHUTDOWN(RCV|SEND) is answered with RST after that, and the host
 * socket is closed. A host socket's end of stream becomes SHUTDOWN(SEND) to the guest; once both
 * directions are finished the device closes the connection with RST. A failed write to the host
 * socket resets the connection.
 *
 * <h2>Flow control</h2>
 * Host to guest: data is read from the host socket straight into the guest's rx buffers, never
 * more than the guest's credit ({@code buf_alloc - (tx_cnt - fwd_cnt)}, from the last packet it
 * sent) and never while the rx queue is empty: the device buffers nothing in this direction, and a
 * host socket is not read while its connection has no credit or the guest has no buffers
 * (backpressure reaches the host writer through the socket). When the credit is used up and data is
 * waiting, the device sends one CREDIT_REQUEST. Guest to host: the device advertises
 * {@code buf_alloc} ({@link Limits#bufAlloc}) per connection; what the host socket does not take at
 * once waits in the connection's {@link ByteRing}: one array, never more than {@code buf_alloc} bytes
 * held or allocated, however the guest slices its data (its whole credit in one-byte packets costs
 * the host what one big packet does, not an object per packet), each byte copied once in and once
 * out. A guest that sends more than its credit gets RST. The device's fwd_cnt counts bytes the host
 * socket took; it sends CREDIT_UPDATE when a quarter of {@code buf_alloc} was consumed since the
 * guest last heard its fwd_cnt (every packet carries it), and whenever the guest asks
 * (CREDIT_REQUEST).
 *
 * <h2>The guest is hostile</h2>
 * Every tx packet's header is copied and checked before use. A chain shorter than a header, or a
 * packet whose {@code src_cid} is not the guest's, is dropped. A packet for another CID than the
 * host, of another type than STREAM, with an unknown op, a length beyond the chain, above
 * {@value #MAX_PAYLOAD} bytes or on an op that carries no payload, or an op the connection's state
 * does not allow, gets RST (and resets its connection, if there is one); an RST is never answered.
 * RST replies that the guest gives no rx buffers for are capped. At most
 * {@link Limits#maxConnections} connections exist at once; past that, host clients are closed and
 * guest requests reset. Nothing from the guest makes the device throw or fail; only a broken ring
 * does (DEVICE_NEEDS_RESET, from the core).
 *
 * <h2>Threads</h2>
 * The host sockets are non-blocking and all I/O on them, like all protocol state, belongs to the
 * device's worker (the uplink's handshake, before its socket joins, is the one exception, see
 * above). A {@link HostPoller} thread, started on DRIVER_OK, waits for readiness and hands it to the
 * worker ({@link VirtioContext#execute}). Reset stops the poller, closes every connection
 * and forgets every chain; the listener stays bound until {@link #close()} (a JVM shutdown hook
 * also closes it and removes the socket file when the VMM exits).
 */
public final class VirtioVsock extends AbstractVirtioDevice implements AutoCloseable {
    /** The host's CID. */
    public static final long HOST_CID = 2;
    /** The guest's default CID. */
    public static final long DEFAULT_GUEST_CID = 3;
    public static final int RX_QUEUE = 0;
    public static final int TX_QUEUE = 1;
    public static final int EVENT_QUEUE = 2;
    /** The maximum size of each queue. */
    public static final int QUEUE_SIZE = 256;
    /** The largest payload one packet may carry (Linux's VIRTIO_VSOCK_MAX_PKT_BUF_SIZE). */
    public static final int MAX_PAYLOAD = 64 * 1024;
    /** The longest {@code CONNECT <port>} line, newline included. */
    public static final int CONNECT_LINE_MAX = 64;
    /** The first local port for host-initiated connections (below: ports guests connect to). */
    public static final int FIRST_LOCAL_PORT = 1 << 30;
    /** RST replies not tied to a live connection that may wait for rx buffers; more are dropped. */
    static final int MAX_QUEUED_REPLIES = 256;
    static final int CONFIG_SIZE = 8;
    private static final int MAX_ACCEPTS_PER_ROUND = 64;
    private static final Object LISTENER = new Object();
    private static final System.Logger LOG = System.getLogger(VirtioVsock.class.getName());

    /**
     * Per-device limits.
     *
     * @param bufAlloc the receive buffer the device advertises per connection: the most guest data
     *     it holds for one host socket; 4 KiB..64 MiB
     * @param maxConnections the most connections (including host clients still sending their
     *     CONNECT line) at once, 1..65536
     */
    public record Limits(int bufAlloc, int maxConnections) {
        public static final Limits DEFAULT = new Limits(256 * 1024, 256);

        public Limits {
            if (bufAlloc < 4096 || bufAlloc > (64 << 20)) {
                throw new IllegalArgumentException("bufAlloc must be 4 KiB..64 MiB: " + bufAlloc);
            }
            if (maxConnections < 1 || maxConnections > 65536) {
                throw new IllegalArgumentException("maxConnections must be 1..65536: " + maxConnections);
            }
        }
    }

    /** A snapshot for tests and diagnostics; take it on the worker. */
    record Stats(int connections, int awaitingConnectLine, int connectingToHost, long bufferedForHost,
            long bufferObjects, long bufferCapacity, int queuedReplies, boolean pollerRunning) {}

    private final Path socketPath;
    /** Where guest connections to the host go instead of {@code PATH_port}, or null (see {@link VsockUplink}). */
    private volatile VsockUplink uplink;
    private final long guestCid;
    private final Limits limits;
    private final ServerSocketChannel listener;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Thread cleanupHook;

    // Worker-only state of the current activation.
    private VirtioContext ctx;
    private HostPoller poller;
    private SelectionKey listenerKey;
    private final Map<Long, VsockConnection> connections = new HashMap<>();
    private final Set<VsockConnection> accepted = new LinkedHashSet<>();
    private final ArrayDeque<VsockConnection> rxWork = new ArrayDeque<>();
    private final ArrayDeque<VsockHeader> replies = new ArrayDeque<>();
    /** An rx chain popped but not filled (the data it was for was not there after all). */
    private DescriptorChain heldRx;
    private boolean rxPumpScheduled;
    private int nextLocalPort = FIRST_LOCAL_PORT;

    private final AtomicLong droppedPackets = new AtomicLong();
    private final AtomicLong invalidPackets = new AtomicLong();
    private final AtomicLong resetsSent = new AtomicLong();
    private final AtomicLong repliesDropped = new AtomicLong();
    private final AtomicLong bytesToGuest = new AtomicLong();
    private final AtomicLong bytesToHost = new AtomicLong();

    /**
     * A device with the default guest CID and limits, listening on {@code socketPath}.
     *
     * @throws IOException if the socket cannot be bound (a stale socket file nobody listens on is
     *     replaced; anything else at that path is an error)
     */
    public static VirtioVsock open(Path socketPath) throws IOException {
        return new VirtioVsock(socketPath, DEFAULT_GUEST_CID, Limits.DEFAULT);
    }

    /**
     * @param socketPath the host-side Unix socket; guest connections to port P go to {@code socketPath_P}
     * @param guestCid the guest's CID, 3..0xFFFFFFFE
     */
    public VirtioVsock(Path socketPath, long guestCid, Limits limits) throws IOException {
        super(TYPE_VSOCK, 0, new int[] {QUEUE_SIZE, QUEUE_SIZE, QUEUE_SIZE}, CONFIG_SIZE);
        if (guestCid < 3 || guestCid > 0xFFFF_FFFEL) {
            throw new IllegalArgumentException("guest CID must be 3..4294967294: " + guestCid);
        }
        this.socketPath = socketPath.toAbsolutePath();
        this.guestCid = guestCid;
        this.limits = Objects.requireNonNull(limits, "limits");
        config.putU64(0, guestCid);
        this.listener = bind(this.socketPath);
        this.cleanupHook = Thread.ofPlatform().name("vsock-cleanup").unstarted(this::closeListener);
        try {
            Runtime.getRuntime().addShutdownHook(cleanupHook);
        } catch (IllegalStateException e) {
            // Already shutting down.
        }
    }

    /** Sends guest connections to the host through {@code uplink} (the VMM runs in the helper machine). */
    public VirtioVsock withUplink(VsockUplink uplink) {
        this.uplink = uplink;
        return this;
    }

    public Path socketPath() {
        return socketPath;
    }

    public long guestCid() {
        return guestCid;
    }

    public Limits limits() {
        return limits;
    }

    /** Guest packets dropped without an answer (short chain, wrong source CID). */
    public long droppedPackets() {
        return droppedPackets.get();
    }

    /** Guest packets that were invalid (answered with RST or dropped). */
    public long invalidPackets() {
        return invalidPackets.get();
    }

    /** RST packets sent to the guest. */
    public long resetsSent() {
        return resetsSent.get();
    }

    /** RST replies dropped because the guest gave no rx buffers for them. */
    public long repliesDropped() {
        return repliesDropped.get();
    }

    /** Payload bytes delivered into guest rx buffers. */
    public long bytesToGuest() {
        return bytesToGuest.get();
    }

    /** Guest payload bytes written to host sockets. */
    public long bytesToHost() {
        return bytesToHost.get();
    }

    // ---------------------------------------------------------------------------------------------
    // Lifecycle

    @Override
    protected void onActivate(VirtioContext context) {
        if (context.queue(RX_QUEUE) == null || context.queue(TX_QUEUE) == null) {
            context.fail("virtio-vsock needs its rx and tx queues");
            return;
        }
        if (closed.get()) {
            context.fail("the vsock device was closed");
            return;
        }
        ctx = context;
        try {
            poller = new HostPoller("vsock-" + socketPath.getFileName(), context::execute, this::onHostReady);
            listenerKey = poller.register(listener, SelectionKey.OP_ACCEPT, LISTENER);
            poller.start();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "virtio-vsock: cannot watch " + socketPath + ": " + e, e);
            if (poller != null) {
                poller.close();
                poller = null;
            }
            ctx = null;
            context.fail("cannot watch the host socket: " + e.getMessage());
        }
    }

    @Override
    protected void onReset() {
        if (poller != null) {
            poller.close();
            poller = null;
        }
        listenerKey = null;
        for (VsockConnection c : connections.values()) {
            c.state = VsockConnection.State.CLOSED;
            closeQuietly(c.channel);
        }
        for (VsockConnection c : accepted) {
            c.state = VsockConnection.State.CLOSED;
            closeQuietly(c.channel);
        }
        connections.clear();
        accepted.clear();
        rxWork.clear();
        replies.clear();
        heldRx = null;
        rxPumpScheduled = false;
        ctx = null;
    }

    /** Closes the listener and removes its socket file; call after the VM stopped (reset). Idempotent. */
    @Override
    public void close() {
        closeListener();
        try {
            Runtime.getRuntime().removeShutdownHook(cleanupHook);
        } catch (IllegalStateException e) {
            // Shutting down: the hook runs (or ran) closeListener, which is idempotent.
        }
    }

    private void closeListener() {
        if (closed.compareAndSet(false, true)) {
            closeQuietly(listener);
            try {
                Files.deleteIfExists(socketPath);
            } catch (IOException e) {
                LOG.log(System.Logger.Level.DEBUG, "removing " + socketPath + ": " + e, e);
            }
        }
    }

    private static ServerSocketChannel bind(Path path) throws IOException {
        if (Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            if (!isSocket(path)) {
                throw new IOException(path + " exists and is not a socket");
            }
            if (someoneListens(path)) {
                throw new IOException(path + " is in use: another process listens on it");
            }
            Files.delete(path); // a stale socket of a VMM that is gone
        }
        ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            s.bind(UnixDomainSocketAddress.of(path), 128);
            s.configureBlocking(false);
        } catch (IOException | RuntimeException e) {
            closeQuietly(s);
            throw new IOException("cannot listen on " + path + ": " + e.getMessage(), e);
        }
        return s;
    }

    private static boolean isSocket(Path path) {
        try {
            int mode = (Integer) Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
            return (mode & 0170000) == 0140000;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static boolean someoneListens(Path path) {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.configureBlocking(false);
            ch.connect(UnixDomainSocketAddress.of(path)); // true, or false when the backlog is full: both mean a listener
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Queues

    @Override
    protected void processQueue(int index, Virtqueue queue) throws VirtqueueException {
        if (ctx == null) {
            return;
        }
        if (index == TX_QUEUE) {
            drain(queue, chain -> {
                handleTx(chain);
                return 0;
            });
            pumpRx();
        } else if (index == RX_QUEUE) {
            pumpRx();
        }
        // The event queue: the device keeps the driver's buffers; it has no event to report (a
        // transport reset event only matters after a snapshot restore).
    }

    /** Fills rx buffers with what is owed to the guest: replies, control packets, host data. */
    private void pumpRx() {
        VirtioContext c = ctx;
        if (c == null) {
            return;
        }
        try {
            fillRxQueue(c);
        } catch (VirtqueueException e) {
            c.fail(e.getMessage());
        }
    }

    private void fillRxQueue(VirtioContext c) throws VirtqueueException {
        Virtqueue q = c.queue(RX_QUEUE);
        int budget = q.size();
        int misses = 0;
        try {
            while (budget > 0 && (!replies.isEmpty() || !rxWork.isEmpty())) {
                DescriptorChain chain = heldRx;
                heldRx = null;
                if (chain == null) {
                    chain = q.pop();
                    if (chain == null) {
                        break;
                    }
                }
                if (chain.writableLength() <= VsockHeader.SIZE) {
                    q.addUsed(chain, 0); // cannot hold a packet; the driver gets it back empty
                    budget--;
                    continue;
                }
                int written;
                if (!replies.isEmpty()) {
                    written = writePacket(chain, replies.pollFirst());
                } else {
                    VsockConnection conn = rxWork.pollFirst();
                    conn.queued = false;
                    written = conn.state == VsockConnection.State.CLOSED ? 0 : fillRx(conn, chain);
                    if (conn.state != VsockConnection.State.CLOSED) {
                        if (written > 0) {
                            refresh(conn);
                        } else {
                            updateInterest(conn);
                        }
                    }
                }
                if (written == 0) {
                    heldRx = chain;
                    if (++misses > 2 * QUEUE_SIZE + MAX_QUEUED_REPLIES) {
                        break; // cannot happen (every miss dequeues a connection for good); never spin
                    }
                    continue;
                }
                q.addUsed(chain, written);
                budget--;
            }
        } finally {
            c.notifyIfNeeded(q);
        }
        if (budget == 0 && (!replies.isEmpty() || !rxWork.isEmpty()) && !rxPumpScheduled) {
            rxPumpScheduled = true; // let the tx queue and the host sockets have the worker too
            c.execute(() -> {
                rxPumpScheduled = false;
                pumpRx();
            });
        }
    }

    /** Puts the next packet {@code conn} owes the guest into {@code chain}; returns the bytes written, 0 if none. */
    private int fillRx(VsockConnection conn, DescriptorChain chain) throws VirtqueueException {
        if (conn.pendingRequest) {
            conn.pendingRequest = false;
            conn.requestSent = true;
            return writePacket(chain, header(conn, OP_REQUEST, 0, 0));
        }
        if (conn.pendingResponse) {
            conn.pendingResponse = false;
            conn.responseSent = true;
            return writePacket(chain, header(conn, OP_RESPONSE, 0, 0));
        }
        if (conn.hostReadable && conn.hostToGuestOpen() && conn.peerCredit() > 0) {
            int n = readHostInto(conn, chain);
            if (n > 0) {
                return VsockHeader.SIZE + n;
            }
            conn.hostReadable = false;
            if (n == -1) { // end of stream: the host sends no more
                conn.hostEof = true;
                int w = writePacket(chain, header(conn, OP_SHUTDOWN, SHUTDOWN_SEND, 0));
                maybeFinish(conn);
                return w;
            }
            if (n == -2) { // the host socket failed
                int w = writePacket(chain, header(conn, OP_RST, 0, 0));
                resetsSent.incrementAndGet();
                closeConnection(conn);
                return w;
            }
        }
        if (conn.pendingCreditUpdate) {
            return writePacket(chain, header(conn, OP_CREDIT_UPDATE, 0, 0));
        }
        if (conn.pendingCreditRequest) {
            conn.pendingCreditRequest = false;
            return writePacket(chain, header(conn, OP_CREDIT_REQUEST, 0, 0));
        }
        return 0;
    }

    /**
     * Reads from the host socket straight into the chain's payload area (up to the guest's credit),
     * then writes the RW header in front. Returns the payload length, 0 if the socket had nothing,
     * -1 at end of stream, -2 on a socket error.
     */
    private int readHostInto(VsockConnection conn, DescriptorChain chain) throws VirtqueueException {
        int max = (int) Math.min(Math.min(chain.writableLength() - VsockHeader.SIZE, MAX_PAYLOAD), conn.peerCredit());
        ChainWriter w = chain.writer();
        w.skip(VsockHeader.SIZE);
        List<ByteBuffer> pieces = new ArrayList<>(2);
        int left = max;
        while (left > 0) {
            MemorySegment s = w.nextSegment(left);
            if (s.byteSize() == 0) {
                break;
            }
            pieces.add(s.asByteBuffer());
            left -= (int) s.byteSize();
        }
        long n;
        try {
            n = pieces.size() == 1 ? conn.channel.read(pieces.get(0))
                    : conn.channel.read(pieces.toArray(new ByteBuffer[0]));
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "virtio-vsock: reading " + conn + ": " + e);
            return -2;
        }
        if (n <= 0) {
            return (int) n;
        }
        int len = (int) n;
        chain.writer().write(header(conn, OP_RW, 0, len).encode());
        conn.txCnt += len;
        bytesToGuest.addAndGet(len);
        return len;
    }

    /** Writes a header-only packet; returns its length. */
    private static int writePacket(DescriptorChain chain, VsockHeader h) throws VirtqueueException {
        chain.writer().write(h.encode());
        return VsockHeader.SIZE;
    }

    /** A packet header from the host side of {@code conn}; it tells the guest our fwd_cnt. */
    private VsockHeader header(VsockConnection conn, int op, int flags, int len) {
        conn.lastSentFwdCnt = conn.fwdCnt;
        conn.pendingCreditUpdate = false;
        return new VsockHeader(HOST_CID, guestCid, conn.hostPort, conn.guestPort, len, TYPE_STREAM, op, flags,
                limits.bufAlloc(), conn.fwdCnt);
    }

    // ---------------------------------------------------------------------------------------------
    // Guest packets (tx queue)

    private void handleTx(DescriptorChain chain) throws VirtqueueException {
        ChainReader r = chain.reader();
        if (r.remaining() < VsockHeader.SIZE) {
            droppedPackets.incrementAndGet();
            invalidPackets.incrementAndGet();
            return;
        }
        VsockHeader h = VsockHeader.decode(r.readBytes(VsockHeader.SIZE));
        if (h.srcCid() != guestCid) {
            droppedPackets.incrementAndGet();
            invalidPackets.incrementAndGet();
            LOG.log(System.Logger.Level.DEBUG, () -> "virtio-vsock: dropped a packet with a forged source: " + h);
            return;
        }
        int op = h.op();
        if (h.dstCid() != HOST_CID || h.type() != TYPE_STREAM) {
            invalid(h, null); // the connection with these ports, if any, is another one: leave it
            return;
        }
        VsockConnection conn = connections.get(VsockConnection.key(h.dstPort(), h.srcPort()));
        int len = h.len();
        boolean badLength = Integer.compareUnsigned(len, MAX_PAYLOAD) > 0
                || Integer.compareUnsigned(len, r.remaining()) > 0 || (op != OP_RW && len != 0);
        if (op < OP_REQUEST || op > OP_CREDIT_REQUEST || badLength) {
            invalid(h, conn);
            return;
        }
        if (conn == null) {
            if (op == OP_REQUEST) {
                guestConnect(h);
            } else if (op != OP_RST) {
                invalid(h, null);
            }
            return;
        }
        if (op == OP_RST) {
            closeConnection(conn); // the guest's abortive close, or its refusal of our REQUEST
            return;
        }
        conn.peerBufAlloc = h.bufAlloc();
        conn.peerFwdCnt = h.fwdCnt();
        conn.creditRequested = false;
        switch (conn.state) {
            case CONNECTING_TO_GUEST -> {
                if (op == OP_RESPONSE && conn.requestSent) {
                    guestAccepted(conn);
                } else {
                    invalid(h, conn);
                    return;
                }
            }
            case ESTABLISHED -> {
                if (!conn.hostInitiated && !conn.responseSent) {
                    invalid(h, conn); // it cannot know the connection yet
                    return;
                }
                switch (op) {
                    case OP_RW -> guestData(conn, h, r);
                    case OP_CREDIT_UPDATE -> { } // the credit fields were taken above
                    case OP_CREDIT_REQUEST -> conn.pendingCreditUpdate = true;
                    case OP_SHUTDOWN -> {
                        conn.peerShutdown |= h.flags() & SHUTDOWN_BOTH;
                        maybeFinish(conn);
                    }
                    default -> invalid(h, conn); // REQUEST or RESPONSE on an established connection
                }
            }
            default -> {
                invalid(h, conn);
                return;
            }
        }
        if (conn.state != VsockConnection.State.CLOSED) {
            refresh(conn);
        }
    }

    /** An invalid packet: reset its connection if it has one, else answer RST (unless it is one). */
    private void invalid(VsockHeader h, VsockConnection conn) {
        invalidPackets.incrementAndGet();
        LOG.log(System.Logger.Level.DEBUG, () -> "virtio-vsock: invalid packet " + h
                + (conn == null ? "" : " on " + conn));
        if (conn != null) {
            resetConnection(conn);
        } else if (h.op() != OP_RST) {
            int type = h.type() == TYPE_SEQPACKET ? TYPE_SEQPACKET : TYPE_STREAM;
            queueReply(new VsockHeader(h.dstCid(), guestCid, h.dstPort(), h.srcPort(), 0, type, OP_RST, 0,
                    limits.bufAlloc(), 0), false);
        }
    }

    private void queueReply(VsockHeader rst, boolean forConnection) {
        int cap = MAX_QUEUED_REPLIES + (forConnection ? limits.maxConnections() : 0);
        if (replies.size() >= cap) {
            repliesDropped.incrementAndGet();
            return;
        }
        replies.addLast(rst);
        resetsSent.incrementAndGet();
    }

    /** The guest connects to host port {@code h.dstPort()}: connect to {@code PATH_port}. */
    private void guestConnect(VsockHeader h) {
        if (connections.size() + accepted.size() >= limits.maxConnections()) {
            LOG.log(System.Logger.Level.DEBUG, () -> "virtio-vsock: connection limit reached, refusing " + h);
            invalid(h, null);
            return;
        }
        VsockUplink up = uplink;
        if (up != null) {
            uplinkConnect(h, up);
            return;
        }
        String path = socketPath + "_" + Integer.toUnsignedString(h.dstPort());
        SocketChannel ch = null;
        try {
            ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            ch.configureBlocking(false);
            if (!ch.connect(UnixDomainSocketAddress.of(path))) { // a local Unix socket connects at once or never
                throw new IOException("its listen backlog is full");
            }
        } catch (IOException | RuntimeException e) {
            closeQuietly(ch);
            LOG.log(System.Logger.Level.DEBUG, () -> "virtio-vsock: guest connection to " + path + " refused: " + e);
            refuse(h);
            return;
        }
        VsockConnection conn = newGuestConnection(ch, h);
        if (register(conn)) {
            connections.put(conn.key(), conn);
            refresh(conn);
        } else {
            invalid(h, null);
        }
    }

    private VsockConnection newGuestConnection(SocketChannel ch, VsockHeader h) {
        VsockConnection conn = new VsockConnection(ch, false, VsockConnection.State.ESTABLISHED, 0,
                limits.bufAlloc());
        conn.hostPort = h.dstPort();
        conn.guestPort = h.srcPort();
        conn.peerBufAlloc = h.bufAlloc();
        conn.peerFwdCnt = h.fwdCnt();
        conn.pendingResponse = true;
        return conn;
    }

    /** Watches the now non-blocking host socket of {@code conn}; false (socket closed) if that fails. */
    private boolean register(VsockConnection conn) {
        try {
            conn.channel.configureBlocking(false);
            conn.key = poller.register(conn.channel, 0, conn);
            return true;
        } catch (IOException | RuntimeException e) {
            closeQuietly(conn.channel);
            return false;
        }
    }

    /** The guest's connect fails: RST from the port it wanted. */
    private void refuse(VsockHeader h) {
        queueReply(new VsockHeader(HOST_CID, guestCid, h.dstPort(), h.srcPort(), 0, TYPE_STREAM, OP_RST, 0,
                limits.bufAlloc(), 0), false);
    }

    /**
     * The uplink's handshake can wait on a slow or silent relay, so it runs on a virtual thread of
     * its own, bounded by {@link VsockUplink#handshakeTimeout}; meanwhile the connection is in the
     * table as CONNECTING_TO_HOST (it counts against the limit, and the guest's RST or a device
     * reset closes its channel, which aborts the handshake). The result comes back to the worker.
     */
    private void uplinkConnect(VsockHeader h, VsockUplink up) {
        SocketChannel ch;
        try {
            ch = SocketChannel.open();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "virtio-vsock: cannot open a socket for the uplink: " + e);
            refuse(h);
            return;
        }
        VsockConnection conn = newGuestConnection(ch, h);
        conn.state = VsockConnection.State.CONNECTING_TO_HOST;
        conn.pendingResponse = false;
        connections.put(conn.key(), conn);
        VirtioContext c = ctx;
        long port = Integer.toUnsignedLong(h.dstPort());
        Thread.ofVirtual().name("vsock-uplink-" + port).start(() -> {
            Exception failure = null;
            try {
                up.handshake(ch, port);
            } catch (IOException | RuntimeException e) {
                failure = e;
            }
            Exception f = failure;
            c.execute(() -> uplinkDone(conn, f));
        });
    }

    /** On the worker: the uplink's handshake for {@code conn} ended, with {@code failure} or ready. */
    private void uplinkDone(VsockConnection conn, Exception failure) {
        if (conn.state != VsockConnection.State.CONNECTING_TO_HOST) {
            return; // closed meanwhile (guest RST, invalid packet, reset): its channel is closed
        }
        if (failure != null) {
            LOG.log(System.Logger.Level.DEBUG, () -> "virtio-vsock: " + conn + " refused by the uplink: " + failure);
            resetConnection(conn);
        } else if (register(conn)) {
            conn.state = VsockConnection.State.ESTABLISHED;
            conn.pendingResponse = true;
            refresh(conn);
        } else {
            resetConnection(conn);
        }
        pumpRx();
    }

    /** The guest accepted a host-initiated connection: tell the host client. */
    private void guestAccepted(VsockConnection conn) {
        conn.state = VsockConnection.State.ESTABLISHED;
        conn.preamble = ByteBuffer.wrap(("OK " + Integer.toUnsignedString(conn.hostPort) + "\n")
                .getBytes(StandardCharsets.US_ASCII));
        flushToHost(conn);
    }

    /** RW from the guest: to the host socket at once if it takes it, else into the connection's buffer. */
    private void guestData(VsockConnection conn, VsockHeader h, ChainReader r) throws VirtqueueException {
        if ((conn.peerShutdown & SHUTDOWN_SEND) != 0) {
            invalid(h, conn); // data after it said it sends no more
            return;
        }
        int len = h.len();
        if (len == 0) {
            return;
        }
        // What the host socket has not taken (rx_cnt - fwd_cnt) plus this packet must fit in buf_alloc.
        if (len > conn.out.free()) {
            LOG.log(System.Logger.Level.DEBUG, () -> "virtio-vsock: guest exceeded its credit on " + conn);
            invalid(h, conn);
            return;
        }
        conn.rxCnt += len;
        List<ByteBuffer> pieces = new ArrayList<>(2);
        int left = len;
        while (left > 0) {
            MemorySegment s = r.nextSegment(left);
            pieces.add(s.asByteBuffer());
            left -= (int) s.byteSize();
        }
        if (!conn.hasOutput()) {
            // Straight from guest memory to the socket; only what it does not take is copied.
            long n;
            try {
                n = pieces.size() == 1 ? conn.channel.write(pieces.getFirst())
                        : conn.channel.write(pieces.toArray(new ByteBuffer[0]));
            } catch (IOException e) {
                LOG.log(System.Logger.Level.DEBUG, "virtio-vsock: writing " + conn + ": " + e);
                resetConnection(conn);
                return;
            }
            consumed(conn, (int) n);
        }
        for (ByteBuffer p : pieces) {
            conn.out.append(p); // fits: the credit check above bounds it by buf_alloc
        }
    }

    /** {@code n} more guest bytes reached the host socket: advance fwd_cnt, tell the guest when it matters. */
    private void consumed(VsockConnection conn, int n) {
        if (n <= 0) {
            return;
        }
        conn.fwdCnt += n;
        bytesToHost.addAndGet(n);
        if (Integer.toUnsignedLong(conn.fwdCnt - conn.lastSentFwdCnt) >= limits.bufAlloc() / 4
                && (conn.peerShutdown & SHUTDOWN_SEND) == 0) {
            conn.pendingCreditUpdate = true;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Host sockets

    private void onHostReady(Object attachment, int readyOps) {
        if (ctx == null) {
            return;
        }
        if (attachment == LISTENER) {
            acceptHostClients();
        } else if (attachment instanceof VsockConnection conn && conn.state != VsockConnection.State.CLOSED) {
            if (conn.state == VsockConnection.State.AWAIT_CONNECT_LINE) {
                readConnectLine(conn);
            } else {
                if ((readyOps & SelectionKey.OP_WRITE) != 0) {
                    flushToHost(conn);
                }
                if ((readyOps & SelectionKey.OP_READ) != 0 && conn.state != VsockConnection.State.CLOSED) {
                    conn.hostReadable = true;
                }
            }
            if (conn.state != VsockConnection.State.CLOSED) {
                refresh(conn);
            }
        }
        pumpRx();
    }

    private void acceptHostClients() {
        for (int i = 0; i < MAX_ACCEPTS_PER_ROUND; i++) {
            SocketChannel ch;
            try {
                ch = listener.accept();
            } catch (IOException e) {
                LOG.log(System.Logger.Level.DEBUG, "virtio-vsock: accept on " + socketPath + ": " + e);
                break;
            }
            if (ch == null) {
                break;
            }
            if (connections.size() + accepted.size() >= limits.maxConnections()) {
                LOG.log(System.Logger.Level.DEBUG, "virtio-vsock: connection limit reached, closing a host client");
                closeQuietly(ch);
                continue;
            }
            try {
                ch.configureBlocking(false);
                VsockConnection conn = new VsockConnection(ch, true, VsockConnection.State.AWAIT_CONNECT_LINE,
                        CONNECT_LINE_MAX, limits.bufAlloc());
                conn.key = poller.register(ch, SelectionKey.OP_READ, conn);
                accepted.add(conn);
            } catch (IOException | RuntimeException e) {
                closeQuietly(ch);
            }
        }
        poller.interest(listenerKey, SelectionKey.OP_ACCEPT);
    }

    /** Reads the host client's {@code CONNECT <port>\n} a byte at a time, so nothing after it is consumed. */
    private void readConnectLine(VsockConnection conn) {
        ByteBuffer one = ByteBuffer.allocate(1);
        while (true) {
            one.clear();
            int n;
            try {
                n = conn.channel.read(one);
            } catch (IOException e) {
                closeConnection(conn);
                return;
            }
            if (n == 0) {
                return; // more later
            }
            if (n < 0) {
                closeConnection(conn);
                return;
            }
            byte b = one.get(0);
            if (b == '\n') {
                break;
            }
            if (conn.lineLength == conn.line.length - 1) {
                LOG.log(System.Logger.Level.DEBUG, "virtio-vsock: host client's CONNECT line too long");
                closeConnection(conn);
                return;
            }
            conn.line[conn.lineLength++] = b;
        }
        long port = parseConnectLine(new String(conn.line, 0, conn.lineLength, StandardCharsets.US_ASCII));
        if (port < 0) {
            LOG.log(System.Logger.Level.DEBUG, "virtio-vsock: bad CONNECT line from a host client");
            closeConnection(conn);
            return;
        }
        accepted.remove(conn);
        int guestPort = (int) port;
        int hostPort = allocateLocalPort(guestPort);
        conn.hostPort = hostPort;
        conn.guestPort = guestPort;
        conn.state = VsockConnection.State.CONNECTING_TO_GUEST;
        conn.pendingRequest = true;
        connections.put(conn.key(), conn);
    }

    /** The port of {@code CONNECT <port>} (optionally followed by '\r'), or -1. */
    static long parseConnectLine(String line) {
        String s = line.endsWith("\r") ? line.substring(0, line.length() - 1) : line;
        if (!s.startsWith("CONNECT ")) {
            return -1;
        }
        String digits = s.substring(8);
        if (digits.isEmpty() || digits.length() > 10 || !digits.chars().allMatch(ch -> ch >= '0' && ch <= '9')) {
            return -1;
        }
        long port = Long.parseLong(digits);
        return port > 0xFFFF_FFFEL ? -1 : port; // 0xFFFFFFFF is VMADDR_PORT_ANY
    }

    private int allocateLocalPort(int guestPort) {
        while (true) {
            int p = nextLocalPort;
            nextLocalPort = p == Integer.MAX_VALUE ? FIRST_LOCAL_PORT : p + 1;
            if (!connections.containsKey(VsockConnection.key(p, guestPort))) {
                return p; // found within maxConnections + 1 tries
            }
        }
    }

    private void flushToHost(VsockConnection conn) {
        if (!conn.hasOutput()) {
            maybeFinish(conn);
            return;
        }
        int n;
        try {
            n = conn.flush();
        } catch (IOException e) {
            LOG.log(System.Logger.Level.DEBUG, "virtio-vsock: writing " + conn + ": " + e);
            resetConnection(conn);
            return;
        }
        consumed(conn, n);
        maybeFinish(conn);
    }

    /**
     * Once the guest's data is all with the host: its SHUTDOWN(SEND) becomes a half-close of the host
     * socket; its SHUTDOWN(RCV|SEND), or host end of stream plus its SHUTDOWN(SEND), ends the
     * connection (RST, the answer the guest waits for).
     */
    private void maybeFinish(VsockConnection conn) {
        if (conn.state != VsockConnection.State.ESTABLISHED || conn.hasOutput()
                || (conn.peerShutdown & SHUTDOWN_SEND) == 0) {
            return;
        }
        if (conn.peerShutdown == SHUTDOWN_BOTH || conn.hostEof) {
            resetConnection(conn);
            return;
        }
        if (!conn.hostOutputShut) {
            conn.hostOutputShut = true;
            try {
                conn.channel.shutdownOutput();
            } catch (IOException e) {
                resetConnection(conn);
            }
        }
    }

    /** What the host socket should wait for, and whether the connection owes the guest a packet. */
    private void refresh(VsockConnection conn) {
        updateInterest(conn);
        if (hasRxWork(conn) && !conn.queued) {
            conn.queued = true;
            rxWork.addLast(conn);
        }
    }

    private void updateInterest(VsockConnection conn) {
        int ops = 0;
        if (conn.state == VsockConnection.State.AWAIT_CONNECT_LINE) {
            ops = SelectionKey.OP_READ;
        } else if (conn.state != VsockConnection.State.CLOSED) {
            if (conn.hasOutput()) {
                ops |= SelectionKey.OP_WRITE;
            }
            if (conn.hostToGuestOpen()) {
                if (conn.peerCredit() == 0) {
                    if (conn.hostReadable && !conn.creditRequested) {
                        conn.creditRequested = true;
                        conn.pendingCreditRequest = true;
                    }
                } else if (!conn.hostReadable) {
                    ops |= SelectionKey.OP_READ;
                }
            }
        }
        poller.interest(conn.key, ops);
    }

    private static boolean hasRxWork(VsockConnection conn) {
        return conn.state != VsockConnection.State.CLOSED && (conn.pendingRequest || conn.pendingResponse
                || conn.pendingCreditUpdate || conn.pendingCreditRequest
                || (conn.hostReadable && conn.hostToGuestOpen() && conn.peerCredit() > 0));
    }

    /** Ends {@code conn} and tells the guest with RST, if the guest knows the connection. */
    private void resetConnection(VsockConnection conn) {
        // Established: the guest accepted it, or (guest-initiated) its REQUEST waits for an answer, which RST is.
        boolean guestKnows = conn.state == VsockConnection.State.ESTABLISHED
                || conn.state == VsockConnection.State.CONNECTING_TO_HOST
                || conn.state == VsockConnection.State.CONNECTING_TO_GUEST && conn.requestSent;
        VsockHeader rst = guestKnows ? header(conn, OP_RST, 0, 0) : null;
        closeConnection(conn);
        if (rst != null) {
            queueReply(rst, true);
        }
    }

    /** Closes the host socket and forgets {@code conn}, without telling the guest. */
    private void closeConnection(VsockConnection conn) {
        if (conn.state == VsockConnection.State.CLOSED) {
            return;
        }
        boolean inTable = conn.state != VsockConnection.State.AWAIT_CONNECT_LINE;
        conn.state = VsockConnection.State.CLOSED;
        if (inTable) {
            connections.remove(conn.key(), conn);
        } else {
            accepted.remove(conn);
        }
        conn.out.clear();
        conn.preamble = null;
        closeQuietly(conn.channel);
        if (poller != null) {
            poller.wakeup();
        }
    }

    private static void closeQuietly(Channel ch) {
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException e) {
                // Nothing to do.
            }
        }
    }

    /** For tests: the state of the current activation. Worker only. */
    Stats stats() {
        long buffered = 0;
        long objects = 0;
        long capacity = 0;
        int connecting = 0;
        for (VsockConnection c : connections.values()) {
            connecting += c.state == VsockConnection.State.CONNECTING_TO_HOST ? 1 : 0;
            buffered += c.out.size();
            objects += c.out.capacity() > 0 ? 1 : 0;
            capacity += c.out.capacity();
        }
        return new Stats(connections.size(), accepted.size(), connecting, buffered, objects, capacity, replies.size(),
                poller != null && poller.thread().isAlive());
    }

    @Override
    public String toString() {
        return "virtio-vsock[guest CID " + guestCid + ", " + socketPath + "]";
    }
}
