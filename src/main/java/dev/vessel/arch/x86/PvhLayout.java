package dev.vessel.arch.x86;

/**
 * Where the PVH boot path puts its structures in low guest memory. They sit in free RAM below
 * the EBDA, clear of everything in {@link BootLayout} (the zero page, boot stack, page tables
 * and command line), so both boot paths share one map of low memory. Linux copies what it needs
 * out of these before it reuses low RAM, and reserves the first 1 MiB anyway.
 */
public final class PvhLayout {
    private PvhLayout() {}

    /** The PVH GDT: two null entries, 32-bit code (0x10), data (0x18), 32-bit TSS (0x20). 0x500..0x527. */
    public static final long GDT = BootLayout.GDT;
    public static final int GDT_ENTRIES = 5;
    /** An empty IDT (one null gate), after the GDT: interrupts stay off until the kernel loads its own. */
    public static final long IDT = BootLayout.IDT;
    /** struct hvm_start_info (56 bytes), its address goes to EBX. */
    public static final long START_INFO = 0x6000;
    /** The module list: one hvm_modlist_entry (32 bytes), the initrd. */
    public static final long MODLIST = 0x6040;
    /** The memory map: up to {@link #MEMMAP_MAX} hvm_memmap_table_entry of 24 bytes, ending before the zero page. */
    public static final long MEMMAP = 0x6100;
    public static final int MEMMAP_MAX = 128;
    /** The command line: the same place as for a bzImage. */
    public static final long CMDLINE = BootLayout.CMDLINE;
    /** x86 COMMAND_LINE_SIZE, including the NUL: the PVH entry has no header that says otherwise. */
    public static final int CMDLINE_MAX = 2048;
    /**
     * The highest initrd address + 1. PVH has no initrd_addr_max field; this is what x86-64 kernels
     * put there (0x7fffffff), so the initrd lands where the bzImage path would put it.
     */
    public static final long INITRD_LIMIT = 0x8000_0000L;
}
