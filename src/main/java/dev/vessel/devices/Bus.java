package dev.vessel.devices;

import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An address space (port I/O or MMIO) with devices on non-overlapping ranges. Accesses that hit
 * no device read as all ones and are otherwise ignored, like an empty ISA slot.
 */
public final class Bus {
    private record Range(long base, long length, String name, BusDevice device) {
        boolean contains(long address, int size) {
            return address >= base && address - base + size <= length;
        }
    }

    private final String name;
    private final TreeMap<Long, Range> ranges = new TreeMap<>();
    private final AtomicLong unhandled = new AtomicLong();

    public Bus(String name) {
        this.name = name;
    }

    /** Places {@code device} on [base, base+length); fails if that overlaps a device already there. */
    public synchronized void register(long base, long length, String deviceName, BusDevice device) {
        if (length <= 0 || base < 0 || base + length < base) {
            throw new IllegalArgumentException("bad " + name + " range for " + deviceName);
        }
        Map.Entry<Long, Range> below = ranges.floorEntry(base + length - 1);
        if (below != null && below.getValue().base + below.getValue().length > base) {
            throw new IllegalArgumentException(deviceName + " at 0x" + Long.toHexString(base) + " overlaps "
                    + below.getValue().name + " on the " + name + " bus");
        }
        ranges.put(base, new Range(base, length, deviceName, device));
    }

    private Range lookup(long address, int size) {
        Map.Entry<Long, Range> e;
        synchronized (this) {
            e = ranges.floorEntry(address);
        }
        if (e == null || !e.getValue().contains(address, size)) {
            return null;
        }
        return e.getValue();
    }

    /** A guest read; returns the value, all ones where no device answers. */
    public long read(long address, int size) {
        Range r = lookup(address, size);
        if (r == null) {
            unhandled.incrementAndGet();
            return size >= 8 ? -1L : (1L << (size * 8)) - 1;
        }
        return r.device.read(address - r.base, size);
    }

    /** A guest write; dropped where no device answers. Returns whether a device took it. */
    public boolean write(long address, int size, long value) {
        Range r = lookup(address, size);
        if (r == null) {
            unhandled.incrementAndGet();
            return false;
        }
        r.device.write(address - r.base, size, value);
        return true;
    }

    /** Accesses that hit no device, for diagnostics. */
    public long unhandledAccesses() {
        return unhandled.get();
    }
}
