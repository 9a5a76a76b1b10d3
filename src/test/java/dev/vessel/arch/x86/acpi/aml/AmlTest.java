package dev.vessel.arch.x86.acpi.aml;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Expected bytes are derived by hand from ACPI 6.5 chapter 20 (and agree with iasl's output). */
class AmlTest {
    private static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return b;
    }

    @Test
    void pkgLengthUsesOneByteUpTo63() {
        assertArrayEquals(bytes(0x00), Aml.pkgLength(0));
        assertArrayEquals(bytes(0x3F), Aml.pkgLength(63));
    }

    @Test
    void pkgLengthUsesTwoBytesFrom64To4095() {
        // Lead byte: bits 7-6 = 1 following byte, bits 3-0 = low nibble; then bits 11-4.
        assertArrayEquals(bytes(0x40, 0x04), Aml.pkgLength(64));
        assertArrayEquals(bytes(0x4F, 0xFF), Aml.pkgLength(4095));
    }

    @Test
    void pkgLengthUsesThreeBytesFrom4096BelowOneMebibyte() {
        assertArrayEquals(bytes(0x80, 0x00, 0x01), Aml.pkgLength(4096));
        assertArrayEquals(bytes(0x8F, 0xFF, 0xFF), Aml.pkgLength(0xFFFFF));
    }

    @Test
    void pkgLengthUsesFourBytesFromOneMebibyte() {
        assertArrayEquals(bytes(0xC0, 0x00, 0x00, 0x01), Aml.pkgLength(1 << 20));
        assertArrayEquals(bytes(0xCF, 0xFF, 0xFF, 0xFF), Aml.pkgLength((1 << 28) - 1));
        assertThrows(IllegalArgumentException.class, () -> Aml.pkgLength(1 << 28));
        assertThrows(IllegalArgumentException.class, () -> Aml.pkgLength(-1));
    }

    @Test
    void packageLengthCountsItsOwnEncoding() {
        // 62 content bytes + 1 length byte = 63 fits one byte; 63 + 1 = 64 needs two, so 65.
        assertArrayEquals(bytes(0x3F), head(Aml.withPkgLength(new byte[62]), 1));
        assertArrayEquals(bytes(0x41, 0x04), head(Aml.withPkgLength(new byte[63]), 2));
        // 4093 + 2 = 4095 fits two bytes; 4094 + 2 = 4096 needs three, so 4097.
        assertArrayEquals(bytes(0x4F, 0xFF), head(Aml.withPkgLength(new byte[4093]), 2));
        assertArrayEquals(bytes(0x81, 0x00, 0x01), head(Aml.withPkgLength(new byte[4094]), 3));
        // 0xFFFFC + 3 = 0xFFFFF fits three bytes; one more needs four: 0xFFFFD + 4 = 0x100001.
        assertArrayEquals(bytes(0x8F, 0xFF, 0xFF), head(Aml.withPkgLength(new byte[0xFFFFC]), 3));
        assertArrayEquals(bytes(0xC1, 0x00, 0x00, 0x01), head(Aml.withPkgLength(new byte[0xFFFFD]), 4));
        assertEquals(0xFFFFD + 4, Aml.withPkgLength(new byte[0xFFFFD]).length);
    }

    private static byte[] head(byte[] b, int n) {
        return java.util.Arrays.copyOf(b, n);
    }

    @Test
    void integersUseTheShortestEncoding() {
        assertArrayEquals(bytes(0x00), Aml.integer(0));
        assertArrayEquals(bytes(0x01), Aml.integer(1));
        assertArrayEquals(bytes(0xFF), Aml.integer(-1L));
        assertArrayEquals(bytes(0x0A, 0x02), Aml.integer(2));
        assertArrayEquals(bytes(0x0A, 0xFF), Aml.integer(0xFF));
        assertArrayEquals(bytes(0x0B, 0x00, 0x01), Aml.integer(0x100));
        assertArrayEquals(bytes(0x0B, 0xFF, 0xFF), Aml.integer(0xFFFF));
        assertArrayEquals(bytes(0x0C, 0x00, 0x00, 0x01, 0x00), Aml.integer(0x10000));
        assertArrayEquals(bytes(0x0C, 0x00, 0x00, 0x00, 0xD0), Aml.integer(0xD000_0000L));
        assertArrayEquals(bytes(0x0C, 0xFF, 0xFF, 0xFF, 0xFF), Aml.integer(0xFFFF_FFFFL));
        assertArrayEquals(bytes(0x0E, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00), Aml.integer(1L << 32));
        assertArrayEquals(bytes(0x0E, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF), Aml.integer(-2L));
    }

    @Test
    void stringsAreNullTerminatedAscii() {
        assertArrayEquals(bytes(0x0D, 'L', 'N', 'R', 'O', '0', '0', '0', '5', 0x00), Aml.string("LNRO0005"));
        assertArrayEquals(bytes(0x0D, 0x00), Aml.string(""));
        assertThrows(IllegalArgumentException.class, () -> Aml.string("caf\u00e9"));
        assertThrows(IllegalArgumentException.class, () -> Aml.string("a\0b"));
    }

    @Test
    void eisaIdCompressesLettersAndHexDigits() {
        assertEquals(0x0105D041, Aml.eisaIdValue("PNP0501"));
        assertEquals(0x000BD041, Aml.eisaIdValue("PNP0B00"));
        assertEquals(0x030AD041, Aml.eisaIdValue("PNP0A03"));
        assertArrayEquals(bytes(0x0C, 0x41, 0xD0, 0x05, 0x01), Aml.eisaId("PNP0501"));
        assertThrows(IllegalArgumentException.class, () -> Aml.eisaIdValue("LNRO0005"));
        assertThrows(IllegalArgumentException.class, () -> Aml.eisaIdValue("pnp0501"));
    }

    @Test
    void nameStringsHandlePrefixesAndSegmentCounts() {
        assertArrayEquals(bytes('_', 'H', 'I', 'D'), Aml.nameString("_HID"));
        assertArrayEquals(bytes('R', 'T', 'C', '_'), Aml.nameString("RTC"));
        assertArrayEquals(bytes('\\', '_', 'S', 'B', '_'), Aml.nameString("\\_SB_"));
        assertArrayEquals(bytes('\\', 0x00), Aml.nameString("\\"));
        assertArrayEquals(bytes('^', '^', 'C', 'O', 'M', '1'), Aml.nameString("^^COM1"));
        assertArrayEquals(bytes(0x2E, '_', 'S', 'B', '_', 'C', 'O', 'M', '1'), Aml.nameString("_SB_.COM1"));
        assertArrayEquals(bytes('\\', 0x2F, 3, '_', 'S', 'B', '_', 'P', 'C', 'I', '0', 'I', 'S', 'A', '_'),
                Aml.nameString("\\_SB.PCI0.ISA"));
        assertThrows(IllegalArgumentException.class, () -> Aml.nameString("com1"));
        assertThrows(IllegalArgumentException.class, () -> Aml.nameString("1ABC"));
        assertThrows(IllegalArgumentException.class, () -> Aml.nameString("ABCDE"));
        assertThrows(IllegalArgumentException.class, () -> Aml.nameString("_SB_..COM1"));
        assertThrows(IllegalArgumentException.class, () -> Aml.nameString(""));
    }

    @Test
    void nameBindsAValue() {
        // Name(_UID, Zero)
        assertArrayEquals(bytes(0x08, '_', 'U', 'I', 'D', 0x00), Aml.name("_UID", Aml.integer(0)));
    }

    @Test
    void deviceAndScopeWrapTheirTermsInAPackage() {
        // Device(COM1) { Name(_UID, Zero) }: 4 name + 6 term bytes + 1 PkgLength byte = 11.
        byte[] device = Aml.device("COM1", Aml.name("_UID", Aml.integer(0)));
        assertArrayEquals(bytes(0x5B, 0x82, 0x0B, 'C', 'O', 'M', '1', 0x08, '_', 'U', 'I', 'D', 0x00), device);
        // Scope(\_SB_) { <that device> }: 5 name + 13 device bytes + 1 = 19.
        byte[] scope = Aml.scope("\\_SB_", device);
        assertArrayEquals(bytes(0x10, 0x13, '\\', '_', 'S', 'B', '_'), head(scope, 7));
        assertEquals(2 + 5 + device.length, scope.length);
    }

    @Test
    void packageCountsItsElements() {
        // Package() { 5, Zero }, the \_S5 object.
        assertArrayEquals(bytes(0x12, 0x05, 0x02, 0x0A, 0x05, 0x00), Aml.packageOf(Aml.integer(5), Aml.integer(0)));
        assertArrayEquals(bytes(0x12, 0x02, 0x00), Aml.packageOf());
        assertThrows(IllegalArgumentException.class, () -> Aml.packageOf(new byte[256][]));
    }

    @Test
    void bufferStartsWithItsSize() {
        // Buffer() { 0x79, 0x00 }: BufferSize 2 as a ByteConst, PkgLength 1 + 2 + 2 = 5.
        assertArrayEquals(bytes(0x11, 0x05, 0x0A, 0x02, 0x79, 0x00), Aml.buffer(bytes(0x79, 0x00)));
    }
}
