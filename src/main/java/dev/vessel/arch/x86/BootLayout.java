package dev.vessel.arch.x86;

/**
 * Where the VMM puts things in low guest memory before the first instruction runs. Everything
 * below 1 MiB that the kernel must not reuse is in [EBDA_START, HIMEM_START), reserved in e820.
 */
public final class BootLayout {
    private BootLayout() {}

    /** The GDT the boot protocol asks for (selectors 0x10 code, 0x18 data). */
    public static final long GDT = 0x500;
    /** An empty IDT: interrupts stay disabled until the kernel loads its own. */
    public static final long IDT = 0x530;
    /** struct boot_params, the "zero page". */
    public static final long ZERO_PAGE = 0x7000;
    /** Top of the boot stack (grows down into free low memory). */
    public static final long BOOT_STACK = 0x8ff0;
    /** Identity page tables: PML4, one PDPT, then page directories. */
    public static final long PML4 = 0x9000;
    public static final long PDPT = 0xA000;
    public static final long PD = 0xB000;
    /** Page directories of 2 MiB pages mapping the first 4 GiB: 0xB000..0xEFFF. */
    public static final int PD_COUNT = 4;
    /** The kernel command line. */
    public static final long CMDLINE = 0x20000;
    public static final int CMDLINE_MAX = 0x10000;
    /** Start of the legacy BIOS area (EBDA, ROMs); reserved, never RAM for the kernel. */
    public static final long EBDA_START = 0x9FC00;
    /** Where ACPI tables go: inside the BIOS area that the kernel scans for the RSDP. */
    public static final long ACPI_TABLES = 0xE0000;
    public static final long ACPI_TABLES_END = 0x100000;
    /** The real-mode reset vector (F000:FFF0), where a legacy "BIOS reboot" jumps. */
    public static final long RESET_VECTOR = 0xFFFF0;
    /** The first byte above 1 MiB. */
    public static final long HIMEM_START = 0x100000;
}
