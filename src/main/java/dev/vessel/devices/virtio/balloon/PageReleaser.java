package dev.vessel.devices.virtio.balloon;

import dev.vessel.memory.GuestMemory;
import dev.vessel.memory.GuestMemoryException;
import dev.vessel.sys.ErrnoException;
import dev.vessel.sys.Libc;

/**
 * Gives the host memory behind a range of guest RAM back to the host kernel: the balloon calls it
 * for the pages the guest put in the balloon or reported free. Guest RAM is a private anonymous
 * mapping ({@link GuestMemory#allocate}), so {@code madvise(MADV_DONTNEED)} frees the pages at once
 * (the process's RSS drops) and a later guest access faults in a zero page; KVM's MMU notifier
 * drops its own mappings of them.
 *
 * <p>If guest RAM ever becomes a shared mapping (memfd, for snapshots or vhost-user), DONTNEED would
 * no longer free anything: that needs {@code MADV_REMOVE} or hole punching instead.
 */
@FunctionalInterface
public interface PageReleaser {
    /**
     * Releases the host memory of [gpa, gpa+length), which the caller checked is guest RAM in one
     * region and page-aligned.
     *
     * @throws ErrnoException if the host refused (the guest then just keeps those pages resident)
     * @throws GuestMemoryException if the range is not guest RAM after all
     */
    void release(GuestMemory memory, long gpa, long length) throws ErrnoException, GuestMemoryException;

    /** madvise(MADV_DONTNEED) on the host mapping of the range. */
    PageReleaser MADVISE = (memory, gpa, length) -> Libc.madvise(memory.slice(gpa, length), Libc.MADV_DONTNEED);
}
