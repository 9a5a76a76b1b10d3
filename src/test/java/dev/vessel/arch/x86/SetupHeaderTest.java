package dev.vessel.arch.x86;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SetupHeaderTest {
    /** A minimal image with a valid 2.15 header, 64-bit entry, 4 setup sectors, 1 MiB payload. */
    static byte[] image() {
        byte[] img = new byte[5 * 512 + (1 << 20)];
        ByteBuffer b = ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN);
        b.put(SetupHeader.OFF_SETUP_SECTS, (byte) 4);
        b.putShort(SetupHeader.OFF_BOOT_FLAG, (short) 0xAA55);
        b.put(SetupHeader.OFF_JUMP, (byte) 0xEB);
        b.put(SetupHeader.OFF_JUMP + 1, (byte) 0x6a); // header ends at 0x26c
        b.putInt(SetupHeader.OFF_HEADER, SetupHeader.MAGIC_HDRS);
        b.putShort(SetupHeader.OFF_VERSION, (short) 0x020f);
        b.put(SetupHeader.OFF_LOADFLAGS, (byte) 1);
        b.putInt(SetupHeader.OFF_INITRD_ADDR_MAX, 0x7fffffff);
        b.putInt(SetupHeader.OFF_KERNEL_ALIGNMENT, 0x200000);
        b.put(SetupHeader.OFF_RELOCATABLE, (byte) 1);
        b.putShort(SetupHeader.OFF_XLOADFLAGS, (short) 0x7f);
        b.putInt(SetupHeader.OFF_CMDLINE_SIZE, 2047);
        b.putLong(SetupHeader.OFF_PREF_ADDRESS, 0x1000000);
        b.putInt(SetupHeader.OFF_INIT_SIZE, 3 << 20);
        return img;
    }

    @Test
    void parsesAValidHeader() throws Exception {
        SetupHeader h = SetupHeader.parse(image());
        assertEquals(4, h.setupSects());
        assertEquals(5 * 512, h.setupBytes());
        assertEquals("2.15", h.versionString());
        assertEquals(0x1000000, h.prefAddress());
        assertEquals(3 << 20, h.initSize());
        assertEquals(2047, h.cmdlineSize());
        assertEquals(0x7fffffffL, h.initrdAddrMax());
        assertEquals(0x26c, h.headerEnd());
        assertTrue(h.relocatable());
    }

    @Test
    void zeroSetupSectsMeansFour() throws Exception {
        byte[] img = image();
        img[SetupHeader.OFF_SETUP_SECTS] = 0;
        assertEquals(4, SetupHeader.parse(img).setupSects());
    }

    @Test
    void rejectsWhatIsNotABzImage() {
        byte[] img = image();
        img[SetupHeader.OFF_HEADER] = 'X';
        assertTrue(assertThrows(BootImageException.class, () -> SetupHeader.parse(img)).getMessage().contains("not a Linux bzImage"));
        byte[] elf = new byte[4096];
        elf[0] = 0x7f;
        elf[1] = 'E';
        elf[2] = 'L';
        elf[3] = 'F';
        assertTrue(assertThrows(BootImageException.class, () -> SetupHeader.parse(elf)).getMessage().contains("ELF"));
        assertThrows(BootImageException.class, () -> SetupHeader.parse(new byte[100]));
    }

    @Test
    void rejectsOldProtocolsAnd32BitKernels() {
        byte[] old = image();
        ByteBuffer.wrap(old).order(ByteOrder.LITTLE_ENDIAN).putShort(SetupHeader.OFF_VERSION, (short) 0x020a);
        assertTrue(assertThrows(BootImageException.class, () -> SetupHeader.parse(old)).getMessage().contains("2.10"));
        byte[] no64 = image();
        ByteBuffer.wrap(no64).order(ByteOrder.LITTLE_ENDIAN).putShort(SetupHeader.OFF_XLOADFLAGS, (short) 0);
        assertTrue(assertThrows(BootImageException.class, () -> SetupHeader.parse(no64)).getMessage().contains("64-bit"));
    }

    @Test
    void rejectsTruncatedAndInconsistentImages() {
        byte[] truncated = java.util.Arrays.copyOf(image(), 5 * 512);
        assertThrows(BootImageException.class, () -> SetupHeader.parse(truncated));
        byte[] badAlign = image();
        ByteBuffer.wrap(badAlign).order(ByteOrder.LITTLE_ENDIAN).putInt(SetupHeader.OFF_KERNEL_ALIGNMENT, 0x300000);
        assertThrows(BootImageException.class, () -> SetupHeader.parse(badAlign));
        byte[] smallInit = image();
        ByteBuffer.wrap(smallInit).order(ByteOrder.LITTLE_ENDIAN).putInt(SetupHeader.OFF_INIT_SIZE, 4096);
        assertThrows(BootImageException.class, () -> SetupHeader.parse(smallInit));
        byte[] badJump = image();
        badJump[SetupHeader.OFF_JUMP + 1] = 0x10;
        assertThrows(BootImageException.class, () -> SetupHeader.parse(badJump));
    }
}
