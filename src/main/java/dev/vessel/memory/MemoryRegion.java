package dev.vessel.memory;

import java.lang.foreign.MemorySegment;

/** A contiguous range of guest-physical RAM backed by host memory. */
public record MemoryRegion(long guestAddress, MemorySegment host) {
    public long size() {
        return host.byteSize();
    }

    public long end() {
        return guestAddress + host.byteSize();
    }

    public boolean contains(long gpa, long length) {
        return gpa >= guestAddress && length >= 0 && length <= size() && gpa - guestAddress <= size() - length;
    }
}
