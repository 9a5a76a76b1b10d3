package dev.vessel.devices;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An address space (port I/O or MMIO) with devices on non-overlapping ranges. Accesses that hit
 * no device read as all ones and are otherwise ignored, like an empty ISA slot.
 *
 * <p>Devices are placed while the VM is built; {@link #freeze} then makes the layout final. A
 * guest access (every port-I/O and MMIO exit, on vCPU threads) takes no lock and allocates
 * nothing: a binary search over primitive arrays that never change once frozen.
 */
public final class Bus {
    /**
     * The sorted ranges as parallel arrays. Final fields: a Layout seen by any thread is seen
     * whole; registration replaces it, lookups read whichever one is current.
     */
    private static final class Layout {
        static final Layout EMPTY = new Layout(new long[0], new long[0], new String[0], new BusDevice[0]);

        final long[] bases;
        final long[] lengths;
        final String[] names;
        final BusDevice[] devices;

        Layout(long[] bases, long[] lengths, String[] names, BusDevice[] devices) {
            this.bases = bases;
            this.lengths = lengths;
            this.names = names;
            this.devices = devices;
        }

        /** The index of the range that holds [address, address+size), or -1. */
        int find(long address, int size) {
            long[] b = bases;
            int lo = 0;
            int hi = b.length - 1;
            while (lo <= hi) { // the last base <= address ends up at hi
                int mid = (lo + hi) >>> 1;
                if (b[mid] <= address) {
                    lo = mid + 1;
                } else {
                    hi = mid - 1;
                }
            }
            if (hi < 0 || address - b[hi] > lengths[hi] - size) {
                return -1;
            }
            return hi;
        }

        Layout with(int at, long base, long length, String name, BusDevice device) {
            return new Layout(insert(bases, at, base), insert(lengths, at, length), insert(names, at, name),
                    insert(devices, at, device));
        }

        private static long[] insert(long[] a, int at, long v) {
            long[] r = Arrays.copyOf(a, a.length + 1);
            System.arraycopy(a, at, r, at + 1, a.length - at);
            r[at] = v;
            return r;
        }

        private static <T> T[] insert(T[] a, int at, T v) {
            T[] r = Arrays.copyOf(a, a.length + 1);
            System.arraycopy(a, at, r, at + 1, a.length - at);
            r[at] = v;
            return r;
        }
    }

    private final String name;
    private final AtomicLong unhandled = new AtomicLong();
    /** Replaced only by {@link #register} before {@link #freeze}; vCPU threads start after that. */
    private Layout layout = Layout.EMPTY;
    /** Guarded by {@code this}. */
    private boolean frozen;

    public Bus(String name) {
        this.name = name;
    }

    /**
     * Places {@code device} on [base, base+length); fails if that overlaps a device already there.
     *
     * @throws IllegalStateException once the bus is {@linkplain #freeze frozen}
     */
    public synchronized void register(long base, long length, String deviceName, BusDevice device) {
        if (frozen) {
            throw new IllegalStateException("the " + name + " bus is frozen: " + deviceName
                    + " must be placed before the VM runs");
        }
        if (length <= 0 || base < 0 || base + length < base) {
            throw new IllegalArgumentException("bad " + name + " range for " + deviceName);
        }
        Layout l = layout;
        int at = insertionPoint(l.bases, base);
        int clash = -1;
        if (at > 0 && l.bases[at - 1] + l.lengths[at - 1] > base) {
            clash = at - 1; // the range below reaches into ours
        } else if (at < l.bases.length && l.bases[at] < base + length) {
            clash = at; // ours reaches into the one above (or starts where it does)
        }
        if (clash >= 0) {
            throw new IllegalArgumentException(deviceName + " at 0x" + Long.toHexString(base) + " overlaps "
                    + l.names[clash] + " on the " + name + " bus");
        }
        layout = l.with(at, base, length, deviceName, device);
    }

    /** Where {@code base} goes among the sorted {@code bases}. */
    private static int insertionPoint(long[] bases, long base) {
        int i = Arrays.binarySearch(bases, base);
        return i >= 0 ? i : -i - 1;
    }

    /** Ends registration: the device layout is final from here on (call before any vCPU runs). */
    public synchronized void freeze() {
        frozen = true;
    }

    /** A guest read; returns the value, all ones where no device answers. */
    public long read(long address, int size) {
        Layout l = layout;
        int i = l.find(address, size);
        if (i < 0) {
            unhandled.incrementAndGet();
            return size >= 8 ? -1L : (1L << (size * 8)) - 1;
        }
        return l.devices[i].read(address - l.bases[i], size);
    }

    /** A guest write; dropped where no device answers. Returns whether a device took it. */
    public boolean write(long address, int size, long value) {
        Layout l = layout;
        int i = l.find(address, size);
        if (i < 0) {
            unhandled.incrementAndGet();
            return false;
        }
        l.devices[i].write(address - l.bases[i], size, value);
        return true;
    }

    /** Accesses that hit no device, for diagnostics. */
    public long unhandledAccesses() {
        return unhandled.get();
    }
}
