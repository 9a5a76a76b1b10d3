package dev.vessel.devices.virtio.vsock;

import static dev.vessel.devices.virtio.vsock.VsockHeader.*;

import dev.vessel.devices.virtio.VirtioContext;
import dev.vessel.devices.virtio.VirtioFeatures;
import dev.vessel.devices.virtio.queue.Virtqueue;
import dev.vessel.devices.virtio.queue.VirtqueueException;
import dev.vessel.devices.virtio.queue.VirtqueueLayout;
import dev.vessel.memory.GuestMemory;
import dev.vessel.memory.MemoryRegion;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.IntFunction;
import java.util.function.Predicate;

/**
 * Plays the guest's virtio-vsock driver against a {@link VirtioVsock}, without a VM: three split
 * virtqueues in a small guest RAM, a {@link VirtioContext} whose worker is one thread, rx buffers
 * laid out as Linux 6.1 posts them (a 44-byte header buffer and a payload buffer), and a record of
 * every packet the device returned. Every driver action runs on the worker thread, so the device
 * and the "driver" never touch the rings concurrently, as with a real worker and a vCPU they would
 * only through the ring protocol.
 */
final class VsockDriver implements AutoCloseable {
    static final long GUEST_CID = VirtioVsock.DEFAULT_GUEST_CID;
    static final long RAM_BASE = 0x10_0000;
    static final long RAM_SIZE = 16L << 20;
    static final int RX_SIZE = 128;
    static final int TX_SIZE = 64;
    static final int EVENT_SIZE = 8;
    static final int RX_SLOTS = RX_SIZE / 2;
    static final int TX_SLOTS = TX_SIZE / 2;
    static final long RX_DATA = RAM_BASE + 0x4_0000;
    static final long RX_STRIDE = 0x2000;
    static final long TX_DATA = RAM_BASE + 0x20_0000;
    static final long TX_STRIDE = 0x2_0000;
    static final int DESC_NEXT = 1;
    static final int DESC_WRITE = 2;
    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    /** A packet the device put in an rx buffer. */
    record Packet(VsockHeader header, byte[] payload) {
        @Override
        public String toString() {
            return header + (payload.length > 0 ? " +" + payload.length + " bytes" : "");
        }
    }

