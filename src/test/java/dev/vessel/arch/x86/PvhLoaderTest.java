package dev.vessel.arch.x86;

import dev.vessel.memory.GuestMemory;
import dev.vessel.memory.MemoryRegion;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PvhLoaderTest {
    static final long RSDP = 0xE0000;

    @TempDir
    Path dir;

    private static GuestMemory memory(Arena arena, long lowSize, long highSize) {
        List<MemoryRegion> regions = new ArrayList<>();
        regions.add(new MemoryRegion(0, arena.allocate(lowSize)));
        if (highSize > 0) {
            regions.add(new MemoryRegion(GuestMemory.FOUR_GIB, arena.allocate(highSize)));
        }
        return GuestMemory.of(regions);
    }

    @Test
    void linuxLoaderSendsAnElfKernelToThePvhEntry() throws Exception {
        TestElf elf = TestElf.vmlinuxLike();
        Path kernel = elf.write(dir);
        byte[] initrdBytes = new byte[5000];
        for (int i = 0; i < initrdBytes.length; i++) {
            initrdBytes[i] = (byte) (i ^ 0x5a);
        }
        Path initrd = Files.write(dir.resolve("initrd"), initrdBytes);
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory m = memory(arena, 64L << 20, 0);
            LinuxLoader.BootEntry entry = LinuxLoader.load(m, kernel, initrd, "console=ttyS0 quiet", RSDP);

            assertEquals(BootProtocol.PVH, entry.protocol());
            assertEquals(0x100_0850L, entry.rip());
            assertEquals(PvhLayout.START_INFO, entry.zeroPage());
            assertEquals(0, entry.cr3());
            assertNull(entry.header());
            long expectedInitrd = ((64L << 20) - 5000) & ~0xFFFL;
            assertEquals(expectedInitrd, entry.initrdAddress());

            // The kernel image, the initrd and the command line are where start_info says.
            assertArrayEquals(elf.loads.get(0).data(), m.read(0x100_0000L, 0x2000));
            assertArrayEquals(initrdBytes, m.read(expectedInitrd, 5000));
            ByteBuffer info = ByteBuffer.wrap(m.read(PvhLayout.START_INFO, HvmStartInfo.SIZE)).order(ByteOrder.LITTLE_ENDIAN);
            assertEquals(HvmStartInfo.MAGIC, info.getInt(HvmStartInfo.OFF_MAGIC));
            assertEquals(1, info.getInt(HvmStartInfo.OFF_VERSION));
            assertEquals(0, info.getInt(HvmStartInfo.OFF_FLAGS));
            assertEquals(RSDP, info.getLong(HvmStartInfo.OFF_RSDP_PADDR));
            long cmd = info.getLong(HvmStartInfo.OFF_CMDLINE_PADDR);
            assertEquals("console=ttyS0 quiet\0", new String(m.read(cmd, 20), StandardCharsets.US_ASCII));
            assertEquals(1, info.getInt(HvmStartInfo.OFF_NR_MODULES));
            long mod = info.getLong(HvmStartInfo.OFF_MODLIST_PADDR);
            assertEquals(PvhLayout.MODLIST, mod);
            assertEquals(expectedInitrd, m.readLong(mod));
            assertEquals(5000, m.readLong(mod + 8));
            assertEquals(0, m.readLong(mod + 16));

            // The memory map is the e820 map the bzImage path gives.
            List<E820Entry> e820 = LinuxLoader.e820(m);
            assertEquals(e820.size(), info.getInt(HvmStartInfo.OFF_MEMMAP_ENTRIES));
            assertArrayEquals(HvmStartInfo.memoryMapTable(e820),
                    m.read(info.getLong(HvmStartInfo.OFF_MEMMAP_PADDR), e820.size() * HvmStartInfo.MEMMAP_ENTRY_SIZE));

            // The GDT matches the segment registers; the reset-vector stub is in place.
            long[] gdt = PvhCpu.gdt();
            for (int i = 0; i < gdt.length; i++) {
                assertEquals(gdt[i], m.readLong(PvhLayout.GDT + i * 8L));
            }
            assertEquals((byte) 0xB0, m.readByte(BootLayout.RESET_VECTOR));
        }
    }

    @Test
    void memmapDescribesHighMemoryAndHoles() throws Exception {
        Path kernel = TestElf.vmlinuxLike().write(dir);
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory m = memory(arena, 32L << 20, 8L << 20);
            LinuxLoader.load(m, kernel, null, "console=ttyS0", RSDP);
            assertEquals(0, m.readInt(PvhLayout.START_INFO + HvmStartInfo.OFF_NR_MODULES));
            assertEquals(0, m.readLong(PvhLayout.START_INFO + HvmStartInfo.OFF_MODLIST_PADDR));
            assertEquals(4, m.readInt(PvhLayout.START_INFO + HvmStartInfo.OFF_MEMMAP_ENTRIES));
            long[][] expected = {
                {0, BootLayout.EBDA_START, E820Entry.RAM},
                {BootLayout.EBDA_START, BootLayout.HIMEM_START - BootLayout.EBDA_START, E820Entry.RESERVED},
                {BootLayout.HIMEM_START, (32L << 20) - BootLayout.HIMEM_START, E820Entry.RAM},
                {GuestMemory.FOUR_GIB, 8L << 20, E820Entry.RAM},
            };
            for (int i = 0; i < expected.length; i++) {
                long at = PvhLayout.MEMMAP + (long) i * HvmStartInfo.MEMMAP_ENTRY_SIZE;
                assertEquals(expected[i][0], m.readLong(at), "entry " + i + " addr");
                assertEquals(expected[i][1], m.readLong(at + 8), "entry " + i + " size");
                assertEquals(expected[i][2], m.readInt(at + 16), "entry " + i + " type");
                assertEquals(0, m.readInt(at + 20), "entry " + i + " reserved");
            }
        }
    }

    @Test
    void initrdGoesHighButBelowTwoGiBAndAboveTheKernel() throws Exception {
        assertEquals(((256L << 20) - 5_000_001) & ~0xFFFL, PvhLoader.placeInitrd(256L << 20, 20L << 20, 5_000_001));
        assertEquals((PvhLayout.INITRD_LIMIT - 4096), PvhLoader.placeInitrd(3L << 30, 20L << 20, 4096));
        assertThrows(BootImageException.class, () -> PvhLoader.placeInitrd(32L << 20, 20L << 20, 13L << 20));
        assertThrows(BootImageException.class, () -> PvhLoader.placeInitrd(32L << 20, 20L << 20, 0));
    }

    @Test
    void rejectsAnOverlongCommandLine() throws Exception {
        Path kernel = TestElf.vmlinuxLike().write(dir);
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory m = memory(arena, 32L << 20, 0);
            String msg = assertThrows(BootImageException.class,
                    () -> LinuxLoader.load(m, kernel, null, "x".repeat(2048), RSDP)).getMessage();
            assertTrue(msg.contains("at most 2047"), msg);
            assertThrows(BootImageException.class, () -> LinuxLoader.load(m, kernel, null, "a\0b", RSDP));
        }
    }

    @Test
    void rejectsAnElfWithoutTheNoteThroughLinuxLoader() throws Exception {
        TestElf elf = TestElf.vmlinuxLike();
        elf.notes.remove(2);
        Path kernel = elf.write(dir);
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory m = memory(arena, 32L << 20, 0);
            String msg = assertThrows(BootImageException.class, () -> LinuxLoader.load(m, kernel, null, "", RSDP)).getMessage();
            assertTrue(msg.contains("ELF kernel without a PVH entry note"), msg);
        }
    }

    @Test
    void lowMemoryStructuresDoNotOverlap() {
        long[][] pvh = {
            {PvhLayout.GDT, PvhLayout.GDT_ENTRIES * 8L},
            {PvhLayout.IDT, 8},
            {PvhLayout.START_INFO, HvmStartInfo.SIZE},
            {PvhLayout.MODLIST, HvmStartInfo.MODLIST_ENTRY_SIZE},
            {PvhLayout.MEMMAP, (long) PvhLayout.MEMMAP_MAX * HvmStartInfo.MEMMAP_ENTRY_SIZE},
            {PvhLayout.CMDLINE, PvhLayout.CMDLINE_MAX},
        };
        // What the bzImage path and VmBuilder keep in low memory (its GDT/IDT spot is the PVH GDT's).
        long[][] others = {
            {BootLayout.ZERO_PAGE, BootParams.SIZE},
            {BootLayout.PML4, 0x1000},
            {BootLayout.PDPT, 0x1000},
            {BootLayout.PD, BootLayout.PD_COUNT * 0x1000L},
            {BootLayout.ACPI_TABLES, BootLayout.ACPI_TABLES_END - BootLayout.ACPI_TABLES},
            {BootLayout.RESET_VECTOR, 16},
        };
        for (int i = 0; i < pvh.length; i++) {
            for (int j = i + 1; j < pvh.length; j++) {
                assertDisjoint(pvh[i], pvh[j]);
            }
            for (long[] o : others) {
                assertDisjoint(pvh[i], o);
            }
            assertTrue(pvh[i][0] + pvh[i][1] <= BootLayout.EBDA_START, "below the EBDA");
        }
    }

    private static void assertDisjoint(long[] a, long[] b) {
        assertTrue(a[0] + a[1] <= b[0] || b[0] + b[1] <= a[0],
                String.format("0x%x+0x%x overlaps 0x%x+0x%x", a[0], a[1], b[0], b[1]));
    }
}
