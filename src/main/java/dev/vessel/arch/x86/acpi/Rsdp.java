package dev.vessel.arch.x86.acpi;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The Root System Description Pointer (ACPI 6.5, 5.2.5.3), revision 2: it points only to the XSDT
 * (the 32-bit RSDT address is 0, which ACPICA accepts for revision 2 and later).
 */
final class Rsdp {
    private Rsdp() {}

    static final String SIGNATURE = "RSD PTR ";
    static final int REVISION = 2;
    static final int OFF_SIGNATURE = 0;
    static final int OFF_CHECKSUM = 8;
    static final int OFF_OEM_ID = 9;
    static final int OFF_REVISION = 15;
    static final int OFF_RSDT_ADDRESS = 16;
    static final int OFF_LENGTH = 20;
    static final int OFF_XSDT_ADDRESS = 24;
    static final int OFF_EXTENDED_CHECKSUM = 32;
    /** The ACPI 1.0 part that the first checksum covers. */
    static final int V1_LENGTH = 20;
    static final int LENGTH = 36;
    /** Legacy scans look for the signature on 16-byte boundaries. */
    static final int ALIGNMENT = 16;

    static byte[] build(long xsdtAddress) {
        ByteBuffer b = ByteBuffer.allocate(LENGTH).order(ByteOrder.LITTLE_ENDIAN);
        SdtHeader.putAscii(b, OFF_SIGNATURE, SIGNATURE, 8);
        SdtHeader.putAscii(b, OFF_OEM_ID, SdtHeader.OEM_ID, 6);
        b.put(OFF_REVISION, (byte) REVISION);
        b.putInt(OFF_LENGTH, LENGTH);
        b.putLong(OFF_XSDT_ADDRESS, xsdtAddress);
        byte[] bytes = b.array();
        bytes[OFF_CHECKSUM] = SdtHeader.checksum(bytes, 0, V1_LENGTH);
        bytes[OFF_EXTENDED_CHECKSUM] = SdtHeader.checksum(bytes, 0, LENGTH);
        return bytes;
    }
}
