package dev.vessel.arch.x86;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/** Builds struct boot_params (the zero page) for the 64-bit Linux boot protocol. */
public final class BootParams {
    public static final int SIZE = 4096;
    static final int OFF_ACPI_RSDP_ADDR = 0x070;
    static final int OFF_EXT_RAMDISK_IMAGE = 0x0c0;
    static final int OFF_EXT_RAMDISK_SIZE = 0x0c4;
    static final int OFF_EXT_CMD_LINE_PTR = 0x0c8;
    static final int OFF_E820_ENTRIES = 0x1e8;
    static final int OFF_E820_TABLE = 0x2d0;
    static final int E820_MAX = 128;
    /** type_of_loader 0xff: "undefined" boot loader, as other VMMs report. */
    static final int LOADER_UNDEFINED = 0xff;

    private final ByteBuffer b = ByteBuffer.allocate(SIZE).order(ByteOrder.LITTLE_ENDIAN);

    /** Starts from the kernel's own setup header, copied from its image as the protocol requires. */
    public BootParams(byte[] kernelImage, SetupHeader header) {
        b.put(SetupHeader.OFF_SETUP_SECTS, kernelImage, SetupHeader.OFF_SETUP_SECTS,
                header.headerEnd() - SetupHeader.OFF_SETUP_SECTS);
        b.put(SetupHeader.OFF_TYPE_OF_LOADER, (byte) LOADER_UNDEFINED);
        int loadFlags = Byte.toUnsignedInt(b.get(SetupHeader.OFF_LOADFLAGS));
        b.put(SetupHeader.OFF_LOADFLAGS, (byte) (loadFlags | SetupHeader.LOADED_HIGH | SetupHeader.CAN_USE_HEAP));
        // The heap end is relative to the real-mode setup segment; unused with the 64-bit entry, but sane.
        b.putShort(SetupHeader.OFF_HEAP_END_PTR, (short) 0xfe00);
    }

    public BootParams commandLine(long address) {
        b.putInt(SetupHeader.OFF_CMD_LINE_PTR, (int) address);
        b.putInt(OFF_EXT_CMD_LINE_PTR, (int) (address >>> 32));
        return this;
    }

    public BootParams initrd(long address, long size) {
        b.putInt(SetupHeader.OFF_RAMDISK_IMAGE, (int) address);
        b.putInt(SetupHeader.OFF_RAMDISK_SIZE, (int) size);
        b.putInt(OFF_EXT_RAMDISK_IMAGE, (int) (address >>> 32));
        b.putInt(OFF_EXT_RAMDISK_SIZE, (int) (size >>> 32));
        return this;
    }

    public BootParams acpiRsdp(long address) {
        b.putLong(OFF_ACPI_RSDP_ADDR, address);
        return this;
    }

    public BootParams e820(List<E820Entry> entries) {
        if (entries.size() > E820_MAX) {
            throw new IllegalArgumentException("too many e820 entries: " + entries.size());
        }
        b.put(OFF_E820_ENTRIES, (byte) entries.size());
        int o = OFF_E820_TABLE;
        for (E820Entry e : entries) {
            b.putLong(o, e.address());
            b.putLong(o + 8, e.size());
            b.putInt(o + 16, e.type());
            o += 20;
        }
        return this;
    }

    public byte[] toBytes() {
        return b.array().clone();
    }
}
