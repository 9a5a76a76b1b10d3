package dev.vessel.arch.x86.acpi;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The 36-byte header every System Description Table starts with (ACPI 6.5, 5.2.6), and the
 * checksum rule all tables share: the bytes of the table sum to zero modulo 256.
 */
final class SdtHeader {
    private SdtHeader() {}

    static final int SIZE = 36;
    static final int OFF_SIGNATURE = 0;
    static final int OFF_LENGTH = 4;
    static final int OFF_REVISION = 8;
    static final int OFF_CHECKSUM = 9;
    static final int OFF_OEM_ID = 10;
    static final int OFF_OEM_TABLE_ID = 16;
    static final int OFF_OEM_REVISION = 24;
    static final int OFF_CREATOR_ID = 28;
    static final int OFF_CREATOR_REVISION = 32;

    static final String OEM_ID = "VESSEL";
    static final String OEM_TABLE_ID = "VESSELVM";
    static final int OEM_REVISION = 1;
    static final String CREATOR_ID = "VSSL";
    static final int CREATOR_REVISION = 1;

    /** A zeroed little-endian table of {@code length} bytes with its header filled in but no checksum. */
    static ByteBuffer allocate(String signature, int length, int revision) {
        ByteBuffer b = ByteBuffer.allocate(length).order(ByteOrder.LITTLE_ENDIAN);
        putAscii(b, OFF_SIGNATURE, signature, 4);
        b.putInt(OFF_LENGTH, length);
        b.put(OFF_REVISION, (byte) revision);
        putAscii(b, OFF_OEM_ID, OEM_ID, 6);
        putAscii(b, OFF_OEM_TABLE_ID, OEM_TABLE_ID, 8);
        b.putInt(OFF_OEM_REVISION, OEM_REVISION);
        putAscii(b, OFF_CREATOR_ID, CREATOR_ID, 4);
        b.putInt(OFF_CREATOR_REVISION, CREATOR_REVISION);
        return b;
    }

    /** Sets the header checksum and returns the table's bytes. */
    static byte[] finish(ByteBuffer table) {
        byte[] bytes = table.array();
        bytes[OFF_CHECKSUM] = 0;
        bytes[OFF_CHECKSUM] = checksum(bytes, 0, bytes.length);
        return bytes;
    }

    /** The byte that, added to {@code bytes[from..to)}, makes their sum zero modulo 256. */
    static byte checksum(byte[] bytes, int from, int to) {
        int sum = 0;
        for (int i = from; i < to; i++) {
            sum += bytes[i];
        }
        return (byte) -sum;
    }

    /** Writes {@code s} padded with spaces to {@code width} bytes, as ACPI ID fields are. */
    static void putAscii(ByteBuffer b, int offset, String s, int width) {
        if (s.length() > width) {
            throw new IllegalArgumentException("'" + s + "' is longer than " + width + " bytes");
        }
        byte[] padded = (s + " ".repeat(width - s.length())).getBytes(StandardCharsets.US_ASCII);
        b.put(offset, padded);
    }
}