    final Arena arena = Arena.ofShared();
    final MemorySegment ram = arena.allocate(RAM_SIZE, 4096);
    final GuestMemory memory = GuestMemory.of(List.of(new MemoryRegion(RAM_BASE, ram)));
    final ExecutorService worker = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "test-vsock-worker");
        t.setDaemon(true);
        return t;
    });
    final VirtioVsock device;

    // Driver state: worker thread only.
    private Context ctx;
    private final int[] availIdx = new int[3];
    private final int[] lastUsed = new int[3];
    private final boolean[] rxPosted = new boolean[RX_SLOTS];
    private final boolean[] txBusy = new boolean[TX_SLOTS];
    private boolean autoRefill = true;
    private int rxPayloadSize = 4096;
    /** Every packet received, in order; guarded by itself. */
    private final List<Packet> received = new ArrayList<>();
    private final List<Packet> history = new ArrayList<>();
    volatile String failure;
    volatile RuntimeException workerError;

    VsockDriver(VirtioVsock device) {
        this.device = device;
    }

    // ---------------------------------------------------------------------------------------------
    // The worker

    <T> T call(Callable<T> task) throws Exception {
        Future<T> f = worker.submit(() -> {
            try {
                return task.call();
            } catch (RuntimeException e) {
                workerError = e;
                throw e;
            }
        });
        return f.get(20, TimeUnit.SECONDS);
    }

    void run(Runnable task) throws Exception {
        call(() -> {
            task.run();
            return null;
        });
    }

    /** Waits until everything queued on the worker so far (and what it queued meanwhile, a few rounds) ran. */
    void settle() throws Exception {
        for (int i = 0; i < 5; i++) {
            run(() -> {});
        }
    }

    VirtioVsock.Stats stats() throws Exception {
        return call(device::stats);
    }

    // ---------------------------------------------------------------------------------------------
    // Lifecycle

    /** DRIVER_OK with fresh rings: activate, then the transport's first notification of every queue. */
    void activate(boolean eventIdx) throws Exception {
        run(() -> {
            ram.asSlice(0, 0x4_0000).fill((byte) 0);
            Arrays.fill(availIdx, 0);
            Arrays.fill(lastUsed, 0);
            Arrays.fill(rxPosted, false);
            Arrays.fill(txBusy, false);
            Virtqueue[] qs = new Virtqueue[3];
            int[] sizes = {RX_SIZE, TX_SIZE, EVENT_SIZE};
            for (int q = 0; q < 3; q++) {
                try {
                    qs[q] = new Virtqueue(q, memory, layout(q), VirtioVsock.QUEUE_SIZE, eventIdx, true,
                            Virtqueue.DEFAULT_MAX_CHAIN_BYTES);
                } catch (VirtqueueException e) {
                    throw new IllegalStateException(e);
                }
            }
            ctx = new Context(qs, VirtioFeatures.bit(VirtioFeatures.VERSION_1)
                    | (eventIdx ? VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX) : 0));
            device.activate(ctx);
            for (int q = 0; q < 3; q++) {
                device.queueNotify(q);
            }
        });
    }

    void activate() throws Exception {
        activate(false);
    }

    /** Activates and posts every rx buffer. */
    VsockDriver start() throws Exception {
        activate();
        postRx(RX_SLOTS);
        return this;
    }

    /** The driver's reset: the transport cuts the queues off, then the device resets on the worker. */
    void reset() throws Exception {
        run(() -> {
            Context c = ctx;
            if (c != null) {
                c.stop();
            }
            device.reset();
            ctx = null;
        });
    }

    boolean live() {
        Context c = ctx;
        return c != null && c.live;
    }

    static VirtqueueLayout layout(int q) {
        long base = RAM_BASE + q * 0x1_0000L;
        int size = q == 0 ? RX_SIZE : q == 1 ? TX_SIZE : EVENT_SIZE;
        return new VirtqueueLayout(size, base, base + 0x4000, base + 0x8000);
    }

    MemorySegment at(long gpa, long len) {
        return ram.asSlice(gpa - RAM_BASE, len);
    }

    // ---------------------------------------------------------------------------------------------
    // Ring operations (worker thread)

    private void desc(int q, int i, long addr, int len, int flags, int next) {
        MemorySegment d = at(layout(q).descTable() + 16L * i, 16);
        d.set(U64, 0, addr);
        d.set(U32, 8, len);
        d.set(U16, 12, (short) flags);
        d.set(U16, 14, (short) next);
    }

    private void publish(int q, int head) {
        VirtqueueLayout l = layout(q);
        at(l.availRing() + 4 + 2L * (availIdx[q] % l.size()), 2).set(U16, 0, (short) head);
        availIdx[q] = (availIdx[q] + 1) & 0xFFFF;
        java.lang.invoke.VarHandle.fullFence();
        at(l.availRing() + 2, 2).set(U16, 0, (short) availIdx[q]);
    }

    private int usedIdx(int q) {
        return Short.toUnsignedInt(at(layout(q).usedRing() + 2, 2).get(U16, 0));
    }

    private void postRxNow(int max) {
        int posted = 0;
        for (int i = 0; i < RX_SLOTS && posted < max; i++) {
            if (!rxPosted[i]) {
                long hdr = RX_DATA + i * RX_STRIDE;
                desc(RX_QUEUE_INDEX, 2 * i, hdr, VsockHeader.SIZE, DESC_NEXT | DESC_WRITE, 2 * i + 1);
                desc(RX_QUEUE_INDEX, 2 * i + 1, hdr + 0x100, rxPayloadSize, DESC_WRITE, 0);
                publish(RX_QUEUE_INDEX, 2 * i);
                rxPosted[i] = true;
                posted++;
            }
        }
    }

    static final int RX_QUEUE_INDEX = VirtioVsock.RX_QUEUE;
    static final int TX_QUEUE_INDEX = VirtioVsock.TX_QUEUE;

    /** Posts up to {@code n} free rx buffers and kicks. */
    void postRx(int n) throws Exception {
        run(() -> {
            postRxNow(n);
            device.queueNotify(RX_QUEUE_INDEX);
        });
    }

    /** Whether used rx buffers are posted again at once (like Linux's refill); off to starve the device. */
    void autoRefill(boolean on) throws Exception {
        run(() -> autoRefill = on);
    }

    void rxPayloadSize(int size) throws Exception {
        run(() -> rxPayloadSize = size);
    }

    int postedRx() throws Exception {
        return call(() -> {
            int n = 0;
            for (boolean b : rxPosted) {
                n += b ? 1 : 0;
            }
            return n;
        });
    }

    /** The used-buffer interrupt: collect what the device returned, like the driver's rx/tx work. */
    private void harvest() {
        if (ctx == null || !ctx.live) {
            return;
        }
        boolean refilled = false;
        int end = usedIdx(RX_QUEUE_INDEX);
        VirtqueueLayout rl = layout(RX_QUEUE_INDEX);
        while (lastUsed[RX_QUEUE_INDEX] != end) {
            long elem = rl.usedRing() + 4 + 8L * (lastUsed[RX_QUEUE_INDEX] % rl.size());
            int id = at(elem, 4).get(U32, 0);
            int len = at(elem + 4, 4).get(U32, 0);
            lastUsed[RX_QUEUE_INDEX] = (lastUsed[RX_QUEUE_INDEX] + 1) & 0xFFFF;
            int slot = id / 2;
            if (id % 2 != 0 || slot >= RX_SLOTS || !rxPosted[slot]) {
                throw new AssertionError("device returned rx descriptor " + id + " that was not available");
            }
            rxPosted[slot] = false;
            if (len >= VsockHeader.SIZE) {
                long hdr = RX_DATA + slot * RX_STRIDE;
                VsockHeader h = VsockHeader.decode(at(hdr, VsockHeader.SIZE).toArray(ValueLayout.JAVA_BYTE));
                int payloadLen = len - VsockHeader.SIZE;
                if (payloadLen != h.len()) {
                    throw new AssertionError("used length " + len + " does not match header " + h);
                }
                byte[] payload = at(hdr + 0x100, payloadLen).toArray(ValueLayout.JAVA_BYTE);
                Packet p = new Packet(h, payload);
                synchronized (received) {
                    received.add(p);
                    history.add(p);
                    received.notifyAll();
                }
            }
            if (autoRefill) {
                postRxNow(1);
                refilled = true;
            }
        }
        int tend = usedIdx(TX_QUEUE_INDEX);
        VirtqueueLayout tl = layout(TX_QUEUE_INDEX);
        while (lastUsed[TX_QUEUE_INDEX] != tend) {
            long elem = tl.usedRing() + 4 + 8L * (lastUsed[TX_QUEUE_INDEX] % tl.size());
            int id = at(elem, 4).get(U32, 0);
            lastUsed[TX_QUEUE_INDEX] = (lastUsed[TX_QUEUE_INDEX] + 1) & 0xFFFF;
            txBusy[id / 2] = false;
        }
        // As virtqueue_enable_cb does with event idx: interrupt me at the next used entry; then
        // look again, in case the device used one before it could see that.
        for (int q : new int[] {RX_QUEUE_INDEX, TX_QUEUE_INDEX}) {
            VirtqueueLayout l = layout(q);
            at(l.availRing() + 4 + 2L * l.size(), 2).set(U16, 0, (short) lastUsed[q]);
        }
        java.lang.invoke.VarHandle.fullFence();
        if (usedIdx(RX_QUEUE_INDEX) != lastUsed[RX_QUEUE_INDEX] || usedIdx(TX_QUEUE_INDEX) != lastUsed[TX_QUEUE_INDEX]) {
            worker.execute(this::harvest);
        }
        if (refilled) {
            device.queueNotify(RX_QUEUE_INDEX);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Sending (tx)

    /** Sends a packet: header and payload in two descriptors (header alone if no payload). */
    void send(VsockHeader h, byte[] payload) throws Exception {
        byte[] hb = h.encode();
        sendRaw(hb, payload == null ? new byte[0] : payload);
    }

    void send(VsockHeader h) throws Exception {
        send(h, null);
    }

    /** Sends arbitrary bytes as a tx chain: {@code first} in one descriptor, {@code second} (if any) in the next. */
    void sendRaw(byte[] first, byte[] second) throws Exception {
        run(() -> {
            harvest();
            int slot = freeTxSlot();
            if (slot < 0) {
                throw new IllegalStateException("no free tx slot");
            }
            placeTx(slot, first, second);
            device.queueNotify(TX_QUEUE_INDEX);
        });
    }

    /**
     * A fast guest: sends {@code count} packets (header {@code header.apply(i)}, payload
     * {@code payload.apply(i)}) in one worker task, filling every free tx slot before each kick.
     */
    void sendMany(int count, IntFunction<VsockHeader> header, IntFunction<byte[]> payload) throws Exception {
        run(() -> {
            for (int i = 0; i < count; i++) {
                int slot = freeTxSlot();
                if (slot < 0) {
                    device.queueNotify(TX_QUEUE_INDEX);
                    harvest();
                    slot = freeTxSlot();
                    if (slot < 0) {
                        throw new IllegalStateException("the device did not return its tx buffers");
                    }
                }
                byte[] p = payload.apply(i);
                placeTx(slot, header.apply(i).encode(), p == null ? new byte[0] : p);
            }
            device.queueNotify(TX_QUEUE_INDEX);
            harvest();
        });
    }

    private int freeTxSlot() {
        for (int i = 0; i < TX_SLOTS; i++) {
            if (!txBusy[i]) {
                return i;
            }
        }
        return -1;
    }

    private void placeTx(int slot, byte[] first, byte[] second) {
        long base = TX_DATA + slot * TX_STRIDE;
        at(base, first.length).copyFrom(MemorySegment.ofArray(first));
        if (second.length > 0) {
            at(base + 0x1000, second.length).copyFrom(MemorySegment.ofArray(second));
            desc(TX_QUEUE_INDEX, 2 * slot, base, first.length, DESC_NEXT, 2 * slot + 1);
            desc(TX_QUEUE_INDEX, 2 * slot + 1, base + 0x1000, second.length, 0, 0);
        } else {
            desc(TX_QUEUE_INDEX, 2 * slot, base, first.length, 0, 0);
        }
        txBusy[slot] = true;
        publish(TX_QUEUE_INDEX, 2 * slot);
    }

    static VsockHeader hdr(int op, int guestPort, int hostPort, int len, int flags, int bufAlloc, int fwdCnt) {
        return new VsockHeader(GUEST_CID, VirtioVsock.HOST_CID, guestPort, hostPort, len, TYPE_STREAM, op, flags,
                bufAlloc, fwdCnt);
    }

    // ---------------------------------------------------------------------------------------------
    // Receiving

    /** Takes the first received packet matching {@code p}, waiting up to {@code timeout}. */
    Packet await(Predicate<Packet> p, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (received) {
            while (true) {
                for (int i = 0; i < received.size(); i++) {
                    if (p.test(received.get(i))) {
                        return received.remove(i);
                    }
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("no matching packet within " + timeout + "; received: " + received);
                }
                received.wait(Math.max(1, left / 1_000_000));
            }
        }
    }

    Packet await(Predicate<Packet> p) throws InterruptedException {
        return await(p, Duration.ofSeconds(10));
    }

    Packet awaitOp(int op, int guestPort) throws InterruptedException {
        return await(pk -> pk.header().op() == op && pk.header().dstPort() == guestPort);
    }

    /** Takes every received packet. */
    List<Packet> drainReceived() {
        synchronized (received) {
            List<Packet> all = new ArrayList<>(received);
            received.clear();
            return all;
        }
    }

    /** Every packet received since the start (including taken ones). */
    List<Packet> history() {
        synchronized (received) {
            return new ArrayList<>(history);
        }
    }

    @Override
    public void close() throws Exception {
        try {
            if (ctx != null) {
                reset();
            }
        } finally {
            worker.shutdownNow();
            worker.awaitTermination(10, TimeUnit.SECONDS);
            device.close();
            arena.close();
        }
    }

    /** The activation's context: what the transport would give the device. */
    final class Context implements VirtioContext {
        final Virtqueue[] queues;
        final long features;
        volatile boolean live = true;

        Context(Virtqueue[] queues, long features) {
            this.queues = queues;
            this.features = features;
        }

        void stop() {
            live = false;
            for (Virtqueue q : queues) {
                q.deactivate();
            }
        }

        @Override
        public GuestMemory memory() {
            return memory;
        }

        @Override
        public long features() {
            return features;
        }

        @Override
        public int queueCount() {
            return 3;
        }

        @Override
        public Virtqueue queue(int index) {
            return index >= 0 && index < 3 ? queues[index] : null;
        }

        @Override
        public void signalUsed() {
            if (live) {
                worker.execute(VsockDriver.this::harvest);
            }
        }

        @Override
        public boolean notifyIfNeeded(Virtqueue queue) {
            if (live && queue.shouldNotify()) {
                worker.execute(VsockDriver.this::harvest);
                return true;
            }
            return false;
        }

        @Override
        public void configChanged() {}

        @Override
        public void fail(String reason) {
            failure = reason;
            stop();
        }

        @Override
        public void execute(Runnable task) {
            try {
                worker.execute(() -> {
                    if (!live) {
                        return;
                    }
                    try {
                        task.run();
                    } catch (RuntimeException e) {
                        workerError = e;
                        fail("device error: " + e);
                    }
                });
            } catch (java.util.concurrent.RejectedExecutionException e) {
                // Shutting down.
            }
        }

        @Override
        public boolean isLive() {
            return live;
        }
    }
}
