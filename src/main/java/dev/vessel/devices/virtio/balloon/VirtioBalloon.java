package dev.vessel.devices.virtio.balloon;

import dev.vessel.devices.virtio.AbstractVirtioDevice;
import dev.vessel.devices.virtio.VirtioContext;
import dev.vessel.devices.virtio.VirtioFeatures;
import dev.vessel.devices.virtio.queue.ChainReader;
import dev.vessel.devices.virtio.queue.DescriptorChain;
import dev.vessel.devices.virtio.queue.Virtqueue;
import dev.vessel.devices.virtio.queue.VirtqueueException;
import dev.vessel.memory.GuestMemory;
import dev.vessel.memory.GuestMemoryException;
import dev.vessel.sys.ErrnoException;

import java.time.Duration;
import java.util.Arrays;
import java.util.BitSet;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * virtio-balloon, the memory balloon (virtio 1.2 §5.5, device type 5): the host sets a target,
 * {@code num_pages}, and the guest's driver allocates that many 4 KiB pages and hands their page
 * frame numbers (PFNs) to the device, which gives the host memory behind them back to the host
 * kernel ({@link PageReleaser}: madvise DONTNEED). Lowering the target makes the driver take pages
 * back (deflate): nothing to do for anonymous memory, a page the guest touches again faults in as
 * zeroes. The driver writes how many pages it holds in the balloon to {@code actual}.
 *
 * <h2>Features and queues</h2>
 * Offered by default: VIRTIO_BALLOON_F_STATS_VQ (memory statistics), F_DEFLATE_ON_OOM (the guest
 * may take pages back from the balloon rather than kill processes when it runs out of memory: the
 * target is a request, not a way to crash the guest) and F_REPORTING (free page reporting: the
 * guest reports blocks of free memory, 2 MiB and larger on x86, and the device releases them too,
 * so memory the guest freed returns to the host without a balloon target). Not offered:
 * F_MUST_TELL_HOST (not needed: deflated pages need nothing from the host), F_FREE_PAGE_HINT (for
 * live migration), F_PAGE_POISON.
 * Queues: inflateq (0), deflateq (1), then, as Linux numbers them, one queue per negotiated
 * optional feature in feature order: statsq if STATS_VQ, reporting_vq if REPORTING (index 3 with
 * stats, 2 without).
 *
 * <h2>Configuration space</h2>
 * {@code le32 num_pages} at 0, set by the host ({@link #setTargetPages}); {@code le32 actual} at 4,
 * written by the driver. 8 bytes (the optional fields belong to features not offered).
 *
 * <h2>The guest is hostile</h2>
 * Every PFN must name a page of guest RAM ({@code GuestMemory.contains(pfn * 4096, 4096)});
 * others are ignored and counted ({@link #invalidPfns()}). The device tracks which pages are in
 * the balloon (one bit per page of guest RAM): a page inflated twice counts once
 * ({@link #duplicatePfns()}), a deflated page that was not in the balloon counts nothing. A request
 * is read {@value #PFN_BLOCK} PFNs at a time into a fixed buffer, and at most
 * {@value #MAX_PFNS_PER_REQUEST} PFNs of one request are looked at (Linux sends 256); runs of
 * consecutive pages are released with one madvise each. A stats buffer must hold whole 10-byte
 * entries, at most {@link BalloonStats#MAX_ENTRIES} of them; a malformed one leaves the previous
 * snapshot in place ({@link #malformedStats()}). Reported free ranges are released page-aligned.
 *
 * <h2>Threads</h2>
 * Queues run on the device's worker. The host side ({@link #setTargetPages}, {@link #refreshStats},
 * {@link #awaitActual}, the counters) is safe from any thread: the API server's, for instance.
 */
public final class VirtioBalloon extends AbstractVirtioDevice {
    public static final int F_MUST_TELL_HOST = 0;
    public static final int F_STATS_VQ = 1;
    public static final int F_DEFLATE_ON_OOM = 2;
    public static final int F_FREE_PAGE_HINT = 3;
    public static final int F_PAGE_POISON = 4;
    public static final int F_REPORTING = 5;

    /** What {@link #VirtioBalloon(long)} offers. */
    public static final long DEFAULT_FEATURES = VirtioFeatures.bit(F_STATS_VQ) | VirtioFeatures.bit(F_DEFLATE_ON_OOM)
            | VirtioFeatures.bit(F_REPORTING);
    private static final long SUPPORTED_FEATURES = DEFAULT_FEATURES;

    /** The balloon's page size: PFNs are in 4 KiB units whatever the guest's page size (VIRTIO_BALLOON_PFN_SHIFT). */
    public static final int PAGE_SHIFT = 12;
    public static final long PAGE_SIZE = 1L << PAGE_SHIFT;

    public static final int INFLATEQ = 0;
    public static final int DEFLATEQ = 1;
    /** Every queue's maximum size; Linux needs at least 32 for reporting_vq (PAGE_REPORTING_CAPACITY). */
    public static final int QUEUE_SIZE = 128;

    public static final int CONFIG_NUM_PAGES = 0;
    public static final int CONFIG_ACTUAL = 4;
    public static final int CONFIG_SIZE = 8;

    /** PFNs read per step into a fixed buffer. */
    static final int PFN_BLOCK = 1024;
    /** The most PFNs of one inflate or deflate request the device looks at; the rest are ignored. */
    public static final int MAX_PFNS_PER_REQUEST = 16384;

    private static final System.Logger LOG = System.getLogger(VirtioBalloon.class.getName());

    private final long memoryBytes;
    private final PageReleaser releaser;

    // Queue roles for the current activation: set on activation (worker), read by host threads.
    private volatile int statsQueue = -1;
    private volatile int reportingQueue = -1;

    // Worker-only state.
    /** Pages in the balloon, by PFN. */
    private final BitSet ballooned = new BitSet();
    private final byte[] pfnBytes = new byte[PFN_BLOCK * 4];
    private final long[] gpas = new long[PFN_BLOCK];
    /** The stats buffer the driver gave us: returning it asks the driver for fresh statistics. */
    private DescriptorChain heldStats;

    // Counters: written by the worker only, read anywhere.
    private volatile long inflatedPages;
    private volatile long duplicatePfns;
    private volatile long invalidPfns;
    private volatile long deflatedPages;
    private volatile long releasedBytes;
    private volatile long reportedBytes;
    private volatile long releaseFailures;
    private volatile long malformedRequests;
    private volatile long malformedStats;
    private final AtomicBoolean warnedRelease = new AtomicBoolean();

    /** Statistics: guarded by statsLock. */
    private final Object statsLock = new Object();
    private BalloonStats stats = BalloonStats.NONE;
    private long statsGeneration;

    /** Notified whenever the driver writes {@code actual}. */
    private final Object actualLock = new Object();

    /** A balloon for a VM of {@code memoryBytes}, with the default features, releasing pages with madvise. */
    public VirtioBalloon(long memoryBytes) {
        this(memoryBytes, DEFAULT_FEATURES, PageReleaser.MADVISE);
    }

    /**
     * @param memoryBytes the VM's RAM: targets must stay below it
     * @param features the feature bits to offer, a subset of {@link #DEFAULT_FEATURES}
     * @param releaser how pages go back to the host
     */
    public VirtioBalloon(long memoryBytes, long features, PageReleaser releaser) {
        super(TYPE_BALLOON, checkFeatures(features), queueSizes(features), CONFIG_SIZE);
        if (memoryBytes < PAGE_SIZE) {
            throw new IllegalArgumentException("memory size " + memoryBytes);
        }
        this.memoryBytes = memoryBytes;
        this.releaser = Objects.requireNonNull(releaser, "releaser");
    }

    private static long checkFeatures(long features) {
        if ((features & ~SUPPORTED_FEATURES) != 0) {
            throw new IllegalArgumentException("unsupported balloon features 0x" + Long.toHexString(features));
        }
        return features;
    }

    private static int[] queueSizes(long features) {
        int n = 2 + (VirtioFeatures.has(features, F_STATS_VQ) ? 1 : 0) + (VirtioFeatures.has(features, F_REPORTING) ? 1 : 0);
        int[] sizes = new int[n];
        Arrays.fill(sizes, QUEUE_SIZE);
        return sizes;
    }

    // ---------------------------------------------------------------------------------------------
    // Host side

    /** The VM's RAM in bytes. */
    public long memoryBytes() {
        return memoryBytes;
    }

    /** The largest target: the balloon can never hold all of the guest's memory. */
    public long maxTargetPages() {
        return Math.min(0xFFFF_FFFFL, (memoryBytes >> PAGE_SHIFT) - 1);
    }

    /** num_pages: how many pages the host wants in the balloon. */
    public long targetPages() {
        return Integer.toUnsignedLong(config.getU32(CONFIG_NUM_PAGES));
    }

    /** actual: how many pages the driver says the balloon holds. */
    public long actualPages() {
        return Integer.toUnsignedLong(config.getU32(CONFIG_ACTUAL));
    }

    /**
     * Sets num_pages and tells the driver (a configuration-change interrupt once it set DRIVER_OK;
     * Linux also reads the target when it probes the device).
     *
     * @throws IllegalArgumentException unless 0 <= pages <= {@link #maxTargetPages()}
     */
    public void setTargetPages(long pages) {
        if (pages < 0 || pages > maxTargetPages()) {
            throw new IllegalArgumentException("balloon target of " + pages + " pages is outside 0.."
                    + maxTargetPages() + " (the VM has " + (memoryBytes >> 20) + " MiB)");
        }
        config.putU32(CONFIG_NUM_PAGES, (int) pages);
        configChanged();
    }

    /**
     * Waits until the driver reports {@code actual == pages}, at most {@code timeout}.
     *
     * @return whether it did
     */
    public boolean awaitActual(long pages, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (actualLock) {
            while (actualPages() != pages) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return false;
                }
                actualLock.wait(Math.max(1, left / 1_000_000));
            }
            return true;
        }
    }

    /** The latest statistics the driver sent ({@link BalloonStats#NONE} before the first). */
    public BalloonStats stats() {
        synchronized (statsLock) {
            return stats;
        }
    }

    /** Whether the driver negotiated the stats queue and the device is active. */
    public boolean statsAvailable() {
        VirtioContext ctx = context();
        return ctx != null && ctx.isLive() && statsQueue >= 0;
    }

    /**
     * Asks the driver for fresh statistics (by returning its stats buffer) and waits for them, at
     * most {@code timeout}. Returns the latest snapshot either way: compare its
     * {@link BalloonStats#receivedAtMillis()} to tell.
     */
    public BalloonStats refreshStats(Duration timeout) throws InterruptedException {
        VirtioContext ctx = context();
        long generation;
        synchronized (statsLock) {
            generation = statsGeneration;
        }
        if (ctx == null || !ctx.isLive() || statsQueue < 0) {
            return stats();
        }
        ctx.execute(this::returnStatsBuffer);
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (statsLock) {
            while (statsGeneration == generation) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                statsLock.wait(Math.max(1, left / 1_000_000));
            }
            return stats;
        }
    }

    /** Pages in the balloon as the device counts them (valid, distinct PFNs inflated and not deflated). */
    public long inflatedPages() {
        return inflatedPages;
    }

    /** PFNs of inflate requests that were already in the balloon. */
    public long duplicatePfns() {
        return duplicatePfns;
    }

    /** PFNs of inflate or deflate requests that are not guest RAM. */
    public long invalidPfns() {
        return invalidPfns;
    }

    /** Pages taken out of the balloon by deflate requests. */
    public long deflatedPages() {
        return deflatedPages;
    }

    /** Bytes of host memory given back for inflated pages (each release counted). */
    public long releasedBytes() {
        return releasedBytes;
    }

    /** Bytes of free memory the guest reported and the device released. */
    public long reportedBytes() {
        return reportedBytes;
    }

    /** madvise calls that failed. */
    public long releaseFailures() {
        return releaseFailures;
    }

    /** Inflate or deflate requests with a trailing partial PFN or more than {@value #MAX_PFNS_PER_REQUEST} PFNs. */
    public long malformedRequests() {
        return malformedRequests;
    }

    /** Stats buffers that were rejected. */
    public long malformedStats() {
        return malformedStats;
    }

    // ---------------------------------------------------------------------------------------------
    // Driver side

    @Override
    public void writeConfig(int offset, int size, int value) {
        // Only actual is the driver's; num_pages belongs to the host.
        if (offset >= CONFIG_ACTUAL && offset + size <= CONFIG_ACTUAL + 4) {
            config.write(offset, size, value);
            synchronized (actualLock) {
                actualLock.notifyAll();
            }
        }
    }

    @Override
    protected void onActivate(VirtioContext context) {
        int next = 2;
        int stats = context.hasFeature(F_STATS_VQ) ? next++ : -1;
        int reporting = context.hasFeature(F_REPORTING) ? next : -1;
        statsQueue = stats;
        reportingQueue = reporting;
        if (context.queue(INFLATEQ) == null || context.queue(DEFLATEQ) == null) {
            context.fail("virtio-balloon: the driver did not enable inflateq and deflateq");
        }
    }

    @Override
    protected void onReset() {
        // The chain belongs to the old activation: forget it without touching it.
        heldStats = null;
        statsQueue = -1;
        reportingQueue = -1;
        // A reset driver holds no balloon: every page is the guest's again (they refault as zeroes).
        ballooned.clear();
        inflatedPages = 0;
        config.putU32(CONFIG_ACTUAL, 0);
        synchronized (actualLock) {
            actualLock.notifyAll();
        }
    }

    @Override
    protected void processQueue(int index, Virtqueue queue) throws VirtqueueException {
        if (index == INFLATEQ) {
            drain(queue, chain -> {
                changeBalloon(chain, true);
                return 0;
            });
        } else if (index == DEFLATEQ) {
            drain(queue, chain -> {
                changeBalloon(chain, false);
                return 0;
            });
        } else if (index == statsQueue) {
            takeStats(queue);
        } else if (index == reportingQueue) {
            drain(queue, chain -> {
                releaseReported(chain);
                return 0;
            });
        } else {
            drain(queue, chain -> 0); // a queue with no role under the negotiated features
        }
    }

    /** An inflate (true) or deflate (false) request: an array of le32 PFNs. */
    private void changeBalloon(DescriptorChain chain, boolean inflate) throws VirtqueueException {
        GuestMemory memory = chain.queue().memory();
        ChainReader in = chain.reader();
        int available = in.remaining();
        long count = available / 4;
        if (available % 4 != 0 || count > MAX_PFNS_PER_REQUEST) {
            malformedRequests++;
            count = Math.min(count, MAX_PFNS_PER_REQUEST);
        }
        while (count > 0) {
            int n = (int) Math.min(count, PFN_BLOCK);
            in.readFully(pfnBytes, 0, 4 * n);
            int valid = 0;
            for (int i = 0; i < n; i++) {
                int o = 4 * i;
                long pfn = (pfnBytes[o] & 0xFFL) | (pfnBytes[o + 1] & 0xFFL) << 8 | (pfnBytes[o + 2] & 0xFFL) << 16
                        | (pfnBytes[o + 3] & 0xFFL) << 24;
                long gpa = pfn << PAGE_SHIFT;
                if (pfn > Integer.MAX_VALUE || !memory.contains(gpa, PAGE_SIZE)) {
                    invalidPfns++;
                    continue;
                }
                int bit = (int) pfn;
                if (inflate) {
                    if (ballooned.get(bit)) {
                        duplicatePfns++;
                    } else {
                        ballooned.set(bit);
                        inflatedPages++;
                    }
                    // Released even when already in the balloon: a guest that touched it gets it freed again.
                    gpas[valid++] = gpa;
                } else if (ballooned.get(bit)) {
                    ballooned.clear(bit);
                    inflatedPages--;
                    deflatedPages++;
                }
            }
            if (inflate) {
                releaseRuns(memory, valid);
            }
            count -= n;
        }
    }

    /** Releases the pages at gpas[0..n): sorted, duplicates dropped, consecutive pages in one call. */
    private void releaseRuns(GuestMemory memory, int n) {
        if (n == 0) {
            return;
        }
        Arrays.sort(gpas, 0, n);
        long start = gpas[0];
        long end = start + PAGE_SIZE;
        for (int i = 1; i < n; i++) {
            long gpa = gpas[i];
            if (gpa < end) {
                continue; // the same page again
            }
            if (gpa == end && memory.contains(start, end + PAGE_SIZE - start)) {
                end += PAGE_SIZE;
                continue;
            }
            release(memory, start, end - start);
            start = gpa;
            end = gpa + PAGE_SIZE;
        }
        release(memory, start, end - start);
    }

    private boolean release(GuestMemory memory, long gpa, long length) {
        try {
            releaser.release(memory, gpa, length);
            releasedBytes += length;
            return true;
        } catch (ErrnoException | GuestMemoryException | RuntimeException e) {
            releaseFailures++;
            if (warnedRelease.compareAndSet(false, true)) {
                LOG.log(System.Logger.Level.WARNING, "virtio-balloon: cannot release guest memory 0x"
                        + Long.toHexString(gpa) + "+" + length + ": " + e.getMessage());
            }
            return false;
        }
    }

    /** Free page reporting: each buffer of the chain is a free block of guest RAM. */
    private void releaseReported(DescriptorChain chain) {
        GuestMemory memory = chain.queue().memory();
        for (int i = 0; i < chain.bufferCount(); i++) {
            DescriptorChain.Buffer b = chain.buffer(i);
            long start = (b.address() + PAGE_SIZE - 1) & -PAGE_SIZE;
            long end = (b.address() + b.length()) & -PAGE_SIZE;
            if (end > start && memory.contains(start, end - start) && release(memory, start, end - start)) {
                reportedBytes += end - start;
            }
        }
    }

    /** statsq: parse each buffer, keep the newest as the token for the next request. */
    private void takeStats(Virtqueue queue) throws VirtqueueException {
        VirtioContext ctx = context();
        int handled = 0;
        try {
            DescriptorChain chain;
            while (handled < queue.size() && (chain = queue.pop()) != null) {
                handled++;
                parseStats(chain);
                if (heldStats != null) {
                    // The driver keeps one buffer here; an older one goes back (as a request for more).
                    queue.addUsed(heldStats, 0);
                }
                heldStats = chain;
            }
        } finally {
            if (ctx != null) {
                ctx.notifyIfNeeded(queue);
            }
        }
        if (handled == queue.size() && ctx != null) {
            int index = queue.index();
            ctx.execute(() -> queueNotify(index));
        }
    }

    private void parseStats(DescriptorChain chain) throws VirtqueueException {
        int length = chain.readableLength();
        BalloonStats parsed;
        try {
            if (length > BalloonStats.MAX_ENTRIES * BalloonStats.ENTRY_SIZE) {
                throw new BalloonStats.MalformedException("stats buffer of " + length + " bytes");
            }
            parsed = BalloonStats.parse(chain.reader().readBytes(length), System.currentTimeMillis());
        } catch (BalloonStats.MalformedException e) {
            malformedStats++;
            return;
        }
        synchronized (statsLock) {
            stats = parsed;
            statsGeneration++;
            statsLock.notifyAll();
        }
    }

    /** Worker: gives the driver its stats buffer back, which asks it for fresh statistics. */
    private void returnStatsBuffer() {
        VirtioContext ctx = context();
        DescriptorChain chain = heldStats;
        if (ctx == null || chain == null || !ctx.isLive()) {
            return;
        }
        Virtqueue queue = chain.queue();
        heldStats = null;
        queue.addUsed(chain, 0);
        ctx.notifyIfNeeded(queue);
    }
}
