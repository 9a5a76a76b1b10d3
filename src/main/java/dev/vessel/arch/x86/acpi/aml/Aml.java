package dev.vessel.arch.x86.acpi.aml;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Encodes the few ACPI Machine Language terms that a VMM's DSDT needs (ACPI 6.5, chapter 20
 * "ACPI Machine Language Specification"). Every method returns the encoded bytes of one term;
 * terms nest by passing the encodings of the inner terms, so a table body is plain concatenation.
 * The VMM builds its DSDT at run time from its device list, so it cannot ship iasl output.
 */
public final class Aml {
    private Aml() {}

    static final int ZERO_OP = 0x00;
    static final int ONE_OP = 0x01;
    static final int ONES_OP = 0xFF;
    static final int NAME_OP = 0x08;
    static final int BYTE_PREFIX = 0x0A;
    static final int WORD_PREFIX = 0x0B;
    static final int DWORD_PREFIX = 0x0C;
    static final int STRING_PREFIX = 0x0D;
    static final int QWORD_PREFIX = 0x0E;
    static final int SCOPE_OP = 0x10;
    static final int BUFFER_OP = 0x11;
    static final int PACKAGE_OP = 0x12;
    static final int EXT_OP_PREFIX = 0x5B;
    static final int DEVICE_OP = 0x82;
    static final int ROOT_CHAR = '\\';
    static final int PARENT_PREFIX_CHAR = '^';
    static final int DUAL_NAME_PREFIX = 0x2E;
    static final int MULTI_NAME_PREFIX = 0x2F;
    static final int NULL_NAME = 0x00;
    static final int NAME_SEG_LENGTH = 4;
    /** A PkgLength has at most 4 bytes: 4 bits in the lead byte plus 3 whole bytes. */
    static final int MAX_PKG_LENGTH = (1 << 28) - 1;
    /** PackageOp's NumElements is a single byte. */
    static final int MAX_PACKAGE_ELEMENTS = 0xFF;

    /** {@code Name(path, value)}: binds a data object (integer, string, package, buffer) to a name. */
    public static byte[] name(String path, byte[] value) {
        return concat(new byte[] {NAME_OP}, nameString(path), value);
    }

    /** {@code Scope(path) { terms }}: opens an existing namespace node, e.g. {@code \_SB_}. */
    public static byte[] scope(String path, byte[]... terms) {
        return concat(new byte[] {SCOPE_OP}, withPkgLength(concat(nameString(path), concat(terms))));
    }

    /** {@code Device(path) { terms }}. */
    public static byte[] device(String path, byte[]... terms) {
        return concat(new byte[] {EXT_OP_PREFIX, (byte) DEVICE_OP},
                withPkgLength(concat(nameString(path), concat(terms))));
    }

    /** {@code Package() { elements }} with a NumElements equal to the number of elements given. */
    public static byte[] packageOf(byte[]... elements) {
        if (elements.length > MAX_PACKAGE_ELEMENTS) {
            throw new IllegalArgumentException("a Package holds at most 255 elements, got " + elements.length);
        }
        return concat(new byte[] {PACKAGE_OP},
                withPkgLength(concat(new byte[] {(byte) elements.length}, concat(elements))));
    }

    /** {@code Buffer() { bytes }}: the BufferSize is the number of bytes given. */
    public static byte[] buffer(byte[] bytes) {
        return concat(new byte[] {BUFFER_OP}, withPkgLength(concat(integer(bytes.length), bytes)));
    }

    /**
     * An integer constant in its shortest encoding: Zero, One, Ones (all 64 bits set, i.e.
     * {@code -1L}; tables of revision 2 and later have 64-bit integers), or a Byte/Word/DWord/QWord
     * prefix followed by the little-endian value. Other negative values are taken as unsigned.
     */
    public static byte[] integer(long value) {
        if (value == 0) {
            return new byte[] {ZERO_OP};
        }
        if (value == 1) {
            return new byte[] {ONE_OP};
        }
        if (value == -1L) {
            return new byte[] {(byte) ONES_OP};
        }
        if (Long.compareUnsigned(value, 0xFFL) <= 0) {
            return littleEndian(BYTE_PREFIX, value, 1);
        }
        if (Long.compareUnsigned(value, 0xFFFFL) <= 0) {
            return littleEndian(WORD_PREFIX, value, 2);
        }
        if (Long.compareUnsigned(value, 0xFFFF_FFFFL) <= 0) {
            return littleEndian(DWORD_PREFIX, value, 4);
        }
        return littleEndian(QWORD_PREFIX, value, 8);
    }

