package dev.vessel.arch.x86;

import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.HexFormat;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class HvmStartInfoTest {
    @Test
    void startInfoHasTheVersionOneLayout() {
        byte[] info = new HvmStartInfo()
                .commandLine(0x20000)
                .acpiRsdp(0xE0000)
                .modules(0x6040, 1)
                .memoryMap(0x6100, 4)
                .toBytes();
        assertEquals(56, info.length);
        // The struct byte for byte, as Xen's start_info.h lays it out (little-endian).
        String expected = ""
                + "78c56e33" // magic 0x336ec578
                + "01000000" // version 1
                + "00000000" // flags
                + "01000000" // nr_modules
                + "4060000000000000" // modlist_paddr
                + "0000020000000000" // cmdline_paddr
                + "00000e0000000000" // rsdp_paddr
                + "0061000000000000" // memmap_paddr
                + "04000000" // memmap_entries
                + "00000000"; // reserved
        assertEquals(expected, HexFormat.of().formatHex(info));
    }

    @Test
    void withoutModulesTheModuleFieldsAreZero() {
        ByteBuffer b = ByteBuffer.wrap(new HvmStartInfo().commandLine(0x20000).toBytes()).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(HvmStartInfo.MAGIC, b.getInt(HvmStartInfo.OFF_MAGIC));
        assertEquals(0, b.getInt(HvmStartInfo.OFF_NR_MODULES));
        assertEquals(0, b.getLong(HvmStartInfo.OFF_MODLIST_PADDR));
        assertEquals(0, b.getLong(HvmStartInfo.OFF_RSDP_PADDR));
        assertEquals(0x20000, b.getLong(HvmStartInfo.OFF_CMDLINE_PADDR));
    }

    @Test
    void modlistEntryIsAddressSizeCmdlineReserved() {
        byte[] m = HvmStartInfo.modlistEntry(0x0FF0_0000L, 0x1_0000_0123L, 0);
        assertEquals(HvmStartInfo.MODLIST_ENTRY_SIZE, m.length);
        assertEquals("0000f00f00000000" + "2301000001000000" + "0000000000000000" + "0000000000000000",
                HexFormat.of().formatHex(m));
    }

    @Test
    void memmapEntriesCarryAddressSizeAndE820Type() {
        List<E820Entry> map = List.of(
                new E820Entry(0, BootLayout.EBDA_START, E820Entry.RAM),
                new E820Entry(BootLayout.EBDA_START, BootLayout.HIMEM_START - BootLayout.EBDA_START, E820Entry.RESERVED),
                new E820Entry(BootLayout.HIMEM_START, 0xFF0_0000L, E820Entry.RAM),
                new E820Entry(0x1_0000_0000L, 0x4000_0000L, E820Entry.RAM));
        byte[] t = HvmStartInfo.memoryMapTable(map);
        assertEquals(4 * HvmStartInfo.MEMMAP_ENTRY_SIZE, t.length);
        ByteBuffer b = ByteBuffer.wrap(t).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < map.size(); i++) {
            int o = i * HvmStartInfo.MEMMAP_ENTRY_SIZE;
            assertEquals(map.get(i).address(), b.getLong(o));
            assertEquals(map.get(i).size(), b.getLong(o + 8));
            assertEquals(map.get(i).type(), b.getInt(o + 16));
            assertEquals(0, b.getInt(o + 20));
        }
        assertArrayEquals(new byte[] {0, (byte) 0xFC, 9, 0, 0, 0, 0, 0}, java.util.Arrays.copyOfRange(t, 8, 16));
    }
}
