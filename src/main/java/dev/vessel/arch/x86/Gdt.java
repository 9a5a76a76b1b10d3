package dev.vessel.arch.x86;

/** The boot GDT: flat 64-bit code at 0x10 and data at 0x18, as the 64-bit boot protocol requires. */
public final class Gdt {
    private Gdt() {}

    public static final int CODE_SELECTOR = 0x10;
    public static final int DATA_SELECTOR = 0x18;
    public static final int TSS_SELECTOR = 0x20;

    /** Encodes a descriptor from access/flags bits (0xF0FF mask: flags nibble + access byte), base and limit. */
    public static long descriptor(int flags, long base, long limit) {
        return ((base & 0xFF00_0000L) << 32)
                | (((long) flags & 0xF0FF) << 40)
                | ((limit & 0xF_0000L) << 32)
                | ((base & 0x00FF_FFFFL) << 16)
                | (limit & 0xFFFFL);
    }

    public static final long CODE64 = descriptor(0xA09B, 0, 0xFFFFF);
    public static final long DATA = descriptor(0xC093, 0, 0xFFFFF);
    public static final long TSS = descriptor(0x808B, 0, 0xFFFFF);

    /** The table: two null entries, code, data, TSS. */
    public static long[] entries() {
        return new long[] {0, 0, CODE64, DATA, TSS};
    }
}
