package dev.vessel.devices.virtio.queue;

import dev.vessel.memory.GuestMemory;
import dev.vessel.memory.GuestMemoryException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Objects;

/**
 * The device side of a split virtqueue (virtio 1.2 §2.7) whose rings live in guest memory.
 *
 * <h2>Use</h2>
 * The device's worker takes chains with {@link #pop()} until it returns null, handles each, and
 * returns it with {@link #addUsed(DescriptorChain, int)}; after a batch it asks
 * {@link #shouldNotify()} and, when true, raises the used-buffer interrupt
 * ({@code VirtioContext.notifyIfNeeded} does both). "Pop until null" never loses a notification:
 * when the ring looks empty, pop publishes where the driver must kick next (avail_event with
 * VIRTIO_F_RING_EVENT_IDX) and looks again after a full fence.
 *
 * <p>Optionally, a device that processes a long batch suppresses the driver's kicks meanwhile:
 * {@code setNotificationsEnabled(false)}, pop until null, then {@link #enableNotificationsAndCheck()}
 * and, if that returns true, pop again (buffers arrived while kicks were off).
 *
 * <h2>The guest is hostile</h2>
 * The three ring areas are validated once ({@link VirtqueueLayout#validate}) and read through
 * bounds-checked slices of guest memory. Every value read from them is checked before use: the
 * available index may not run more than {@link #size()} entries ahead (that breaks the queue for
 * good: every later pop throws), head and next indexes must be below the table size, a chain may
 * not visit more descriptors than its table has (loops), indirect tables must be well formed, every
 * buffer must be guest RAM, readable buffers must precede writable ones, and the total length is
 * capped. Descriptors are read once, so the driver changing them afterwards changes nothing.
 *
 * <h2>Threading</h2>
 * A Virtqueue is used by one thread at a time (the device's worker); it is not thread-safe. The
 * one exception is {@link #deactivate()}, which the transport calls from any thread on reset: from
 * then on pop returns null, addUsed writes nothing and no notification is due.
 *
 * <h2>Memory ordering</h2>
 * The rings are shared with vCPUs. Reading the available index is followed by an acquire fence
 * (ring entries and descriptors are read after it); the used element is written before a release
 * fence and the used index after it; a full fence separates the used index (or avail_event) store
 * from the load of used_event/flags (or the available index) that decides about notifications.
 */
public final class Virtqueue {
    /** The largest split virtqueue. */
    public static final int MAX_SIZE = VirtqueueLayout.MAX_SIZE;
    /** Default cap on the total length of one chain's buffers. */
    public static final long DEFAULT_MAX_CHAIN_BYTES = 1L << 30;
    /** The most entries an indirect table may have: its {@code next} fields are 16 bits. */
    public static final int MAX_INDIRECT_DESCRIPTORS = 65536;

    static final int DESC_F_NEXT = 1;
    static final int DESC_F_WRITE = 2;
    static final int DESC_F_INDIRECT = 4;
    static final int AVAIL_F_NO_INTERRUPT = 1;
    static final int USED_F_NO_NOTIFY = 1;
    static final int DESCRIPTOR_SIZE = 16;

    static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final int index;
    private final GuestMemory memory;
    private final VirtqueueLayout layout;
    private final int size;
    private final int mask;
    private final boolean eventIdx;
    private final boolean indirect;
    private final long maxChainBytes;
    private final MemorySegment desc;
    private final MemorySegment avail;
    private final MemorySegment used;
    private final long usedEventOffset;
    private final long availEventOffset;

    private volatile boolean live = true;
    private String broken;
    private int lastAvail;
    private int nextUsed;
    private int signalledUsed;
    private boolean usedSinceCheck;
    private boolean notificationsEnabled = true;
    private int outstanding;

