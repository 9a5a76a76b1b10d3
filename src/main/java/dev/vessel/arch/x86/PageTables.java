package dev.vessel.arch.x86;

import dev.vessel.memory.GuestMemory;
import dev.vessel.memory.GuestMemoryException;

/**
 * Identity-maps the first 4 GiB with 2 MiB pages: enough for the 64-bit boot protocol, which
 * wants the kernel, zero page and command line mapped; the kernel builds its own tables next.
 */
public final class PageTables {
    private PageTables() {}

    static final long PRESENT = 1;
    static final long WRITABLE = 1 << 1;
    static final long HUGE = 1 << 7;
    static final long TWO_MIB = 2L << 20;

    /** Writes PML4, PDPT and page directories at {@link BootLayout#PML4}; returns the CR3 value. */
    public static long write(GuestMemory memory) throws GuestMemoryException {
        memory.writeLong(BootLayout.PML4, BootLayout.PDPT | PRESENT | WRITABLE);
        for (int i = 0; i < BootLayout.PD_COUNT; i++) {
            long pd = BootLayout.PD + i * 0x1000L;
            memory.writeLong(BootLayout.PDPT + i * 8L, pd | PRESENT | WRITABLE);
            for (int j = 0; j < 512; j++) {
                long physical = ((long) i * 512 + j) * TWO_MIB;
                memory.writeLong(pd + j * 8L, physical | PRESENT | WRITABLE | HUGE);
            }
        }
        return BootLayout.PML4;
    }
}
