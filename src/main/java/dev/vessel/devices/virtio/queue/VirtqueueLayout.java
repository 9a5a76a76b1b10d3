package dev.vessel.devices.virtio.queue;

import dev.vessel.memory.GuestMemory;

/**
 * Where the driver put a split virtqueue (virtio 1.2 §2.7): its size and the guest-physical
 * addresses of the descriptor table, the available ("driver") ring and the used ("device") ring.
 * Values come from the guest; {@link #validate} checks them before anything is built on them.
 *
 * @param size the number of descriptors, a power of two 1..32768
 * @param descTable the descriptor table: {@code 16 * size} bytes, 16-byte aligned
 * @param availRing the available ring: {@code 6 + 2 * size} bytes (with used_event), 2-byte aligned
 * @param usedRing the used ring: {@code 6 + 8 * size} bytes (with avail_event), 4-byte aligned
 */
public record VirtqueueLayout(int size, long descTable, long availRing, long usedRing) {
    /** The largest split virtqueue: the highest power of two a 16-bit index tells apart from empty. */
    public static final int MAX_SIZE = 32768;

    public static long descTableBytes(int size) {
        return 16L * size;
    }

    public static long availRingBytes(int size) {
        return 6 + 2L * size;
    }

    public static long usedRingBytes(int size) {
        return 6 + 8L * size;
    }

    /** Whether {@code n} is a valid split-queue size: a power of two in 1..{@link #MAX_SIZE}. */
    public static boolean isValidSize(int n) {
        return n > 0 && n <= MAX_SIZE && Integer.bitCount(n) == 1;
    }

    /**
     * Checks the size against {@code maxSize} and the spec, the alignment of the three areas, and
     * that each lies entirely in guest RAM.
     */
    public void validate(GuestMemory memory, int maxSize) throws VirtqueueException {
        if (!isValidSize(size) || size > maxSize) {
            throw new VirtqueueException("queue size " + Integer.toUnsignedString(size)
                    + " is not a power of two in 1.." + Math.min(maxSize, MAX_SIZE));
        }
        check(memory, "descriptor table", descTable, 16, descTableBytes(size));
        check(memory, "available ring", availRing, 2, availRingBytes(size));
        check(memory, "used ring", usedRing, 4, usedRingBytes(size));
    }

    private static void check(GuestMemory memory, String what, long gpa, int alignment, long length)
            throws VirtqueueException {
        if ((gpa & (alignment - 1)) != 0) {
            throw new VirtqueueException(what + " at 0x" + Long.toHexString(gpa) + " is not " + alignment
                    + "-byte aligned");
        }
        if (!memory.contains(gpa, length)) {
            throw new VirtqueueException(what + " at 0x" + Long.toHexString(gpa) + "+" + length
                    + " is not guest RAM");
        }
    }
}
