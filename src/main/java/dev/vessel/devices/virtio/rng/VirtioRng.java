package dev.vessel.devices.virtio.rng;

import dev.vessel.devices.virtio.AbstractVirtioDevice;
import dev.vessel.devices.virtio.VirtioContext;
import dev.vessel.devices.virtio.queue.ChainWriter;
import dev.vessel.devices.virtio.queue.DescriptorChain;
import dev.vessel.devices.virtio.queue.Virtqueue;
import dev.vessel.devices.virtio.queue.VirtqueueException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * virtio-rng, the entropy device (virtio 1.2 §5.4, device type 4): one queue, requestq, of
 * device-writable buffers that the device fills with random bytes from the host's
 * {@link SecureRandom} (one instance per device; on Linux the non-blocking /dev/urandom source, so
 * the worker never waits for entropy). No feature bits, no configuration space.
 *
 * <h2>Limits</h2>
 * A guest must not make the VMM burn unbounded CPU on its behalf, so the device is rate limited:
 * <ul>
 *   <li>at most {@link #MAX_BYTES_PER_REQUEST} (64 KiB) per request: a larger buffer gets that many
 *   bytes and the used length says so (the spec lets the device fill less than the whole buffer;
 *   Linux asks for 64 bytes at a time anyway);</li>
 *   <li>a token bucket of {@link #DEFAULT_RATE_BYTES_PER_SECOND} (4 MiB/s) with a burst of
 *   {@link #DEFAULT_BURST_BYTES} (1 MiB); every request costs at least {@link #MIN_REQUEST_COST}
 *   (64) bytes of budget, so floods of tiny requests are limited too (at most 65536 requests/s).
 *   When the budget runs out the device leaves the remaining buffers in the ring and looks again
 *   when the budget allows the next request (a timer hands that back to the worker); a request
 *   it takes is filled with at least one byte, never zero (Linux would re-ask at once).</li>
 * </ul>
 * Reading /dev/urandom at 4 MiB/s costs a few percent of one host core.
 *
 * <p>A chain without a writable part (the driver must not send one) is returned with length 0
 * and counted in {@link #rejectedRequests()}; readable buffers before a writable part are ignored.
 */
public final class VirtioRng extends AbstractVirtioDevice {
    /** The requestq's maximum size. */
    public static final int QUEUE_SIZE = 256;
    /** The most bytes one request gets. */
    public static final int MAX_BYTES_PER_REQUEST = 64 * 1024;
    /** Sustained rate of the default bucket. */
    public static final long DEFAULT_RATE_BYTES_PER_SECOND = 4L << 20;
    /** Burst of the default bucket: what a guest may take at once after being idle. */
    public static final long DEFAULT_BURST_BYTES = 1L << 20;
    /** The budget every request costs at least, whatever its size. */
    public static final int MIN_REQUEST_COST = 64;
    static final int POOL_SIZE = 16 * 1024;

    /** Runs a task after a delay; the default is the JDK's shared delay scheduler. */
    @FunctionalInterface
    public interface Scheduler {
        void schedule(long delayNanos, Runnable task);
    }

    private static final Scheduler DEFAULT_SCHEDULER = (delayNanos, task) ->
            CompletableFuture.delayedExecutor(delayNanos, TimeUnit.NANOSECONDS, Runnable::run).execute(task);

    private final SecureRandom random;
    private final long rate;
    private final long burst;
    private final LongSupplier nanoClock;
    private final Scheduler scheduler;
    /**
     * Random bytes drawn ahead, in blocks (one read of /dev/urandom serves 256 of Linux's 64-byte
     * requests), each handed out once and then cleared; nothing is allocated per request.
     */
    private final byte[] pool = new byte[POOL_SIZE];
    private int poolPosition = POOL_SIZE;

    // Worker-only state.
    private long tokens;
    private long lastRefill;
    private boolean retryScheduled;

    private final AtomicLong bytesServed = new AtomicLong();
    private final AtomicLong requestsServed = new AtomicLong();
    private final AtomicLong rejected = new AtomicLong();
    private final AtomicLong throttled = new AtomicLong();

    /** The device with the default limits and a fresh SecureRandom. */
    public VirtioRng() {
        this(newSecureRandom(), DEFAULT_RATE_BYTES_PER_SECOND, DEFAULT_BURST_BYTES, System::nanoTime, DEFAULT_SCHEDULER);
    }

    /**
     * @param random where the bytes come from (owned by this device from now on)
     * @param rateBytesPerSecond the bucket's sustained rate, at least 1
     * @param burstBytes the bucket's size, at least {@link #MIN_REQUEST_COST}
     * @param nanoClock a monotonic clock in nanoseconds
     * @param scheduler runs the retry when the budget ran out
     */
    public VirtioRng(SecureRandom random, long rateBytesPerSecond, long burstBytes, LongSupplier nanoClock,
            Scheduler scheduler) {
        super(TYPE_ENTROPY, 0, new int[] {QUEUE_SIZE}, 0);
        if (rateBytesPerSecond < 1) {
            throw new IllegalArgumentException("rate must be positive: " + rateBytesPerSecond);
        }
        if (burstBytes < MIN_REQUEST_COST) {
            throw new IllegalArgumentException("burst must be at least " + MIN_REQUEST_COST + ": " + burstBytes);
        }
        this.random = Objects.requireNonNull(random, "random");
        this.rate = rateBytesPerSecond;
        this.burst = burstBytes;
        this.nanoClock = Objects.requireNonNull(nanoClock, "nanoClock");
        this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
        this.lastRefill = nanoClock.getAsLong();
        this.tokens = burstBytes;
    }

    /** The non-blocking /dev/urandom source where there is one (Linux), else the platform default. */
    static SecureRandom newSecureRandom() {
        try {
            return SecureRandom.getInstance("NativePRNGNonBlocking");
        } catch (NoSuchAlgorithmException e) {
            return new SecureRandom();
        }
    }

    /** Random bytes handed to the guest so far. */
    public long bytesServed() {
        return bytesServed.get();
    }

    /** Requests answered with random bytes. */
    public long requestsServed() {
        return requestsServed.get();
    }

    /** Requests returned empty because they had no writable buffer. */
    public long rejectedRequests() {
        return rejected.get();
    }

    /** How many times the device stopped taking requests because the budget ran out. */
    public long throttledTimes() {
        return throttled.get();
    }

    @Override
    protected void onActivate(VirtioContext context) {
        if (context.queue(0) == null) {
            context.fail("virtio-rng: the driver did not enable the request queue");
        }
    }

    @Override
    protected void onReset() {
        // A retry of the old activation may still fire: it finds that activation dead and does nothing.
        retryScheduled = false;
    }

    @Override
    protected void processQueue(int index, Virtqueue queue) throws VirtqueueException {
        VirtioContext ctx = context();
        if (ctx == null) {
            return;
        }
        int handled = 0;
        try {
            while (handled < queue.size()) {
                refill();
                if (tokens < MIN_REQUEST_COST) {
                    if (queue.hasAvailable()) {
                        throttle(ctx, index);
                    }
                    return;
                }
                DescriptorChain chain = queue.pop();
                if (chain == null) {
                    return;
                }
                queue.addUsed(chain, serve(chain));
                handled++;
            }
        } finally {
            ctx.notifyIfNeeded(queue);
        }
        // A full queue's worth: let other work run, then carry on.
        ctx.execute(() -> queueNotify(index));
    }

    /** Fills the chain's writable part (capped by the request limit and the budget); returns the bytes written. */
    private int serve(DescriptorChain chain) throws VirtqueueException {
        int writable = chain.writableLength();
        if (writable == 0) {
            rejected.incrementAndGet();
            return 0;
        }
        int n = (int) Math.min(Math.min(writable, MAX_BYTES_PER_REQUEST), tokens);
        ChainWriter out = chain.writer();
        int done = 0;
        while (done < n) {
            MemorySegment piece = out.nextSegment(n - done);
            copyRandom(piece, (int) piece.byteSize());
            done += (int) piece.byteSize();
        }
        tokens -= Math.max(n, MIN_REQUEST_COST);
        bytesServed.addAndGet(n);
        requestsServed.incrementAndGet();
        return n;
    }

    /** Copies {@code len} fresh random bytes into {@code dst}; every byte of the pool is used once. */
    private void copyRandom(MemorySegment dst, int len) {
        int off = 0;
        while (off < len) {
            if (poolPosition == pool.length) {
                random.nextBytes(pool);
                poolPosition = 0;
            }
            int k = Math.min(len - off, pool.length - poolPosition);
            MemorySegment.copy(pool, poolPosition, dst, ValueLayout.JAVA_BYTE, off, k);
            Arrays.fill(pool, poolPosition, poolPosition + k, (byte) 0);
            poolPosition += k;
            off += k;
        }
    }

    private void refill() {
        long now = nanoClock.getAsLong();
        long elapsed = now - lastRefill;
        if (elapsed <= 0) {
            return;
        }
        long missing = burst - tokens;
        if (missing <= 0) {
            lastRefill = now;
            return;
        }
        // elapsed * rate / 1e9, without overflow: cap elapsed at the time a full refill takes.
        long fullRefillNanos = nanosFor(missing);
        if (elapsed >= fullRefillNanos) {
            tokens = burst;
            lastRefill = now;
            return;
        }
        long earned = (long) ((double) elapsed * rate / 1e9);
        if (earned > 0) {
            tokens += earned;
            // Advance the clock only by the time the earned tokens took, keeping the fraction.
            lastRefill += nanosFor(earned);
            if (lastRefill > now) {
                lastRefill = now;
            }
        }
    }

    /** Nanoseconds the bucket takes to earn {@code bytes}, rounded up. */
    private long nanosFor(long bytes) {
        double nanos = Math.ceil((double) bytes * 1e9 / rate);
        return nanos >= Long.MAX_VALUE ? Long.MAX_VALUE : (long) nanos;
    }

    private void throttle(VirtioContext ctx, int index) {
        if (retryScheduled) {
            return;
        }
        retryScheduled = true;
        throttled.incrementAndGet();
        long delay = Math.max(1, nanosFor(MIN_REQUEST_COST - tokens));
        scheduler.schedule(delay, () -> ctx.execute(() -> {
            retryScheduled = false;
            queueNotify(index);
        }));
    }
}
