package dev.vessel.devices.virtio.mmio;

import static dev.vessel.devices.virtio.mmio.VirtioMmioRegisters.*;

import dev.vessel.devices.Bus;
import dev.vessel.devices.BusDevice;
import dev.vessel.devices.InterruptLine;
import dev.vessel.devices.virtio.SerialExecutor;
import dev.vessel.devices.virtio.VirtioContext;
import dev.vessel.devices.virtio.VirtioDevice;
import dev.vessel.devices.virtio.VirtioFeatures;
import dev.vessel.devices.virtio.VirtioStatus;
import dev.vessel.devices.virtio.VirtioTransport;
import dev.vessel.devices.virtio.queue.Virtqueue;
import dev.vessel.devices.virtio.queue.VirtqueueException;
import dev.vessel.devices.virtio.queue.VirtqueueLayout;
import dev.vessel.memory.GuestMemory;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * A virtio-mmio transport, version 2 (virtio 1.2 §4.2.2), carrying one {@link VirtioDevice} in a
 * {@link #WINDOW_SIZE}-byte MMIO window: the registers Linux's virtio_mmio driver uses, the status
 * state machine, feature negotiation, queue setup, interrupts, and the device's worker.
 *
 * <h2>Registers</h2>
 * Registers (below 0x100) take only aligned 32-bit accesses; other sizes and offsets read 0 and
 * are ignored on write, as are reads of write-only registers. The configuration space at 0x100
 * takes 1-, 2- and 4-byte accesses within {@link VirtioDevice#configSize()}, and 8-byte ones as
 * two 4-byte halves; outside it, reads are 0 and writes are dropped. VendorID is {@link #VENDOR_ID},
 * "VSSL" in little-endian ASCII (Linux ignores it; it tells a guest it runs on Vessel). No shared
 * memory regions (SHMLen reads all ones).
 *
 * <h2>Status</h2>
 * Writing 0 resets the device and every queue. Otherwise a write may only add bits, in order:
 * DRIVER needs ACKNOWLEDGE, FEATURES_OK needs DRIVER, DRIVER_OK needs FEATURES_OK; any other write
 * (clearing a bit, skipping a step, unknown bits, anything after FAILED but FAILED itself) is
 * ignored. The DEVICE_NEEDS_RESET bit a driver writes back is ignored. FEATURES_OK is refused (left
 * clear) if the driver accepted a feature that was not offered (including any above bit 63), did
 * not accept VIRTIO_F_VERSION_1, or the device refuses the set. DriverFeatures is writable only
 * between DRIVER and FEATURES_OK; queue registers only between FEATURES_OK and DRIVER_OK, and a
 * queue's size and addresses only while it is not ready. QueueReady=1 validates the queue (size a
 * power of two up to QueueNumMax, aligned rings in guest RAM); a bad queue stays not ready and the
 * device gets DEVICE_NEEDS_RESET, so the following DRIVER_OK is refused. DRIVER_OK activates the
 * device on its worker with the ready queues.
 *
 * <h2>Interrupts</h2>
 * InterruptStatus bit 0 (used buffer) and bit 1 (configuration change) are set by the device and
 * cleared by InterruptACK. The line is edge-triggered (an irqfd, declared edge in ACPI): every
 * signal that sets a bit pulses it, even if the bit was already set. Linux's handler reads
 * InterruptStatus, acknowledges what it read and then scans all queues, so an edge per signal can
 * at worst cause a spurious interrupt (status 0, which the handler tolerates), never a lost one.
 *
 * <h2>Threading</h2>
 * Register accesses come from vCPU threads and are serialised by a lock. Queue notifications come
 * from vCPUs (QueueNotify writes) or, on the fast path, from the VMM's event loop when KVM signals
 * the ioeventfd on {@link #notifyAddress()} ({@link #onQueueNotify}); neither runs device code:
 * both queue a {@link VirtioDevice#queueNotify} call for the device's worker, coalescing kicks
 * that arrive before the worker got to the previous one. Activation, notifications and reset run
 * on the worker, one at a time, in order ({@link SerialExecutor} over the executor given). A
 * reset (Status=0, or {@link #close()}) first cuts the activation off — its queues stop returning
 * chains or writing guest memory, its signals are ignored — then waits on the vCPU thread until
 * the worker has finished what it was doing and has run {@link VirtioDevice#reset}, and only then
 * clears the registers: when the driver's write returns, the device is quiet. The worker never
 * takes the register lock, so this cannot deadlock.
 *
 * <h2>A device that fails or hangs</h2>
 * Anything a device callback throws on the worker (an exception, or an Error such as a
 * StackOverflowError) fails the device: DEVICE_NEEDS_RESET and a configuration-change interrupt
 * (virtio 1.2 §2.1.2), and the worker goes on with its next task. A vCPU thread never waits for
 * device work longer than {@link #RESET_TIMEOUT}: a reset the worker has not finished by then is
 * left pending — the registers are cleared, Status reads DEVICE_NEEDS_RESET and every other status
 * write is ignored until the worker has finished that reset (a new Status=0 waits for it again,
 * within the same bound) — so a driver that probes the device sees it refuse FEATURES_OK and
 * gives up on it, and the vCPU goes on. Guest memory stays safe meanwhile: the old activation's
 * queues were cut off before the wait began. (Another vCPU that touches this device's registers
 * during such a wait waits for the register lock, so within the same bound.)
 */
public final class VirtioMmioTransport implements BusDevice, VirtioTransport, AutoCloseable {
    /** The size of the MMIO window: registers, then up to 256 bytes of configuration space. */
    public static final long WINDOW_SIZE = 0x200;
    /** The MagicValue register: "virt" in little-endian ASCII. */
    public static final int MAGIC = 0x74726976;
    /** The layout version (2: virtio 1.x, no legacy). */
    public static final int MMIO_VERSION = 2;
    /** The VendorID register: "VSSL" in little-endian ASCII. */
    public static final int VENDOR = 0x4C535356;
    /** The largest configuration space the window holds. */
    public static final int MAX_CONFIG_SIZE = (int) WINDOW_SIZE - CONFIG;
    /** InterruptStatus bit: the device used buffers in at least one queue. */
    public static final int INTERRUPT_USED_BUFFER = 1;
    /** InterruptStatus bit: the configuration space changed (or the device needs a reset). */
    public static final int INTERRUPT_CONFIG_CHANGE = 2;
    /**
     * The longest a vCPU thread waits for the device's worker (a reset). Longer than any reset
     * does in normal operation (virtio-console's waits up to 2 s for output to reach the host) and
     * well below the guest kernel's soft-lockup (20 s) and RCU-stall (21 s) watchdogs, so that a
     * hung device costs the guest a pause of one vCPU, not a panic; also the time the VMM gives a
     * worker to stop when the VM closes.
     */
    public static final Duration RESET_TIMEOUT = Duration.ofSeconds(5);

    private static final System.Logger LOG = System.getLogger(VirtioMmioTransport.class.getName());
    private static final int KNOWN_STATUS = VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER
            | VirtioStatus.FEATURES_OK | VirtioStatus.DRIVER_OK | VirtioStatus.FAILED;
    private static final int MAX_QUEUES = 1024;

    private final VirtioDevice device;
    private final GuestMemory memory;
    private final long mmioBase;
    private final InterruptLine interrupt;
    private final SerialExecutor worker;
    private final int deviceType;
    private final long offeredFeatures;
    private final int queueCount;
    private final int[] queueMax;
    private final int configSize;
    private final long maxChainBytes;
    private final long resetTimeoutNanos;

    /** Register state, guarded by itself; only vCPU threads (and close) take it, never the worker. */
    private final Object lock = new Object();
    private final QueueRegisters[] queues;
    /** Written under lock; volatile so diagnostics read it without the lock. */
    private volatile int status;
    private volatile boolean needsReset;
    private int deviceFeaturesSel;
    private int driverFeaturesSel;
    private long driverFeatures;
    private boolean driverFeaturesBeyond64;
    private int queueSel;
    /** Written under lock; volatile so the configuration-space path reads it without the lock. */
    private volatile boolean closed;

    /** The current activation (DRIVER_OK until reset); written under lock. */
    private volatile Activation activation;
    /**
     * A reset the worker did not finish within the bound, until it does; written under lock,
     * completed by the worker. While it is not done, Status reads DEVICE_NEEDS_RESET.
     */
    private volatile CompletableFuture<Void> pendingReset;

    /** Guards interruptStatus; never held while calling out. */
    private final Object irqLock = new Object();
    private int interruptStatus;

    private final AtomicInteger configGeneration = new AtomicInteger();
    private final AtomicBoolean warned = new AtomicBoolean();
    private volatile String lastError;

    /** Per-queue registers, guarded by {@link #lock}. */
    private static final class QueueRegisters {
        final int max;
        int num;
        boolean ready;
        long desc;
        long driver;
        long device;

        QueueRegisters(int max) {
            this.max = max;
            clear();
        }

        void clear() {
            num = max;
            ready = false;
            desc = 0;
            driver = 0;
            device = 0;
        }

        VirtqueueLayout layout() {
            return new VirtqueueLayout(num, desc, driver, device);
        }
    }

    /**
     * @param device the device this transport carries; its identity, queues and features are read now
     * @param memory guest RAM, where the driver puts the queues
     * @param mmioBase the guest-physical base of the window (4-byte aligned; below 4 GiB for ACPI)
     * @param interrupt the device's interrupt line (edge: an irqfd)
     * @param executor where the device's worker runs: a dedicated thread (see {@link #newWorker}), a
     *     pool, or {@code Runnable::run} in tests; tasks are serialised on top of it
     */
    public VirtioMmioTransport(VirtioDevice device, GuestMemory memory, long mmioBase, InterruptLine interrupt,
            Executor executor) {
        this(device, memory, mmioBase, interrupt, executor, RESET_TIMEOUT);
    }

    /** As the public constructor, with another bound on a vCPU's wait for the worker (tests). */
    VirtioMmioTransport(VirtioDevice device, GuestMemory memory, long mmioBase, InterruptLine interrupt,
            Executor executor, Duration resetTimeout) {
        if (resetTimeout.isNegative() || resetTimeout.isZero()) {
            throw new IllegalArgumentException("reset timeout must be positive: " + resetTimeout);
        }
        this.resetTimeoutNanos = resetTimeout.toNanos();
        this.device = Objects.requireNonNull(device, "device");
        this.memory = Objects.requireNonNull(memory, "memory");
        this.interrupt = Objects.requireNonNull(interrupt, "interrupt");
        if (mmioBase < 0 || (mmioBase & 3) != 0) {
            throw new IllegalArgumentException("virtio-mmio base must be 4-byte aligned: 0x" + Long.toHexString(mmioBase));
        }
        this.mmioBase = mmioBase;
        this.deviceType = device.deviceType();
        if (deviceType <= 0) {
            throw new IllegalArgumentException("virtio device type must be positive: " + deviceType);
        }
        this.queueCount = device.queueCount();
        if (queueCount < 0 || queueCount > MAX_QUEUES) {
            throw new IllegalArgumentException("queue count must be 0.." + MAX_QUEUES + ": " + queueCount);
        }
        this.queueMax = new int[queueCount];
        this.queues = new QueueRegisters[queueCount];
        for (int i = 0; i < queueCount; i++) {
            int max = device.queueMaxSize(i);
            if (max != 0 && !VirtqueueLayout.isValidSize(max)) {
                throw new IllegalArgumentException("queue " + i + " maximum size must be 0 or a power of two up to "
                        + VirtqueueLayout.MAX_SIZE + ": " + max);
            }
            queueMax[i] = max;
            queues[i] = new QueueRegisters(max);
        }
        this.configSize = device.configSize();
        if (configSize < 0 || configSize > MAX_CONFIG_SIZE) {
            throw new IllegalArgumentException("config space must be 0.." + MAX_CONFIG_SIZE + " bytes: " + configSize);
        }
        this.maxChainBytes = device.maxChainBytes();
        if (maxChainBytes < 1 || maxChainBytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("maxChainBytes must be 1.." + Integer.MAX_VALUE + ": " + maxChainBytes);
        }
        this.offeredFeatures = (device.deviceFeatures() & ~VirtioFeatures.TRANSPORT_BITS)
                | VirtioFeatures.bit(VirtioFeatures.VERSION_1)
                | VirtioFeatures.bit(VirtioFeatures.RING_EVENT_IDX)
                | VirtioFeatures.bit(VirtioFeatures.INDIRECT_DESC);
        this.worker = new SerialExecutor(Objects.requireNonNull(executor, "executor"), this::workerTaskFailed);
        device.attach(this);
    }

    /** One platform daemon thread named {@code threadName}: the usual worker for one device. Shut it down after {@link #close()}. */
    public static ExecutorService newWorker(String threadName) {
        return Executors.newSingleThreadExecutor(Thread.ofPlatform().name(threadName).daemon(true).factory());
    }

    public VirtioDevice device() {
        return device;
    }

    public long mmioBase() {
        return mmioBase;
    }

    /** The guest-physical address of QueueNotify: where the VMM puts one ioeventfd per queue (datamatch = queue index, 4 bytes). */
    public long notifyAddress() {
        return mmioBase + QUEUE_NOTIFY;
    }

    /** The features offered to the driver: the device's plus VERSION_1, RING_EVENT_IDX and INDIRECT_DESC. */
    public long offeredFeatures() {
        return offeredFeatures;
    }

    /** Places the window on {@code mmioBus} at {@link #mmioBase()}. */
    public void register(Bus mmioBus, String name) {
        mmioBus.register(mmioBase, WINDOW_SIZE, name, this);
    }

    /** The status register as the driver reads it. */
    public int status() {
        return statusValue();
    }

    public int interruptStatus() {
        synchronized (irqLock) {
            return interruptStatus;
        }
    }

    public int configGeneration() {
        return configGeneration.get();
    }

    /** Whether the driver set DRIVER_OK and the device has not been reset or failed since. */
    public boolean isActive() {
        Activation a = activation;
        return a != null && a.live;
    }

    /** The latest guest or device error this transport saw (refused features, bad queue, device failure), or null. */
    public String lastError() {
        return lastError;
    }

    // ---------------------------------------------------------------------------------------------
    // Bus accesses (vCPU threads)

    @Override
    public long read(long offset, int size) {
        try {
            if (offset >= CONFIG && offset < WINDOW_SIZE) {
                return readConfigSpace((int) (offset - CONFIG), size);
            }
            if (size != 4 || offset < 0 || offset >= CONFIG || (offset & 3) != 0) {
                return 0;
            }
            return Integer.toUnsignedLong(readRegister((int) offset));
        } catch (RuntimeException e) {
            error("read of 0x" + Long.toHexString(offset) + " failed: " + e, e);
            return 0;
        }
    }

    @Override
    public void write(long offset, int size, long value) {
        try {
            if (offset >= CONFIG && offset < WINDOW_SIZE) {
                if (!closed) {
                    writeConfigSpace((int) (offset - CONFIG), size, value);
                }
                return;
            }
            if (size != 4 || offset < 0 || offset >= CONFIG || (offset & 3) != 0) {
                return;
            }
            int v = (int) value;
            switch ((int) offset) {
                case QUEUE_NOTIFY -> onQueueNotify(v);
                case INTERRUPT_ACK -> {
                    synchronized (irqLock) {
                        interruptStatus &= ~v;
                    }
                }
                default -> {
                    synchronized (lock) {
                        if (!closed) {
                            writeRegister((int) offset, v);
                        }
                    }
                }
            }
        } catch (RuntimeException e) {
            error("write of 0x" + Long.toHexString(offset) + " failed: " + e, e);
        }
    }

    private int readRegister(int offset) {
        switch (offset) {
            case MAGIC_VALUE:
                return MAGIC;
            case VERSION:
                return MMIO_VERSION;
            case DEVICE_ID:
                return deviceType;
            case VENDOR_ID:
                return VENDOR;
            case INTERRUPT_STATUS:
                return interruptStatus();
            case CONFIG_GENERATION:
                return configGeneration.get();
            case STATUS:
                return statusValue();
            case SHM_LEN_LOW, SHM_LEN_HIGH, SHM_BASE_LOW, SHM_BASE_HIGH:
                return -1;
            default:
                break;
        }
        synchronized (lock) {
            return switch (offset) {
                case DEVICE_FEATURES -> switch (deviceFeaturesSel) {
                    case 0 -> (int) offeredFeatures;
                    case 1 -> (int) (offeredFeatures >>> 32);
                    default -> 0;
                };
                case QUEUE_NUM_MAX -> selectedQueue() != null ? selectedQueue().max : 0;
                case QUEUE_READY -> selectedQueue() != null && selectedQueue().ready ? 1 : 0;
                default -> 0;
            };
        }
    }

    private void writeRegister(int offset, int v) {
        switch (offset) {
            case DEVICE_FEATURES_SEL -> deviceFeaturesSel = v;
            case DRIVER_FEATURES_SEL -> driverFeaturesSel = v;
            case DRIVER_FEATURES -> writeDriverFeatures(v);
            case QUEUE_SEL -> queueSel = v;
            case QUEUE_NUM -> {
                QueueRegisters q = configurableQueue();
                if (q != null) {
                    q.num = v;
                }
            }
            case QUEUE_READY -> writeQueueReady(v);
            case STATUS -> writeStatus(v);
            case QUEUE_DESC_LOW, QUEUE_DESC_HIGH, QUEUE_DRIVER_LOW, QUEUE_DRIVER_HIGH, QUEUE_DEVICE_LOW,
                    QUEUE_DEVICE_HIGH -> writeQueueAddress(offset, v);
            default -> {
                // Read-only, unknown or unsupported (SHMSel, QueueReset): ignored.
            }
        }
    }

    private int statusValue() {
        Activation a = activation;
        boolean reset = needsReset || (a != null && a.failed) || resetPending();
        return status | (reset ? VirtioStatus.DEVICE_NEEDS_RESET : 0);
    }

    private QueueRegisters selectedQueue() {
        return queueSel >= 0 && queueSel < queueCount && queues[queueSel].max != 0 ? queues[queueSel] : null;
    }

    /** Queue registers are writable between FEATURES_OK and DRIVER_OK (and not after FAILED). */
    private boolean queuesConfigurable() {
        return (status & VirtioStatus.FEATURES_OK) != 0
                && (status & (VirtioStatus.DRIVER_OK | VirtioStatus.FAILED)) == 0;
    }

    /** The selected queue if its size and addresses may be written now: configurable and not ready. */
    private QueueRegisters configurableQueue() {
        QueueRegisters q = selectedQueue();
        return q != null && queuesConfigurable() && !q.ready ? q : null;
    }

    private void writeDriverFeatures(int v) {
        if ((status & VirtioStatus.DRIVER) == 0
                || (status & (VirtioStatus.FEATURES_OK | VirtioStatus.FAILED)) != 0) {
            return;
        }
        long bits = Integer.toUnsignedLong(v);
        switch (driverFeaturesSel) {
            case 0 -> driverFeatures = (driverFeatures & 0xFFFF_FFFF_0000_0000L) | bits;
            case 1 -> driverFeatures = (driverFeatures & 0xFFFF_FFFFL) | (bits << 32);
            default -> driverFeaturesBeyond64 |= v != 0;
        }
    }

    private void writeQueueAddress(int offset, int v) {
        QueueRegisters q = configurableQueue();
        if (q == null) {
            return;
        }
        long bits = Integer.toUnsignedLong(v);
        switch (offset) {
            case QUEUE_DESC_LOW -> q.desc = low(q.desc, bits);
            case QUEUE_DESC_HIGH -> q.desc = high(q.desc, bits);
            case QUEUE_DRIVER_LOW -> q.driver = low(q.driver, bits);
            case QUEUE_DRIVER_HIGH -> q.driver = high(q.driver, bits);
            case QUEUE_DEVICE_LOW -> q.device = low(q.device, bits);
            case QUEUE_DEVICE_HIGH -> q.device = high(q.device, bits);
            default -> throw new AssertionError(offset);
        }
    }

    private static long low(long old, long bits) {
        return (old & 0xFFFF_FFFF_0000_0000L) | bits;
    }

    private static long high(long old, long bits) {
        return (old & 0xFFFF_FFFFL) | (bits << 32);
    }

    private void writeQueueReady(int v) {
        QueueRegisters q = selectedQueue();
        if (q == null || !queuesConfigurable()) {
            return;
        }
        if (v == 0) {
            q.ready = false;
        } else if (v == 1 && !q.ready) {
            try {
                q.layout().validate(memory, q.max);
                q.ready = true;
            } catch (VirtqueueException e) {
                needsReset = true;
                error("queue " + queueSel + " refused: " + e.getMessage(), null);
            }
        }
    }

    private void writeStatus(int value) {
        int v = value & 0xFF;
        if (v == 0) {
            resetLocked();
            return;
        }
        if (resetPending()) {
            return; // the device has not finished its last reset: it cannot be set up again yet
        }
        int requested = v & ~VirtioStatus.DEVICE_NEEDS_RESET;
        if ((requested & ~KNOWN_STATUS) != 0 || (status & ~requested) != 0) {
            return;
        }
        int added = requested & ~status;
        if (added == 0 || (status & VirtioStatus.FAILED) != 0) {
            return;
        }
        if ((added & VirtioStatus.FAILED) != 0) {
            status |= VirtioStatus.FAILED;
            return;
        }
        if (((added & VirtioStatus.DRIVER) != 0 && (requested & VirtioStatus.ACKNOWLEDGE) == 0)
                || ((added & VirtioStatus.FEATURES_OK) != 0 && (requested & VirtioStatus.DRIVER) == 0)
                || ((added & VirtioStatus.DRIVER_OK) != 0 && (requested & VirtioStatus.FEATURES_OK) == 0)) {
            return;
        }
        status |= added & (VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER);
        if ((added & VirtioStatus.FEATURES_OK) != 0) {
            String refusal = checkFeatures();
            if (refusal != null) {
                error("features refused: " + refusal, null);
                return;
            }
            status |= VirtioStatus.FEATURES_OK;
        }
        if ((added & VirtioStatus.DRIVER_OK) != 0 && !needsReset) {
            activate();
        }
    }

    private String checkFeatures() {
        if (driverFeaturesBeyond64) {
            return "the driver accepted features above bit 63";
        }
        long unoffered = driverFeatures & ~offeredFeatures;
        if (unoffered != 0) {
            return "the driver accepted features not offered: 0x" + Long.toHexString(unoffered);
        }
        if (!VirtioFeatures.has(driverFeatures, VirtioFeatures.VERSION_1)) {
            return "the driver did not accept VIRTIO_F_VERSION_1";
        }
        if (!device.acceptFeatures(driverFeatures)) {
            return "the device does not work with features 0x" + Long.toHexString(driverFeatures);
        }
        return null;
    }

    /** DRIVER_OK: builds the queues and hands the activation to the worker; refuses (DEVICE_NEEDS_RESET) if a queue is bad. */
    private void activate() {
        boolean eventIdx = VirtioFeatures.has(driverFeatures, VirtioFeatures.RING_EVENT_IDX);
        boolean indirect = VirtioFeatures.has(driverFeatures, VirtioFeatures.INDIRECT_DESC);
        Virtqueue[] vqs = new Virtqueue[queueCount];
        for (int i = 0; i < queueCount; i++) {
            QueueRegisters q = queues[i];
            if (q.ready) {
                try {
                    vqs[i] = new Virtqueue(i, memory, q.layout(), q.max, eventIdx, indirect, maxChainBytes);
                } catch (VirtqueueException e) {
                    needsReset = true;
                    error("queue " + i + " refused at DRIVER_OK: " + e.getMessage(), null);
                    return;
                }
            }
        }
        Activation a = new Activation(driverFeatures, vqs);
        status |= VirtioStatus.DRIVER_OK;
        activation = a;
        a.submit(() -> device.activate(a));
        for (int i = 0; i < queueCount; i++) {
            a.scheduleNotify(i);
        }
    }

    /**
     * Status=0: cut the activation off, let the worker finish and reset the device (waiting at
     * most the bound), then clear every register. A reset still pending from before is waited for
     * first; if it still has not finished, the device stays as it is (needing reset).
     */
    private void resetLocked() {
        Activation a = activation;
        activation = null;
        if (a != null) {
            a.close();
        }
        CompletableFuture<Void> pending = pendingReset;
        if (pending != null) {
            if (!awaitWorker(pending)) {
                error("the device's worker is still busy with an earlier reset; the device still needs a reset", null);
                return;
            }
            pendingReset = null;
        }
        CompletableFuture<Void> done = runOnWorker(device::reset);
        if (!awaitWorker(done)) {
            pendingReset = done;
            error("device reset did not finish within " + resetTimeoutNanos / 1_000_000
                    + " ms; the device needs a reset until it does", null);
        }
        status = 0;
        needsReset = false;
        deviceFeaturesSel = 0;
        driverFeaturesSel = 0;
        driverFeatures = 0;
        driverFeaturesBeyond64 = false;
        queueSel = 0;
        for (QueueRegisters q : queues) {
            q.clear();
        }
        synchronized (irqLock) {
            interruptStatus = 0;
        }
    }

    /** Whether a reset the worker did not finish in time is still running. */
    private boolean resetPending() {
        CompletableFuture<Void> pending = pendingReset;
        return pending != null && !pending.isDone();
    }

    /** Queues {@code task} on the worker (runs it here when on the worker, or when the worker is gone); completes when it ran. */
    private CompletableFuture<Void> runOnWorker(Runnable task) {
        CompletableFuture<Void> done = new CompletableFuture<>();
        if (worker.inWorker()) {
            runLogged(task);
            done.complete(null);
            return done;
        }
        try {
            worker.execute(() -> {
                try {
                    runLogged(task);
                } finally {
                    done.complete(null);
                }
            });
        } catch (RejectedExecutionException e) {
            runLogged(task); // the worker is gone (the VM is stopping): nothing runs concurrently any more
            done.complete(null);
        }
        return done;
    }

    /** Waits at most the bound for {@code done}; false if it has not completed by then. */
    private boolean awaitWorker(CompletableFuture<Void> done) {
        try {
            done.get(resetTimeoutNanos, TimeUnit.NANOSECONDS);
            return true;
        } catch (TimeoutException e) {
            return false;
        } catch (InterruptedException e) {
            // The VM is stopping; the activation is already cut off from guest memory.
            Thread.currentThread().interrupt();
            return done.isDone();
        } catch (ExecutionException e) {
            throw new AssertionError(e);
        }
    }

    private void runLogged(Runnable task) {
        try {
            task.run();
        } catch (Throwable e) {
            error("device reset failed: " + e, e);
        }
    }

    /** Last resort for what a worker task threw past its own handling: fail the current activation. */
    private void workerTaskFailed(Throwable e) {
        error("device worker task failed: " + e, e);
        Activation a = activation;
        if (a != null) {
            a.fail("device worker task failed: " + e);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Configuration space

    private long readConfigSpace(int offset, int size) {
        if (size == 8) {
            if (!configInBounds(offset, 8)) {
                return 0;
            }
            return Integer.toUnsignedLong(device.readConfig(offset, 4))
                    | (Integer.toUnsignedLong(device.readConfig(offset + 4, 4)) << 32);
        }
        if ((size != 1 && size != 2 && size != 4) || !configInBounds(offset, size)) {
            return 0;
        }
        long mask = size == 4 ? 0xFFFF_FFFFL : (1L << (8 * size)) - 1;
        return device.readConfig(offset, size) & mask;
    }

    private void writeConfigSpace(int offset, int size, long value) {
        if (size == 8) {
            if (configInBounds(offset, 8)) {
                device.writeConfig(offset, 4, (int) value);
                device.writeConfig(offset + 4, 4, (int) (value >>> 32));
            }
            return;
        }
        if ((size == 1 || size == 2 || size == 4) && configInBounds(offset, size)) {
            long mask = size == 4 ? 0xFFFF_FFFFL : (1L << (8 * size)) - 1;
            device.writeConfig(offset, size, (int) (value & mask));
        }
    }

    private boolean configInBounds(int offset, int size) {
        return offset >= 0 && offset <= configSize - size;
    }

    // ---------------------------------------------------------------------------------------------
    // Notifications and interrupts

    /**
     * The driver kicked queue {@code queue}: from a QueueNotify write, or from the VMM's event loop
     * when the queue's ioeventfd fired. Queues the device's {@link VirtioDevice#queueNotify} on its
     * worker (once, however many kicks arrive before it runs) and returns at once. Ignored unless
     * the device is active and the queue enabled. Safe from any thread.
     */
    public void onQueueNotify(int queue) {
        Activation a = activation;
        if (a != null) {
            a.scheduleNotify(queue);
        }
    }

    /**
     * The device's host side failed outside its worker (a handler of the VMM's event loop that
     * serves it threw): as {@link VirtioContext#fail}, DEVICE_NEEDS_RESET and the
     * configuration-change interrupt; only noted in {@link #lastError()} while the device is not
     * active. Safe from any thread; never waits.
     */
    public void failDevice(String reason) {
        Activation a = activation;
        if (a != null) {
            a.fail(reason);
        } else {
            error(reason, null);
        }
    }

    @Override
    public void configChanged() {
        configGeneration.incrementAndGet();
        Activation a = activation;
        if (a != null) {
            raise(a, INTERRUPT_CONFIG_CHANGE);
        }
    }

    private boolean raise(Activation a, int bit) {
        synchronized (irqLock) {
            if (a.closed || activation != a) {
                return false;
            }
            interruptStatus |= bit;
        }
        try {
            interrupt.trigger();
        } catch (RuntimeException e) {
            error("interrupt failed: " + e, e);
        }
        return true;
    }

    private void error(String message, Throwable cause) {
        lastError = message;
        if (warned.compareAndSet(false, true)) {
            LOG.log(System.Logger.Level.WARNING, "virtio-mmio@0x" + Long.toHexString(mmioBase) + " (type "
                    + deviceType + "): " + message + " (further problems: see lastError())", cause);
        } else {
            LOG.log(System.Logger.Level.DEBUG, "virtio-mmio@0x" + Long.toHexString(mmioBase) + ": " + message, cause);
        }
    }

    /**
     * Resets the device (as if the driver wrote 0 to Status, waiting for the worker) and ignores
     * the guest from then on: call before the guest memory is unmapped. Idempotent.
     */
    @Override
    public void close() {
        synchronized (lock) {
            if (closed) {
                return;
            }
            resetLocked();
            closed = true;
        }
    }

    @Override
    public String toString() {
        return "VirtioMmioTransport[type " + deviceType + " at 0x" + Long.toHexString(mmioBase) + ", status "
                + VirtioStatus.describe(status()) + "]";
    }

    /** One DRIVER_OK..reset period: the context the device works with. */
    private final class Activation implements VirtioContext {
        private final long features;
        private final Virtqueue[] vqs;
        private final AtomicIntegerArray pending;
        /** Queues may be used and work delivered; false after reset or failure. */
        volatile boolean live = true;
        /** Reset: nothing of this activation reaches the driver any more, not even interrupts. */
        volatile boolean closed;
        volatile boolean failed;

        Activation(long features, Virtqueue[] vqs) {
            this.features = features;
            this.vqs = vqs;
            this.pending = new AtomicIntegerArray(vqs.length);
        }

        void scheduleNotify(int queue) {
            if (queue < 0 || queue >= vqs.length || vqs[queue] == null || !live) {
                return;
            }
            if (pending.compareAndSet(queue, 0, 1)) {
                submit(() -> {
                    pending.set(queue, 0);
                    device.queueNotify(queue);
                });
            }
        }

        /** Runs {@code task} on the worker if this activation is still live then; whatever it throws fails the device. */
        void submit(Runnable task) {
            try {
                worker.execute(() -> {
                    if (!live) {
                        return;
                    }
                    try {
                        task.run();
                    } catch (Throwable e) {
                        error("device error: " + e, e);
                        fail("device error: " + e);
                    }
                });
            } catch (RejectedExecutionException e) {
                // The worker was shut down: the VM is stopping.
            }
        }

        void close() {
            closed = true;
            stop();
        }

        private void stop() {
            live = false;
            for (Virtqueue q : vqs) {
                if (q != null) {
                    q.deactivate();
                }
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
            return vqs.length;
        }

        @Override
        public Virtqueue queue(int index) {
            return index >= 0 && index < vqs.length ? vqs[index] : null;
        }

        @Override
        public void signalUsed() {
            if (live) {
                raise(this, INTERRUPT_USED_BUFFER);
            }
        }

        @Override
        public boolean notifyIfNeeded(Virtqueue queue) {
            return queue != null && live && queue.shouldNotify() && raise(this, INTERRUPT_USED_BUFFER);
        }

        @Override
        public void configChanged() {
            VirtioMmioTransport.this.configChanged();
        }

        @Override
        public void fail(String reason) {
            synchronized (this) {
                if (closed || failed) {
                    return;
                }
                failed = true;
                stop();
            }
            error("device needs reset: " + reason, null);
            raise(this, INTERRUPT_CONFIG_CHANGE);
        }

        @Override
        public void execute(Runnable task) {
            submit(Objects.requireNonNull(task));
        }

        @Override
        public boolean isLive() {
            return live;
        }
    }
}