    /**
     * A queue over the rings {@code layout} describes; the driver has initialised them (all zero),
     * so both indexes start at 0.
     *
     * @param index the queue's number within its device, for messages
     * @param maxSize the device's QueueNumMax for this queue
     * @param eventIdx whether VIRTIO_F_RING_EVENT_IDX was negotiated
     * @param indirect whether VIRTIO_F_INDIRECT_DESC was negotiated
     * @param maxChainBytes the cap on one chain's total buffer length, 1..{@link Integer#MAX_VALUE}
     * @throws VirtqueueException if the layout is invalid (size, alignment, not guest RAM)
     */
    public Virtqueue(int index, GuestMemory memory, VirtqueueLayout layout, int maxSize, boolean eventIdx,
            boolean indirect, long maxChainBytes) throws VirtqueueException {
        if (maxChainBytes < 1 || maxChainBytes > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("maxChainBytes must be 1.." + Integer.MAX_VALUE + ": " + maxChainBytes);
        }
        layout.validate(memory, maxSize);
        this.index = index;
        this.memory = Objects.requireNonNull(memory);
        this.layout = layout;
        this.size = layout.size();
        this.mask = size - 1;
        this.eventIdx = eventIdx;
        this.indirect = indirect;
        this.maxChainBytes = maxChainBytes;
        try {
            this.desc = memory.slice(layout.descTable(), VirtqueueLayout.descTableBytes(size));
            this.avail = memory.slice(layout.availRing(), VirtqueueLayout.availRingBytes(size));
            this.used = memory.slice(layout.usedRing(), VirtqueueLayout.usedRingBytes(size));
        } catch (GuestMemoryException e) {
            throw new VirtqueueException(e.getMessage());
        }
        this.usedEventOffset = 4 + 2L * size;
        this.availEventOffset = 4 + 8L * size;
    }

    public int index() {
        return index;
    }

    public int size() {
        return size;
    }

    public VirtqueueLayout layout() {
        return layout;
    }

    public GuestMemory memory() {
        return memory;
    }

    public boolean eventIdx() {
        return eventIdx;
    }

    public boolean indirectDescriptors() {
        return indirect;
    }

    public long maxChainBytes() {
        return maxChainBytes;
    }

    /** False once the transport reset the device or failed it: the queue no longer touches guest memory. */
    public boolean isLive() {
        return live;
    }

    /**
     * For the transport: stops all use of the rings. Safe from any thread; the worker sees it on
     * its next call. Chains already popped can no longer be read or written either.
     */
    public void deactivate() {
        live = false;
    }

    /** The next available-ring position the device will consume (a free-running 16-bit index). */
    public int lastAvailIndex() {
        return lastAvail;
    }

    /** The used index the device will publish next (a free-running 16-bit index). */
    public int nextUsedIndex() {
        return nextUsed;
    }

    /** Chains popped (or failed with a head) and not yet returned with addUsed. */
    public int outstanding() {
        return outstanding;
    }

    /**
     * Whether the driver has made chains available that {@link #pop()} has not taken yet. No side
     * effects; throws like pop when the available index is corrupt.
     */
    public boolean hasAvailable() throws VirtqueueException {
        if (!live) {
            return false;
        }
        checkBroken();
        return pendingCount() != 0;
    }

    /**
     * The next available descriptor chain, validated, or null when there is none (or the queue is
     * no longer live). The ring entry is consumed even when the chain is invalid: the exception
     * then names the head (if it was in range) so the device can return it with
     * {@link #addUsed(int, int)}.
     */
    public DescriptorChain pop() throws VirtqueueException {
        if (!live) {
            return null;
        }
        checkBroken();
        int pending = pendingCount();
        if (pending == 0 && notificationsEnabled && eventIdx) {
            // The driver kicks when its avail idx passes avail_event: ask for a kick at the very next
            // entry, then look again, in case the driver published one before it saw the new value.
            publishAvailEvent();
            pending = pendingCount();
        }
        if (pending == 0) {
            return null;
        }
        int head = Short.toUnsignedInt(avail.get(U16, 4 + 2L * (lastAvail & mask)));
        lastAvail = (lastAvail + 1) & 0xFFFF;
        if (head >= size) {
            throw new VirtqueueException("queue " + index + ": available ring names descriptor " + head
                    + ", beyond the queue size " + size);
        }
        outstanding++;
        return readChain(head);
    }

