package dev.vessel.arch.x86;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/**
 * struct hvm_start_info, version 1, and the two tables it points to (Xen's
 * public/arch-x86/hvm/start_info.h): what a PVH kernel finds through EBX at its entry.
 * All fields are little-endian; addresses are guest-physical.
 */
public final class HvmStartInfo {
    /** "xEn3" with the 0x80 bit of the "E" set. */
    public static final int MAGIC = 0x336ec578;
    /** Version 1 adds the memory map, which a non-Xen guest must have. */
    public static final int VERSION = 1;
    public static final int SIZE = 56;
    public static final int MODLIST_ENTRY_SIZE = 32;
    public static final int MEMMAP_ENTRY_SIZE = 24;

    static final int OFF_MAGIC = 0;
    static final int OFF_VERSION = 4;
    static final int OFF_FLAGS = 8;
    static final int OFF_NR_MODULES = 12;
    static final int OFF_MODLIST_PADDR = 16;
    static final int OFF_CMDLINE_PADDR = 24;
    static final int OFF_RSDP_PADDR = 32;
    static final int OFF_MEMMAP_PADDR = 40;
    static final int OFF_MEMMAP_ENTRIES = 48;
    static final int OFF_RESERVED = 52;

    private final ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);

    /** Magic and version set; no SIF_* flags (not a Xen domain), no modules, no tables yet. */
    public HvmStartInfo() {
        b.putInt(OFF_MAGIC, MAGIC);
        b.putInt(OFF_VERSION, VERSION);
        b.putInt(OFF_FLAGS, 0);
    }

    public HvmStartInfo commandLine(long address) {
        b.putLong(OFF_CMDLINE_PADDR, address);
        return this;
    }

    public HvmStartInfo acpiRsdp(long address) {
        b.putLong(OFF_RSDP_PADDR, address);
        return this;
    }

    /** {@code count} hvm_modlist_entry at {@code address}; Linux takes the first module as its initrd. */
    public HvmStartInfo modules(long address, int count) {
        b.putInt(OFF_NR_MODULES, count);
        b.putLong(OFF_MODLIST_PADDR, address);
        return this;
    }

    public HvmStartInfo memoryMap(long address, int entries) {
        b.putLong(OFF_MEMMAP_PADDR, address);
        b.putInt(OFF_MEMMAP_ENTRIES, entries);
        return this;
    }

    public byte[] toBytes() {
        return b.array().clone();
    }

    /** One hvm_modlist_entry: the module's address and size, and its own command line (0: none). */
    public static byte[] modlistEntry(long address, long size, long cmdline) {
        return ByteBuffer.allocate(MODLIST_ENTRY_SIZE).order(ByteOrder.LITTLE_ENDIAN)
                .putLong(0, address)
                .putLong(8, size)
                .putLong(16, cmdline)
                .array();
    }

    /**
     * The hvm_memmap_table_entry array for an e820-style map. XEN_HVM_MEMMAP_TYPE_* have the
     * e820 values (RAM 1, RESERVED 2, ACPI 3, ...), so the types pass through unchanged.
     */
    public static byte[] memoryMapTable(List<E820Entry> entries) {
        ByteBuffer t = ByteBuffer.allocate(entries.size() * MEMMAP_ENTRY_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        for (E820Entry e : entries) {
            t.putLong(e.address()).putLong(e.size()).putInt(e.type()).putInt(0);
        }
        return t.array();
    }
}
