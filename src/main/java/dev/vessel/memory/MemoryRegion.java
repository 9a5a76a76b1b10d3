package dev.vessel.memory;

import java.lang.foreign.MemorySegment;
import java.util.Objects;

/**
 * A contiguous range of guest-physical RAM backed by host memory. Guest-physical addresses are
 * unsigned 64-bit values (a negative {@code long} is an address at or above 2^63); a region lies
 * wholly below 2^64, so its {@link #end()} does not wrap.
 */
public record MemoryRegion(long guestAddress, MemorySegment host) {
    public MemoryRegion {
        Objects.requireNonNull(host, "host");
        if (Long.compareUnsigned(guestAddress, -1L - host.byteSize()) > 0) {
            throw new IllegalArgumentException("region at 0x" + Long.toHexString(guestAddress) + " of "
                    + host.byteSize() + " bytes ends beyond 2^64");
        }
    }

    public long size() {
        return host.byteSize();
    }

    /** The first address after the region (unsigned). */
    public long end() {
        return guestAddress + host.byteSize();
    }

    /**
     * Whether [gpa, gpa+length) lies wholly inside the region, with {@code gpa} unsigned: false for a
     * negative length and for ranges that wrap around 2^64. Never overflows.
     */
    public boolean contains(long gpa, long length) {
        return length >= 0 && length <= size()
                && Long.compareUnsigned(gpa, guestAddress) >= 0
                && Long.compareUnsigned(gpa - guestAddress, size() - length) <= 0;
    }
}