    /**
     * Returns {@code chain} to the driver: writes the used element (head, {@code bytesWritten})
     * and publishes the new used index. {@code bytesWritten} counts the bytes the device wrote
     * into the chain's writable part, from its start. A no-op (but still accounted) once the
     * queue is no longer live.
     *
     * @throws IllegalArgumentException if the chain is from another queue or the count exceeds its writable part
     * @throws IllegalStateException if the chain was already returned
     */
    public void addUsed(DescriptorChain chain, int bytesWritten) {
        Objects.requireNonNull(chain, "chain");
        if (chain.queue() != this) {
            throw new IllegalArgumentException("chain " + chain.head() + " belongs to another queue");
        }
        if (chain.isUsed()) {
            throw new IllegalStateException("chain " + chain.head() + " of queue " + index + " was already used");
        }
        if (bytesWritten < 0 || bytesWritten > chain.writableLength()) {
            throw new IllegalArgumentException("chain " + chain.head() + ": " + bytesWritten
                    + " bytes written, but its writable part holds " + chain.writableLength());
        }
        chain.markUsed();
        putUsed(chain.head(), bytesWritten);
    }

    /**
     * Returns the head of a chain that failed validation ({@link VirtqueueException#head()}) to
     * the driver, normally with length 0. Only for heads this queue handed out in an exception.
     */
    public void addUsed(int head, int bytesWritten) {
        if (head < 0 || head >= size) {
            throw new IllegalArgumentException("head " + head + " is not a descriptor of queue " + index);
        }
        if (bytesWritten < 0) {
            throw new IllegalArgumentException("negative length " + bytesWritten);
        }
        putUsed(head, bytesWritten);
    }

    private void putUsed(int head, int bytesWritten) {
        if (outstanding == 0) {
            throw new IllegalStateException("queue " + index + ": more used chains than popped ones");
        }
        outstanding--;
        if (!live) {
            return;
        }
        long element = 4 + 8L * (nextUsed & mask);
        used.set(U32, element, head);
        used.set(U32, element + 4, bytesWritten);
        nextUsed = (nextUsed + 1) & 0xFFFF;
        VarHandle.releaseFence();
        used.set(U16, 2, (short) nextUsed);
        usedSinceCheck = true;
    }

    /**
     * Whether the driver wants a used-buffer notification for the chains returned since the last
     * call: with event idx, whether the used index passed used_event (vring_need_event); without,
     * unless the driver set VIRTQ_AVAIL_F_NO_INTERRUPT. False when nothing was returned since.
     * Call it after each batch of {@link #addUsed}, before 65536 of them pile up.
     */
    public boolean shouldNotify() {
        if (!live || !usedSinceCheck) {
            return false;
        }
        VarHandle.fullFence();
        int old = signalledUsed;
        int now = nextUsed;
        signalledUsed = now;
        usedSinceCheck = false;
        if (eventIdx) {
            int usedEvent = Short.toUnsignedInt(avail.get(U16, usedEventOffset));
            return needsEvent(usedEvent, now, old);
        }
        return (avail.get(U16, 0) & AVAIL_F_NO_INTERRUPT) == 0;
    }

    /**
     * The event-index rule (virtio 1.2 §2.7.7.2, Linux's vring_need_event): having moved an index
     * from {@code oldIdx} to {@code newIdx}, notify iff the other side's event index lies in
     * [oldIdx, newIdx), all modulo 2^16.
     */
    public static boolean needsEvent(int eventIdx, int newIdx, int oldIdx) {
        return ((newIdx - eventIdx - 1) & 0xFFFF) < ((newIdx - oldIdx) & 0xFFFF);
    }

    /**
     * Asks the driver to kick (true) or not to bother (false) when it makes buffers available.
     * Without event idx this sets or clears VIRTQ_USED_F_NO_NOTIFY; with it, enabling publishes
     * avail_event at the next entry and disabling stops updating it. Suppression is only advice:
     * notifications may still come. After enabling, buffers may already be waiting that the driver
     * will not kick for: use {@link #enableNotificationsAndCheck()} to close that race.
     */
    public void setNotificationsEnabled(boolean enabled) {
        notificationsEnabled = enabled;
        if (!live) {
            return;
        }
        if (eventIdx) {
            if (enabled) {
                publishAvailEvent();
            }
        } else {
            used.set(U16, 0, (short) (enabled ? 0 : USED_F_NO_NOTIFY));
            if (enabled) {
                VarHandle.fullFence();
            }
        }
    }