    /** A null-terminated string constant; AML strings hold ASCII characters 0x01..0x7F. */
    public static byte[] string(String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x01 || c > 0x7F) {
                throw new IllegalArgumentException("AML strings are ASCII without NUL: " + s);
            }
        }
        return concat(new byte[] {STRING_PREFIX}, s.getBytes(StandardCharsets.US_ASCII), new byte[] {0});
    }

    /**
     * {@code EisaId("PNP0501")}: the compressed ID as a DWordConst, always with the DWord prefix as
     * iasl emits it, so disassemblers show it as an EISA ID again.
     */
    public static byte[] eisaId(String id) {
        return littleEndian(DWORD_PREFIX, Integer.toUnsignedLong(eisaIdValue(id)), 4);
    }

    /**
     * Compresses a 7-character PNP ID of three capital letters and four hex digits: each letter
     * becomes 5 bits ({@code c - 0x40}) packed big-endian into the first two bytes, each hex digit a
     * nibble of the last two; read as a little-endian DWORD, "PNP0501" is 0x0105D041.
     */
    public static int eisaIdValue(String id) {
        if (!id.matches("[A-Z]{3}[0-9A-F]{4}")) {
            throw new IllegalArgumentException("not an EISA ID (three capitals, four hex digits): " + id);
        }
        int letters = ((id.charAt(0) - 0x40) << 10) | ((id.charAt(1) - 0x40) << 5) | (id.charAt(2) - 0x40);
        int product = Integer.parseInt(id.substring(3), 16);
        int bigEndian = (letters << 16) | product;
        return Integer.reverseBytes(bigEndian);
    }

    /**
     * A NameString: an optional root ({@code \}) or parent ({@code ^}) prefix, then name segments
     * separated by dots. Segments shorter than 4 characters are padded with '_' as iasl does
     * ("RTC" is {@code RTC_}). Two segments get DualNamePrefix, more get MultiNamePrefix, none
     * (a bare {@code \}) is NullName.
     */
    public static byte[] nameString(String path) {
        if (path.isEmpty()) {
            throw new IllegalArgumentException("empty ACPI name");
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int i = 0;
        if (path.startsWith("\\")) {
            out.write(ROOT_CHAR);
            i = 1;
        } else {
            while (i < path.length() && path.charAt(i) == PARENT_PREFIX_CHAR) {
                out.write(PARENT_PREFIX_CHAR);
                i++;
            }
        }
        String rest = path.substring(i);
        String[] segments = rest.isEmpty() ? new String[0] : rest.split("\\.", -1);
        if (segments.length == 2) {
            out.write(DUAL_NAME_PREFIX);
        } else if (segments.length > 2) {
            if (segments.length > 0xFF) {
                throw new IllegalArgumentException("too many name segments: " + path);
            }
            out.write(MULTI_NAME_PREFIX);
            out.write(segments.length);
        } else if (segments.length == 0) {
            out.write(NULL_NAME);
        }
        for (String segment : segments) {
            out.writeBytes(nameSeg(segment));
        }
        return out.toByteArray();
    }

    /** Whether {@code s} is a valid NameSeg: a capital or '_', then up to 3 capitals, digits or '_'. */
    public static boolean isNameSeg(String s) {
        return s.matches("[A-Z_][A-Z0-9_]{0,3}");
    }

    /**
     * Encodes a PkgLength whose value is {@code length}, which by definition counts the PkgLength
     * bytes themselves. One byte holds 0..63; otherwise bits 7-6 of the lead byte give the number
     * (1..3) of following bytes, bits 3-0 of the lead byte the low nibble, and each following byte
     * the next 8 bits.
     */
    public static byte[] pkgLength(int length) {
        if (length < 0 || length > MAX_PKG_LENGTH) {
            throw new IllegalArgumentException("PkgLength out of range: " + length);
        }
        if (length <= 0x3F) {
            return new byte[] {(byte) length};
        }
        int following = length < (1 << 12) ? 1 : length < (1 << 20) ? 2 : 3;
        byte[] encoded = new byte[1 + following];
        encoded[0] = (byte) ((following << 6) | (length & 0x0F));
        for (int k = 0; k < following; k++) {
            encoded[1 + k] = (byte) (length >>> (4 + 8 * k));
        }
        return encoded;
    }

    /** Prefixes {@code content} with the PkgLength that covers it and itself. */
    static byte[] withPkgLength(byte[] content) {
        int n = content.length;
        int size = n + 1 <= 0x3F ? 1 : n + 2 < (1 << 12) ? 2 : n + 3 < (1 << 20) ? 3 : 4;
        return concat(pkgLength(n + size), content);
    }

    private static byte[] nameSeg(String segment) {
        if (!isNameSeg(segment)) {
            throw new IllegalArgumentException("not an ACPI name segment: '" + segment + "'");
        }
        return (segment + "___").substring(0, NAME_SEG_LENGTH).getBytes(StandardCharsets.US_ASCII);
    }

    private static byte[] littleEndian(int prefix, long value, int size) {
        byte[] b = new byte[1 + size];
        b[0] = (byte) prefix;
        for (int k = 0; k < size; k++) {
            b[1 + k] = (byte) (value >>> (8 * k));
        }
        return b;
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }
}
