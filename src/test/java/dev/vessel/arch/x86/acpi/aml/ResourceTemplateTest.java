package dev.vessel.arch.x86.acpi.aml;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.vessel.arch.x86.acpi.aml.ResourceTemplate.Trigger;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** Expected bytes follow the descriptor layouts of ACPI 6.5 section 6.4. */
class ResourceTemplateTest {
    private static byte[] bytes(int... values) {
        byte[] b = new byte[values.length];
        for (int i = 0; i < values.length; i++) {
            b[i] = (byte) values[i];
        }
        return b;
    }

    @Test
    void ioPortDescriptor() {
        // IO(Decode16, 0x3F8, 0x3F8, 1, 8)
        assertArrayEquals(bytes(0x47, 0x01, 0xF8, 0x03, 0xF8, 0x03, 0x01, 0x08), ResourceTemplate.io(0x3F8, 8));
        assertThrows(IllegalArgumentException.class, () -> ResourceTemplate.io(0xFFFF, 2));
        assertThrows(IllegalArgumentException.class, () -> ResourceTemplate.io(0x70, 0));
    }

    @Test
    void irqNoFlagsIsABitMask() {
        assertArrayEquals(bytes(0x22, 0x10, 0x00), ResourceTemplate.irqNoFlags(4));
        assertArrayEquals(bytes(0x22, 0x00, 0x01), ResourceTemplate.irqNoFlags(8));
        assertThrows(IllegalArgumentException.class, () -> ResourceTemplate.irqNoFlags(16));
    }

    @Test
    void memory32FixedIsReadWrite() {
        assertArrayEquals(bytes(0x86, 0x09, 0x00, 0x01, 0x00, 0x00, 0x00, 0xD0, 0x00, 0x10, 0x00, 0x00),
                ResourceTemplate.memory32Fixed(0xD000_0000L, 0x1000));
        assertThrows(IllegalArgumentException.class, () -> ResourceTemplate.memory32Fixed(0xFFFF_F000L, 0x2000));
    }

    @Test
    void extendedInterruptFlags() {
        // Flags bit 0 consumer, bit 1 edge (clear = level), bit 2 active-low (clear), bit 3 shared (clear).
        assertArrayEquals(bytes(0x89, 0x06, 0x00, 0x03, 0x01, 0x05, 0x00, 0x00, 0x00),
                ResourceTemplate.interrupt(5, Trigger.EDGE));
        assertArrayEquals(bytes(0x89, 0x06, 0x00, 0x01, 0x01, 0x17, 0x00, 0x00, 0x00),
                ResourceTemplate.interrupt(23, Trigger.LEVEL));
    }

    @Test
    void templateIsABufferEndingInAChecksummedEndTag() {
        byte[] io = ResourceTemplate.io(0x70, 2);
        byte[] irq = ResourceTemplate.irqNoFlags(8);
        byte[] template = ResourceTemplate.of(io, irq);
        // BufferOp, PkgLength 1 + 2 + 13 = 16, BufferSize ByteConst 13, 8 + 3 descriptor bytes, end tag.
        assertArrayEquals(bytes(0x11, 0x10, 0x0A, 0x0D), Arrays.copyOf(template, 4));
        byte[] data = Arrays.copyOfRange(template, 4, template.length);
        assertArrayEquals(io, Arrays.copyOfRange(data, 0, 8));
        assertArrayEquals(irq, Arrays.copyOfRange(data, 8, 11));
        assertEquals(0x79, data[11] & 0xFF);
        int sum = 0;
        for (byte x : data) {
            sum += x;
        }
        assertEquals(0, sum & 0xFF, "resource data plus end tag checksum must sum to 0");
        assertEquals(0x39, data[12] & 0xFF);
    }
}