    /**
     * Enables notifications and reports whether chains are available anyway (the driver may have
     * added them while notifications were off, and will not kick for them): if true, pop again.
     * A corrupt available index also reports true, so that the next pop throws.
     */
    public boolean enableNotificationsAndCheck() {
        setNotificationsEnabled(true);
        try {
            return hasAvailable();
        } catch (VirtqueueException e) {
            return true;
        }
    }

    public boolean notificationsEnabled() {
        return notificationsEnabled;
    }

    private void publishAvailEvent() {
        used.set(U16, availEventOffset, (short) lastAvail);
        VarHandle.fullFence();
    }

    private void checkBroken() throws VirtqueueException {
        if (broken != null) {
            throw new VirtqueueException(broken);
        }
    }

    private int pendingCount() throws VirtqueueException {
        int availIdx = Short.toUnsignedInt(avail.get(U16, 2));
        VarHandle.acquireFence();
        int pending = (availIdx - lastAvail) & 0xFFFF;
        if (pending > size) {
            broken = "queue " + index + ": the driver's available index " + availIdx + " is " + pending
                    + " entries ahead of the device's " + lastAvail + ", more than the queue size " + size;
            throw new VirtqueueException(broken);
        }
        return pending;
    }

    private DescriptorChain readChain(int head) throws VirtqueueException {
        DescriptorChain.Builder chain = new DescriptorChain.Builder(this, head, maxChainBytes);
        MemorySegment table = desc;
        int tableLength = size;
        boolean inIndirect = false;
        int i = head;
        int visited = 0;
        while (true) {
            if (++visited > tableLength) {
                throw chainError(head, inIndirect
                        ? "indirect table chain visits more than its " + tableLength + " descriptors (a loop)"
                        : "chain visits more than the queue's " + tableLength + " descriptors (a loop)");
            }
            long at = (long) DESCRIPTOR_SIZE * i;
            long addr = table.get(U64, at);
            long len = Integer.toUnsignedLong(table.get(U32, at + 8));
            int flags = Short.toUnsignedInt(table.get(U16, at + 12));
            int next = Short.toUnsignedInt(table.get(U16, at + 14));
            if ((flags & DESC_F_INDIRECT) != 0) {
                if (inIndirect) {
                    throw chainError(head, "indirect descriptor inside an indirect table");
                }
                if (!indirect) {
                    throw chainError(head, "indirect descriptor, but VIRTIO_F_INDIRECT_DESC was not negotiated");
                }
                if ((flags & DESC_F_NEXT) != 0) {
                    throw chainError(head, "descriptor " + i + " has both INDIRECT and NEXT");
                }
                if (len == 0 || len % DESCRIPTOR_SIZE != 0) {
                    throw chainError(head, "indirect table length " + len + " is not a positive multiple of 16");
                }
                if (len / DESCRIPTOR_SIZE > MAX_INDIRECT_DESCRIPTORS) {
                    throw chainError(head, "indirect table of " + (len / DESCRIPTOR_SIZE) + " descriptors, more than "
                            + MAX_INDIRECT_DESCRIPTORS);
                }
                try {
                    table = memory.slice(addr, len);
                } catch (GuestMemoryException e) {
                    throw chainError(head, "indirect table at 0x" + Long.toHexString(addr) + "+" + len
                            + " is not guest RAM");
                }
                tableLength = (int) (len / DESCRIPTOR_SIZE);
                inIndirect = true;
                i = 0;
                visited = 0;
                continue;
            }
            if (len != 0) {
                String problem = chain.add(addr, len, (flags & DESC_F_WRITE) != 0);
                if (problem != null) {
                    throw chainError(head, problem);
                }
            }
            if ((flags & DESC_F_NEXT) == 0) {
                return chain.build();
            }
            if (next >= tableLength) {
                throw chainError(head, (inIndirect ? "indirect descriptor " : "descriptor ") + i + " chains to "
                        + next + ", beyond its table of " + tableLength);
            }
            i = next;
        }
    }

    private VirtqueueException chainError(int head, String problem) {
        return new VirtqueueException("queue " + index + ", chain " + head + ": " + problem, head);
    }

    @Override
    public String toString() {
        return "Virtqueue[" + index + ", size " + size + ", avail " + lastAvail + ", used " + nextUsed
                + (live ? "" : ", inactive") + (broken != null ? ", broken" : "") + "]";
    }
}
