package dev.vessel.arch.x86.acpi;

import java.nio.ByteBuffer;

/** The Extended System Description Table (ACPI 6.5, 5.2.8): 64-bit addresses of the other tables. */
final class Xsdt {
    private Xsdt() {}

    static final String SIGNATURE = "XSDT";
    static final int REVISION = 1;
    static final int OFF_ENTRIES = SdtHeader.SIZE;
    static final int ENTRY_SIZE = 8;

    static int length(int entries) {
        return OFF_ENTRIES + ENTRY_SIZE * entries;
    }

    static byte[] build(long... tableAddresses) {
        ByteBuffer b = SdtHeader.allocate(SIGNATURE, length(tableAddresses.length), REVISION);
        for (int i = 0; i < tableAddresses.length; i++) {
            b.putLong(OFF_ENTRIES + ENTRY_SIZE * i, tableAddresses[i]);
        }
        return SdtHeader.finish(b);
    }
}
