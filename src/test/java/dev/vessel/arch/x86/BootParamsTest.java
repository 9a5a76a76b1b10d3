package dev.vessel.arch.x86;

import dev.vessel.memory.GuestMemory;
import dev.vessel.memory.MemoryRegion;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class BootParamsTest {
    @Test
    void copiesTheSetupHeaderAndFillsLoaderFields() throws Exception {
        byte[] img = SetupHeaderTest.image();
        SetupHeader h = SetupHeader.parse(img);
        byte[] zp = new BootParams(img, h)
                .commandLine(0x20000)
                .initrd(0x1_2345_6000L, 0x1_0000_0123L)
                .acpiRsdp(0xE0000)
                .e820(List.of(new E820Entry(0, 0x9FC00, E820Entry.RAM), new E820Entry(0x100000, 0x7F00000, E820Entry.RAM)))
                .toBytes();
        ByteBuffer b = ByteBuffer.wrap(zp).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(BootParams.SIZE, zp.length);
        assertEquals(SetupHeader.MAGIC_HDRS, b.getInt(SetupHeader.OFF_HEADER));
        assertEquals(0x020f, b.getShort(SetupHeader.OFF_VERSION));
        assertEquals((byte) 0xff, b.get(SetupHeader.OFF_TYPE_OF_LOADER));
        assertEquals(SetupHeader.LOADED_HIGH | SetupHeader.CAN_USE_HEAP, b.get(SetupHeader.OFF_LOADFLAGS) & 0xff);
        assertEquals(0x20000, b.getInt(SetupHeader.OFF_CMD_LINE_PTR));
        assertEquals(0, b.getInt(BootParams.OFF_EXT_CMD_LINE_PTR));
        assertEquals(0x23456000, b.getInt(SetupHeader.OFF_RAMDISK_IMAGE));
        assertEquals(1, b.getInt(BootParams.OFF_EXT_RAMDISK_IMAGE));
        assertEquals(0x123, b.getInt(SetupHeader.OFF_RAMDISK_SIZE));
        assertEquals(1, b.getInt(BootParams.OFF_EXT_RAMDISK_SIZE));
        assertEquals(0xE0000, b.getLong(BootParams.OFF_ACPI_RSDP_ADDR));
        assertEquals(2, b.get(BootParams.OFF_E820_ENTRIES));
        assertEquals(0x100000, b.getLong(BootParams.OFF_E820_TABLE + 20));
        assertEquals(0x7F00000, b.getLong(BootParams.OFF_E820_TABLE + 28));
        assertEquals(E820Entry.RAM, b.getInt(BootParams.OFF_E820_TABLE + 36));
        // Nothing beyond the copied header leaks from the image.
        assertEquals(0, b.get(h.headerEnd()));
    }

    @Test
    void e820CoversLowRamHoleAndHighRam() {
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory m = GuestMemory.of(List.of(
                    new MemoryRegion(0, arena.allocate(64L << 20)),
                    new MemoryRegion(GuestMemory.FOUR_GIB, arena.allocate(16L << 20))));
            List<E820Entry> map = LinuxLoader.e820(m);
            assertEquals(List.of(
                    new E820Entry(0, BootLayout.EBDA_START, E820Entry.RAM),
                    new E820Entry(BootLayout.EBDA_START, BootLayout.HIMEM_START - BootLayout.EBDA_START, E820Entry.RESERVED),
                    new E820Entry(BootLayout.HIMEM_START, (64L << 20) - BootLayout.HIMEM_START, E820Entry.RAM),
                    new E820Entry(GuestMemory.FOUR_GIB, 16L << 20, E820Entry.RAM)), map);
        }
    }

    @Test
    void initrdGoesHighButBelowItsLimitAndAboveTheKernel() throws Exception {
        SetupHeader h = SetupHeader.parse(SetupHeaderTest.image());
        long addr = LinuxLoader.placeInitrd(h, 256L << 20, 20L << 20, 5_000_001);
        assertEquals(0, addr & 0xFFF);
        assertEquals(((256L << 20) - 5_000_001) & ~0xFFFL, addr);
        assertThrows(BootImageException.class, () -> LinuxLoader.placeInitrd(h, 32L << 20, 20L << 20, 13L << 20));
        assertThrows(BootImageException.class, () -> LinuxLoader.placeInitrd(h, 32L << 20, 20L << 20, 0));
    }

    @Test
    void loadAddressIsThePreferredOneWhenAligned() throws Exception {
        assertEquals(0x1000000, LinuxLoader.chooseLoadAddress(SetupHeader.parse(SetupHeaderTest.image())));
    }
}
