package dev.vessel.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class ConfigSpaceTest {
    @Test
    void littleEndianFieldsAndBounds() {
        ConfigSpace c = new ConfigSpace(12);
        c.putU64(0, 0x0102_0304_0506_0708L);
        c.putU16(8, 0xBEEF);
        c.putU8(10, 0x7F);
        assertEquals(0x08, c.read(0, 1));
        assertEquals(0x0708, c.read(0, 2));
        assertEquals(0x0506_0708L, c.read(0, 4));
        assertEquals(0x0102_0304_0506_0708L, c.getU64(0));
        assertEquals(0xBEEF, c.getU16(8));
        assertEquals(0x7F, c.getU8(10));
        assertEquals(0, c.read(10, 4), "past the end reads 0");
        assertEquals(0, c.read(-1, 1));
        assertEquals(0, c.read(0, 9));
        c.write(11, 2, 0xFFFF);
        assertEquals(0, c.getU8(11), "out-of-bounds writes are dropped");
        c.write(11, 1, 0x1FF);
        assertEquals(0xFF, c.getU8(11));
        assertThrows(IndexOutOfBoundsException.class, () -> c.putU32(10, 1), "device code must stay in bounds");
        c.putBytes(0, new byte[] {9, 9});
        assertArrayEquals(new byte[] {9, 9, 6, 5}, java.util.Arrays.copyOf(c.toByteArray(), 4));
    }
}
