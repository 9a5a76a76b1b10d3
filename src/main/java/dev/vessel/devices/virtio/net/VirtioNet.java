package dev.vessel.devices.virtio.net;

import dev.vessel.devices.FdReadiness;
import dev.vessel.devices.virtio.AbstractVirtioDevice;
import dev.vessel.devices.virtio.VirtioContext;
import dev.vessel.devices.virtio.VirtioFeatures;
import dev.vessel.devices.virtio.queue.ChainReader;
import dev.vessel.devices.virtio.queue.ChainWriter;
import dev.vessel.devices.virtio.queue.DescriptorChain;
import dev.vessel.devices.virtio.queue.Virtqueue;
import dev.vessel.devices.virtio.queue.VirtqueueException;
import dev.vessel.sys.ErrnoException;
import dev.vessel.sys.Libc;
import dev.vessel.sys.Tap;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * virtio-net (virtio 1.2 §5.1, device type 1) on a host TAP interface: one receive queue (0) and
 * one transmit queue (1), no control queue, no multiqueue. Frames pass between the guest's
 * buffers and the TAP with their virtio_net_hdr ({@link NetHeader}) unchanged, since the TAP
 * speaks the same header; checksum and segmentation offloads thus cost the VMM nothing.
 *
 * <h2>Features</h2>
 * VIRTIO_NET_F_MAC (the address given at construction, in the configuration space),
 * VIRTIO_NET_F_STATUS (link up; down once the TAP fails), VIRTIO_NET_F_MRG_RXBUF, and the
 * offloads: CSUM and HOST_TSO4/6 (the guest sends partially checksummed frames and 64 KiB TCP
 * super-frames; the host kernel completes them), GUEST_CSUM and GUEST_TSO4/6 (the same towards
 * the guest: on DRIVER_OK the TAP is told with TUNSETOFFLOAD what the driver takes, and reset
 * to none on a device reset). UFO is not offered in either direction: since Linux 4.14 no guest
 * sends UDP fragmentation offload and the TAP ignores TUN_F_UFO, so it would promise nothing.
 * ECN, USO, the control queue (promiscuous mode, MAC filtering, announcements) and MTU are
 * not offered either. A driver that takes TSO without the checksum feature it rests on is
 * refused at FEATURES_OK (the spec's feature dependencies). The transport adds EVENT_IDX.
 *
 * <h2>Receive</h2>
 * With MRG_RXBUF, the device holds posted buffers until they could take the largest frame
 * ({@link #MAX_FRAME} bytes plus the header) and the TAP reads the next frame straight into them
 * (readv over their segments): no copy in the VMM. It then fixes the header's flags and
 * {@code num_buffers} in guest memory and returns as many buffers as the frame filled, in ring
 * order; the rest stay held for the next frame. When the ring has fewer buffers than that, the
 * frame is read into a buffer of the device's own and copied to the guest: with MRG_RXBUF over
 * as many buffers as it takes, the header's {@code num_buffers} saying how many; without, into
 * one buffer that must hold it whole (the driver posts buffers big enough for what
 * it negotiated: 1526 bytes, or 65562 with TSO). A frame that does not fit is dropped and
 * counted, and the buffers stay for the next frame; a buffer too small for even the header is
 * returned unused and counted. With no buffer posted, the device stops watching the TAP (frames
 * wait in the TAP's queue, then the host drops them: back-pressure, as a NIC's full ring gives)
 * until the guest's next receive-queue kick. The TAP's readiness comes through {@link FdReadiness};
 * the reads and copies run on the device's worker.
 *
 * <h2>Transmit</h2>
 * On a kick, each chain is checked — header and frame readable, nothing writable, at least an
 * Ethernet header and at most {@link #MAX_FRAME} bytes of frame, a header the negotiated features
 * allow with its checksum field inside the frame ({@link NetHeader}) — and written to the TAP with one writev straight from guest memory (behind a checked
 * copy of the header). A chain that fails the checks is returned and counted as dropped (the
 * policy's "bad request"), as is a frame the kernel refuses. When the TAP takes nothing (EAGAIN),
 * the chain is kept, the queue waits, and the device asks the event loop for the TAP's
 * writability: no frame is dropped for a full TAP and no thread spins.
 *
 * <h2>Failure</h2>
 * A malformed ring fails the device (DEVICE_NEEDS_RESET), as for every device. A TAP that fails
 * (the interface was deleted: an error on read or poll) takes the link down: the device tells the
 * guest through the status field, stops reading, and counts what the guest still sends as dropped.
 * Nothing from the guest makes the device throw.
 *
 * <h2>Threads</h2>
 * Queue work and TAP I/O run on the device's worker; a readiness report is handed to it
 * ({@link VirtioContext#execute}). In a VM the worker is an event loop of the device's own that
 * also waits on the TAP and the queue kicks, so that hand-over stays on one thread and a frame or a
 * kick costs one wake-up, not two. Counters ({@link #counters()}) are safe from any thread.
 */
public final class VirtioNet extends AbstractVirtioDevice implements AutoCloseable {
    public static final int RX_QUEUE = 0;
    public static final int TX_QUEUE = 1;
    /** The maximum size of each queue. */
    public static final int QUEUE_SIZE = 256;

    /** Feature bits (virtio 1.2 §5.1.3). */
    public static final int F_CSUM = 0;
    public static final int F_GUEST_CSUM = 1;
    public static final int F_MAC = 5;
    public static final int F_GUEST_TSO4 = 7;
    public static final int F_GUEST_TSO6 = 8;
    public static final int F_HOST_TSO4 = 11;
    public static final int F_HOST_TSO6 = 12;
    public static final int F_MRG_RXBUF = 15;
    public static final int F_STATUS = 16;

    /** What the device offers. */
    public static final long FEATURES = VirtioFeatures.bit(F_CSUM) | VirtioFeatures.bit(F_GUEST_CSUM)
            | VirtioFeatures.bit(F_MAC) | VirtioFeatures.bit(F_GUEST_TSO4) | VirtioFeatures.bit(F_GUEST_TSO6)
            | VirtioFeatures.bit(F_HOST_TSO4) | VirtioFeatures.bit(F_HOST_TSO6) | VirtioFeatures.bit(F_MRG_RXBUF)
            | VirtioFeatures.bit(F_STATUS);

    /** The status field's link-up bit. */
    public static final int S_LINK_UP = 1;
    /** Configuration space: {@code u8 mac[6]; le16 status}. */
    static final int CONFIG_SIZE = 8;
    static final int CONFIG_STATUS = 6;

    /** The smallest frame either way: an Ethernet header. */
    public static final int MIN_FRAME = 14;
    /**
     * The largest frame either way: a 64 KiB TSO/GSO super-frame with its Ethernet and VLAN
     * headers (the most a Linux guest sends, and the TAP hands out, by default).
     */
    public static final int MAX_FRAME = 65536 + 18;
    /** One more than a header and the largest frame: a read that fills it was truncated. */
    static final int RX_BUFFER = NetHeader.SIZE + MAX_FRAME + 1;
    /** Cap on one chain: well above Linux's largest receive buffer (about 72 KiB in big-packet mode). */
    static final long MAX_CHAIN_BYTES = 1 << 20;
    /** iovecs per writev: the header and up to this many minus one pieces of guest memory. */
    static final int MAX_IOV = 64;
    /** iovecs of the receive buffers held for a direct read (the kernel's UIO_MAXIOV). */
    static final int RX_IOV = 1024;

    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final System.Logger LOG = System.getLogger(VirtioNet.class.getName());

    private final NetBackend backend;
    private final MacAddress mac;
    private final FdReadiness.Registration watch;
    private final AtomicBoolean closed = new AtomicBoolean();

    // Worker-only buffers: native, so the TAP reads and writes them directly.
    private final MemorySegment rxFrame;
    private final MemorySegment txHeader;
    private final MemorySegment txStaging;
    private final MemorySegment iov;
    /** The held receive buffers' writable segments, in order, as iovecs for a read straight into them. */
    private final MemorySegment rxIov;
    private int rxIovCount;
    /** How many of {@link #rxIov}'s entries each held chain has, in {@link #heldRx}'s order. */
    private final int[] heldIovs = new int[QUEUE_SIZE + 1];
    /** A held chain's segments did not fit {@link #rxIov}: no direct reads until the held chains are used. */
    private boolean rxIovFull;
    private final MemorySegment[] pieces = new MemorySegment[MAX_IOV - 1];
    private final byte[] header = new byte[NetHeader.SIZE];

    /** The current activation, for the event loop's callback; everything below is the worker's. */
    private volatile VirtioContext active;
    private long features;
    private boolean mergeable;
    /** Bytes (header included) of the frame waiting in {@link #rxFrame} for guest buffers; 0: none. */
    private int rxLength;
    /** Receive chains popped for the next frame, not yet used, and their writable bytes. */
    private final ArrayList<DescriptorChain> heldRx = new ArrayList<>();
    private long heldCapacity;
    /** The receive side stopped because the TAP had nothing: it waits for readability. */
    private boolean rxWantsTap;
    /** A transmit chain the TAP did not take (EAGAIN): sent first when the TAP is writable again. */
    private DescriptorChain pendingTx;
    /** What the TAP's watch is armed for (0: nothing). */
    private int armed;
    /** The TAP failed: link down for good. */
    private volatile boolean tapBroken;

    private final AtomicLong rxFrames = new AtomicLong();
    private final AtomicLong rxBytes = new AtomicLong();
    private final AtomicLong rxDropped = new AtomicLong();
    private final AtomicLong rxBadBuffers = new AtomicLong();
    private final AtomicLong txFrames = new AtomicLong();
    private final AtomicLong txBytes = new AtomicLong();
    private final AtomicLong txDropped = new AtomicLong();

    /**
     * A device on {@code backend} (owned by the device from now on), offering {@code mac}, whose
     * descriptor {@code readiness} watches.
     */
    public VirtioNet(NetBackend backend, MacAddress mac, FdReadiness readiness) throws IOException {
        super(TYPE_NET, FEATURES, new int[] {QUEUE_SIZE, QUEUE_SIZE}, CONFIG_SIZE);
        this.backend = Objects.requireNonNull(backend, "backend");
        this.mac = Objects.requireNonNull(mac, "mac");
        config.putBytes(0, mac.octets());
        config.putU16(CONFIG_STATUS, S_LINK_UP);
        Arena arena = Arena.ofAuto();
        this.rxFrame = arena.allocate(RX_BUFFER, 64);
        this.txHeader = arena.allocate(NetHeader.SIZE, 8);
        this.txStaging = arena.allocate(MAX_FRAME, 64);
        this.iov = arena.allocate(MAX_IOV * Libc.IOVEC_SIZE, 8);
        this.rxIov = arena.allocate(RX_IOV * Libc.IOVEC_SIZE, 8);
        this.watch = Objects.requireNonNull(readiness, "readiness").register(backend.fd(), this::onTapEvent);
    }

    /** A device on the host TAP interface {@code tapName}, attached to or created (see {@link Tap#open}). */
    public static VirtioNet open(String tapName, MacAddress mac, FdReadiness readiness) throws IOException {
        return open(tapName, null, mac, readiness);
    }

    /**
     * A device on the host TAP interface {@code tapName}, attached to or created, and plugged into
     * {@code bridge} and up unless that is null (see {@link TapBackend#open(String, String)}).
     */
    public static VirtioNet open(String tapName, String bridge, MacAddress mac, FdReadiness readiness) throws IOException {
        TapBackend tap = TapBackend.open(tapName, bridge);
        try {
            return new VirtioNet(tap, mac, readiness);
        } catch (IOException | RuntimeException e) {
            tap.close();
            throw e;
        }
    }

    public MacAddress mac() {
        return mac;
    }

    /** The host side's name: the TAP interface. */
    public String backendName() {
        return backend.name();
    }

    /** Whether the link is up (false once the TAP failed). */
    public boolean linkUp() {
        return !tapBroken;
    }

    public NetCounters counters() {
        return new NetCounters(rxFrames.get(), rxBytes.get(), rxDropped.get(), rxBadBuffers.get(), txFrames.get(),
                txBytes.get(), txDropped.get());
    }

    @Override
    public long maxChainBytes() {
        return MAX_CHAIN_BYTES;
    }

    /** The spec's dependencies: TSO needs the checksum offload of its direction. */
    @Override
    public boolean acceptFeatures(long f) {
        boolean guestTso = VirtioFeatures.has(f, F_GUEST_TSO4) || VirtioFeatures.has(f, F_GUEST_TSO6);
        boolean hostTso = VirtioFeatures.has(f, F_HOST_TSO4) || VirtioFeatures.has(f, F_HOST_TSO6);
        return (!guestTso || VirtioFeatures.has(f, F_GUEST_CSUM)) && (!hostTso || VirtioFeatures.has(f, F_CSUM));
    }

    /** The TUNSETOFFLOAD bits for what a driver with {@code features} takes in received frames. */
    static int tunOffload(long features) {
        if (!VirtioFeatures.has(features, F_GUEST_CSUM)) {
            return 0;
        }
        int flags = Tap.TUN_F_CSUM;
        if (VirtioFeatures.has(features, F_GUEST_TSO4)) {
            flags |= Tap.TUN_F_TSO4;
        }
        if (VirtioFeatures.has(features, F_GUEST_TSO6)) {
            flags |= Tap.TUN_F_TSO6;
        }
        return flags;
    }

    // ---------------------------------------------------------------------------------------------
    // Lifecycle (worker)

    @Override
    protected void onActivate(VirtioContext context) {
        if (context.queue(RX_QUEUE) == null || context.queue(TX_QUEUE) == null) {
            context.fail("virtio-net needs its receive and transmit queues");
            return;
        }
        features = context.features();
        mergeable = VirtioFeatures.has(features, F_MRG_RXBUF);
        try {
            backend.setOffload(tunOffload(features));
        } catch (IOException e) {
            // Frames needing an offload the driver lacks are dropped on the way in anyway.
            LOG.log(System.Logger.Level.WARNING, "virtio-net: " + backend.name() + " refuses offloads 0x"
                    + Integer.toHexString(tunOffload(features)) + ": " + e.getMessage());
        }
        active = context;
    }

    @Override
    protected void onReset() {
        active = null;
        try {
            arm(0);
        } catch (UncheckedIOException e) {
            LOG.log(System.Logger.Level.DEBUG, e.getMessage());
            armed = 0;
        }
        if (rxLength > 0) {
            rxDropped.incrementAndGet();
        }
        rxLength = 0;
        releaseHeld(heldRx.size());
        rxWantsTap = false;
        pendingTx = null;
        features = 0;
        if (!closed.get()) {
            try {
                backend.setOffload(0);
            } catch (IOException e) {
                LOG.log(System.Logger.Level.DEBUG, "virtio-net: clearing the offloads of " + backend.name() + ": " + e);
            }
        }
    }

    /** Stops watching the TAP and closes it; after the device was reset (the VM stopped). Idempotent. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            watch.close();
            backend.close();
        }
    }

    @Override
    protected void processQueue(int index, Virtqueue queue) throws VirtqueueException {
        if (index == RX_QUEUE) {
            pumpRx(queue);
        } else if (index == TX_QUEUE) {
            pumpTx(queue);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // The TAP's readiness

    /** On the event loop's thread: hand the report to the worker. */
    private void onTapEvent(int events) {
        VirtioContext c = active;
        if (c != null) {
            c.execute(() -> tapReady(events));
        }
    }

    private void tapReady(int events) {
        armed = 0; // a one-shot report: the watch is idle until armed again
        if ((events & FdReadiness.ERROR) != 0) {
            tapFailed("the host reports an error on it");
        }
        if ((events & FdReadiness.WRITABLE) != 0 || (tapBroken && pendingTx != null)) {
            queueNotify(TX_QUEUE);
        }
        if ((events & FdReadiness.READABLE) != 0) {
            queueNotify(RX_QUEUE);
        }
        updateInterest();
    }

    /** Arms the TAP's watch for what the device waits for now. */
    private void updateInterest() {
        int want = 0;
        if (!tapBroken && active != null) {
            want = (rxWantsTap ? FdReadiness.READABLE : 0) | (pendingTx != null ? FdReadiness.WRITABLE : 0);
        }
        if (want != armed) {
            arm(want);
        }
    }

    private void arm(int events) {
        try {
            watch.arm(events);
            armed = events;
        } catch (IOException e) {
            // The VMM cannot watch the TAP: a VMM failure, which fails the device (policy rule 4).
            throw new UncheckedIOException("virtio-net: cannot watch " + backend.name() + ": " + e.getMessage(), e);
        }
    }

    /** The TAP is gone (the interface was deleted): link down, no more reads; what the guest sends is dropped. */
    private void tapFailed(String reason) {
        if (tapBroken) {
            return;
        }
        tapBroken = true;
        LOG.log(System.Logger.Level.WARNING, "virtio-net: TAP " + backend.name() + " failed (" + reason
                + "); the guest's link is down");
        if (rxLength > 0) {
            rxDropped.incrementAndGet();
            rxLength = 0;
        }
        config.putU16(CONFIG_STATUS, 0);
        configChanged();
    }

    // ---------------------------------------------------------------------------------------------
    // Receive: TAP to guest

    private void pumpRx(Virtqueue q) throws VirtqueueException {
        VirtioContext ctx = context();
        rxWantsTap = false;
        int frames = 0;
        try {
            while (!tapBroken) {
                if (frames == q.size()) {
                    // A queue's worth: let the transmit side and other work in, then go on.
                    ctx.execute(() -> queueNotify(RX_QUEUE));
                    return;
                }
                if (rxLength == 0) {
                    if (heldRx.isEmpty() && !takeRxBuffer(q, ctx)) {
                        return; // no buffer: frames wait in the TAP until the guest posts some (its kick resumes)
                    }
                    MemorySegment header = mergeable ? holdForDirectRead(q, ctx) : null;
                    if (header != null) {
                        long n = readTap(true);
                        if (n == -1) {
                            rxWantsTap = true;
                            return;
                        }
                        if (n < 0) {
                            return;
                        }
                        frames++;
                        if (!deliverDirect((int) n, header, q)) {
                            rxDropped.incrementAndGet(); // the buffers stay held for the next frame
                        }
                        continue;
                    }
                    long n = readTap(false);
                    if (n == -1) {
                        rxWantsTap = true;
                        return;
                    }
                    if (n < 0) {
                        return;
                    }
                    frames++;
                    if (!acceptFrame((int) n)) {
                        rxDropped.incrementAndGet();
                        continue;
                    }
                }
                if (!(mergeable ? deliverMerged(q, ctx) : deliverWhole(q, ctx))) {
                    return; // waiting for more buffers
                }
            }
        } finally {
            ctx.notifyIfNeeded(q);
            updateInterest();
        }
    }

    /**
     * One frame from the TAP, into {@link #rxFrame}, or with {@code direct} straight into the held
     * buffers ({@link #rxIov}): its length; -1 when there is none now; -2 when the TAP failed.
     */
    private long readTap(boolean direct) {
        long n;
        try {
            n = direct ? Libc.readv(backend.fd(), rxIov, rxIovCount) : Libc.readNonBlocking(backend.fd(), rxFrame, RX_BUFFER);
        } catch (ErrnoException e) {
            tapFailed("read: " + e.getMessage());
            return -2;
        }
        if (n == 0) {
            tapFailed("end of file");
            return -2;
        }
        return n;
    }

    /**
     * Holds receive buffers for the largest frame, so that the TAP reads straight into guest
     * memory: the first buffer's header bytes, where the frame's header will land. Null when the
     * ring has too few now (the frame then goes through {@link #rxFrame} and waits there for
     * buffers), when their segments do not fit {@link #rxIov}, or when the first one cannot take a
     * whole header in one piece.
     */
    private MemorySegment holdForDirectRead(Virtqueue q, VirtioContext ctx) throws VirtqueueException {
        while (heldCapacity < RX_BUFFER) {
            if (rxIovFull || heldRx.size() >= q.size() || !takeRxBuffer(q, ctx)) {
                return null;
            }
        }
        if (rxIovFull) {
            return null;
        }
        MemorySegment header = heldRx.getFirst().writer().nextSegment(NetHeader.SIZE);
        return header.byteSize() == NetHeader.SIZE ? header : null;
    }

    /**
     * Hands a frame of {@code n} bytes that the TAP wrote into the held buffers to the driver:
     * its header's flags fixed and {@code num_buffers} set in guest memory, as many buffers used as
     * it fills. False: a runt, a truncated frame or one the driver cannot take; it is dropped and
     * the buffers stay held. The guest may change its buffers meanwhile: that changes only what
     * it receives itself, since nothing here depends on them but the flags it is given back.
     */
    private boolean deliverDirect(int n, MemorySegment header, Virtqueue q) throws VirtqueueException {
        if (n < NetHeader.SIZE + MIN_FRAME || n >= RX_BUFFER) {
            return false;
        }
        int flags = NetHeader.flagsForDriver(header.get(ValueLayout.JAVA_BYTE, NetHeader.FLAGS) & 0xFF,
                header.get(ValueLayout.JAVA_BYTE, NetHeader.GSO_TYPE) & 0xFF, features);
        if (flags < 0) {
            return false;
        }
        int count = 0;
        long room = 0;
        while (room < n) {
            room += heldRx.get(count++).writableLength();
        }
        header.set(ValueLayout.JAVA_BYTE, NetHeader.FLAGS, (byte) flags);
        header.set(U16, NetHeader.NUM_BUFFERS, (short) count);
        int offset = 0;
        for (int i = 0; i < count; i++) {
            DescriptorChain c = heldRx.get(i);
            int used = Math.min(c.writableLength(), n - offset);
            q.addUsed(c, used);
            offset += used;
        }
        releaseHeld(count);
        rxFrames.incrementAndGet();
        rxBytes.addAndGet(n - NetHeader.SIZE);
        return true;
    }

    /** Holds {@code c} for the next frame, its writable segments appended to {@link #rxIov}. */
    private void hold(DescriptorChain c) throws VirtqueueException {
        heldRx.add(c);
        heldCapacity += c.writableLength();
        int k = heldRx.size() - 1;
        heldIovs[k] = 0;
        if (rxIovFull) {
            return;
        }
        ChainWriter w = c.writer();
        int start = rxIovCount;
        while (w.remaining() > 0) {
            if (rxIovCount == RX_IOV) {
                rxIovFull = true;
                rxIovCount = start;
                return;
            }
            MemorySegment s = w.nextSegment(w.remaining());
            rxIov.set(ValueLayout.JAVA_LONG, rxIovCount * Libc.IOVEC_SIZE, s.address());
            rxIov.set(ValueLayout.JAVA_LONG, rxIovCount * Libc.IOVEC_SIZE + 8, s.byteSize());
            rxIovCount++;
        }
        heldIovs[k] = rxIovCount - start;
    }

    /** Lets go of the first {@code count} held chains (used, or dropped at a reset) and their iovecs. */
    private void releaseHeld(int count) {
        int entries = 0;
        for (int i = 0; i < count; i++) {
            entries += heldIovs[i];
            heldCapacity -= heldRx.get(i).writableLength();
        }
        heldRx.subList(0, count).clear();
        System.arraycopy(heldIovs, count, heldIovs, 0, heldRx.size());
        if (heldRx.isEmpty()) {
            rxIovCount = 0;
            rxIovFull = false;
            heldCapacity = 0;
        } else if (entries > 0) {
            MemorySegment.copy(rxIov, entries * Libc.IOVEC_SIZE, rxIov, 0, (rxIovCount - entries) * Libc.IOVEC_SIZE);
            rxIovCount -= entries;
        }
    }

    /** Checks the frame just read and fixes its header's flags for the driver; false: drop it. */
    private boolean acceptFrame(int n) {
        if (n < NetHeader.SIZE + MIN_FRAME || n == RX_BUFFER) {
            return false; // a runt, or truncated
        }
        int flags = NetHeader.flagsForDriver(rxFrame.get(ValueLayout.JAVA_BYTE, NetHeader.FLAGS) & 0xFF,
                rxFrame.get(ValueLayout.JAVA_BYTE, NetHeader.GSO_TYPE) & 0xFF, features);
        if (flags < 0) {
            return false;
        }
        rxFrame.set(ValueLayout.JAVA_BYTE, NetHeader.FLAGS, (byte) flags);
        rxLength = n;
        return true;
    }

    /**
     * Pops receive chains until one can take at least a header, and holds it; false when the
     * ring has none (or, after a queue's worth of unusable ones, to come back in a new task).
     */
    private boolean takeRxBuffer(Virtqueue q, VirtioContext ctx) throws VirtqueueException {
        for (int i = 0; i < q.size(); i++) {
            DescriptorChain c = q.pop();
            if (c == null) {
                return false;
            }
            if (c.writableLength() < NetHeader.SIZE) {
                q.addUsed(c, 0);
                rxBadBuffers.incrementAndGet();
                continue;
            }
            hold(c);
            return true;
        }
        ctx.execute(() -> queueNotify(RX_QUEUE));
        return false;
    }

    /** Without MRG_RXBUF: the frame into one buffer, or dropped if it does not fit (the buffer stays). */
    private boolean deliverWhole(Virtqueue q, VirtioContext ctx) throws VirtqueueException {
        if (heldRx.isEmpty() && !takeRxBuffer(q, ctx)) {
            return false;
        }
        DescriptorChain c = heldRx.getFirst();
        if (c.writableLength() < rxLength) {
            dropRxFrame();
            return true;
        }
        rxFrame.set(U16, NetHeader.NUM_BUFFERS, (short) 1);
        copyToGuest(c, 0, rxLength);
        q.addUsed(c, rxLength);
        releaseHeld(heldRx.size());
        delivered();
        return true;
    }

    /**
     * With MRG_RXBUF: as many buffers as the frame needs, in ring order, the first one's header
     * saying how many. A frame larger than every buffer the ring can hold together is dropped.
     */
    private boolean deliverMerged(Virtqueue q, VirtioContext ctx) throws VirtqueueException {
        while (heldCapacity < rxLength) {
            if (heldRx.size() >= q.size()) {
                dropRxFrame();
                return true;
            }
            if (!takeRxBuffer(q, ctx)) {
                return false;
            }
        }
        int count = 0;
        long room = 0;
        while (room < rxLength) {
            room += heldRx.get(count++).writableLength();
        }
        rxFrame.set(U16, NetHeader.NUM_BUFFERS, (short) count);
        int offset = 0;
        for (int i = 0; i < count; i++) {
            DescriptorChain c = heldRx.get(i);
            int n = Math.min(c.writableLength(), rxLength - offset);
            copyToGuest(c, offset, n);
            q.addUsed(c, n);
            offset += n;
        }
        releaseHeld(count);
        delivered();
        return true;
    }

    private void copyToGuest(DescriptorChain c, int offset, int length) throws VirtqueueException {
        ChainWriter w = c.writer();
        int done = 0;
        while (done < length) {
            MemorySegment s = w.nextSegment(length - done);
            MemorySegment.copy(rxFrame, offset + done, s, 0, s.byteSize());
            done += (int) s.byteSize();
        }
    }

    private void delivered() {
        rxFrames.incrementAndGet();
        rxBytes.addAndGet(rxLength - NetHeader.SIZE);
        rxLength = 0;
    }

    private void dropRxFrame() {
        rxDropped.incrementAndGet();
        LOG.log(System.Logger.Level.DEBUG, () -> "virtio-net: " + backend.name() + ": a " + (rxLength - NetHeader.SIZE)
                + "-byte frame does not fit the guest's buffers; dropped");
        rxLength = 0;
    }

    // ---------------------------------------------------------------------------------------------
    // Transmit: guest to TAP

    private void pumpTx(Virtqueue q) throws VirtqueueException {
        VirtioContext ctx = context();
        if (pendingTx != null && (armed & FdReadiness.WRITABLE) != 0) {
            return; // still waiting for the TAP to drain; its readiness resumes the queue
        }
        int handled = 0;
        try {
            while (true) {
                DescriptorChain c = pendingTx;
                if (c == null) {
                    if (handled == q.size()) {
                        ctx.execute(() -> queueNotify(TX_QUEUE));
                        return;
                    }
                    c = q.pop();
                    if (c == null) {
                        return;
                    }
                }
                if (!transmit(c)) {
                    pendingTx = c;
                    return;
                }
                pendingTx = null;
                q.addUsed(c, 0);
                handled++;
            }
        } finally {
            ctx.notifyIfNeeded(q);
            updateInterest();
        }
    }

    /** Sends (or drops) one frame; false when the TAP takes nothing now (the chain must wait). */
    private boolean transmit(DescriptorChain c) throws VirtqueueException {
        if (tapBroken) {
            txDropped.incrementAndGet();
            return true;
        }
        int readable = c.readableLength();
        if (c.writableLength() != 0) {
            return invalidTx(c, "it has a device-writable part");
        }
        if (readable < NetHeader.SIZE + MIN_FRAME) {
            return invalidTx(c, readable + " bytes are less than a header and an Ethernet header");
        }
        if (readable > NetHeader.SIZE + MAX_FRAME) {
            return invalidTx(c, "its " + (readable - NetHeader.SIZE) + "-byte frame is larger than " + MAX_FRAME);
        }
        ChainReader r = c.reader();
        r.readFully(header);
        String problem = NetHeader.checkFromDriver(header, readable - NetHeader.SIZE, features);
        if (problem != null) {
            return invalidTx(c, "its header has " + problem);
        }
        // The checked copy goes out, not guest memory the guest could change meanwhile.
        MemorySegment.copy(header, 0, txHeader, ValueLayout.JAVA_BYTE, 0, NetHeader.SIZE);
        txHeader.set(U16, NetHeader.NUM_BUFFERS, (short) 0);
        int count = gather(r);
        long n;
        try {
            n = Libc.writev(backend.fd(), iov, count);
        } catch (ErrnoException e) {
            txDropped.incrementAndGet();
            LOG.log(System.Logger.Level.DEBUG, () -> "virtio-net: " + backend.name() + " refused a frame: " + e.getMessage());
            return true;
        }
        if (n == -1) {
            return false;
        }
        if (n != readable) {
            txDropped.incrementAndGet();
            return true;
        }
        txFrames.incrementAndGet();
        txBytes.addAndGet(readable - NetHeader.SIZE);
        return true;
    }

    /**
     * Fills {@link #iov} with the header and the frame: straight from guest memory, or, for a
     * frame in more pieces than one writev should take, copied into one staging buffer.
     *
     * @return the iovec count
     */
    private int gather(ChainReader r) throws VirtqueueException {
        putIov(0, txHeader);
        int count = 0;
        long staged = -1;
        while (r.remaining() > 0) {
            MemorySegment s = r.nextSegment(r.remaining());
            if (staged < 0 && count == pieces.length) {
                staged = 0;
                for (int i = 0; i < count; i++) {
                    MemorySegment.copy(pieces[i], 0, txStaging, staged, pieces[i].byteSize());
                    staged += pieces[i].byteSize();
                }
            }
            if (staged >= 0) {
                MemorySegment.copy(s, 0, txStaging, staged, s.byteSize());
                staged += s.byteSize();
            } else {
                pieces[count++] = s;
            }
        }
        if (staged >= 0) {
            putIov(1, txStaging.asSlice(0, staged));
            return 2;
        }
        for (int i = 0; i < count; i++) {
            putIov(1 + i, pieces[i]);
            pieces[i] = null;
        }
        return 1 + count;
    }

    private void putIov(int i, MemorySegment s) {
        iov.set(ValueLayout.JAVA_LONG, i * Libc.IOVEC_SIZE, s.address());
        iov.set(ValueLayout.JAVA_LONG, i * Libc.IOVEC_SIZE + 8, s.byteSize());
    }

    private boolean invalidTx(DescriptorChain c, String why) {
        txDropped.incrementAndGet();
        LOG.log(System.Logger.Level.DEBUG, () -> "virtio-net: dropped transmit chain " + c.head() + ": " + why);
        return true;
    }

    @Override
    public String toString() {
        return "virtio-net[" + backend.name() + ", " + mac + "]";
    }
}
