package dev.vessel.arch.x86;

import dev.vessel.memory.GuestMemory;
import dev.vessel.memory.MemoryRegion;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.lang.foreign.Arena;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ElfKernelTest {
    @TempDir
    Path dir;

    private ElfKernel read(TestElf elf) throws Exception {
        Path p = elf.write(dir);
        try (FileChannel ch = FileChannel.open(p)) {
            return ElfKernel.read(ch, p);
        }
    }

    private String rejection(TestElf elf) {
        return assertThrows(BootImageException.class, () -> read(elf)).getMessage();
    }

    @Test
    void parsesAVmlinuxLikeImage() throws Exception {
        ElfKernel k = read(TestElf.vmlinuxLike());
        assertEquals(0x100_0850L, k.pvhEntry());
        assertEquals(2, k.segments().size());
        assertEquals(0x100_0000L, k.start());
        assertEquals(0x100_7000L, k.end());
        ElfKernel.Segment data = k.segments().get(1);
        assertEquals(5, data.fileSize());
        assertEquals(0x3000, data.memSize());
    }

    @Test
    void acceptsAFourByteEntryNote() throws Exception {
        TestElf e = TestElf.vmlinuxLike();
        e.notes.set(2, new TestElf.Note("Xen", 18, TestElf.le32(0x100_0123)));
        assertEquals(0x100_0123L, read(e).pvhEntry());
    }

    @Test
    void readsNotesPaddedToEightBytes() throws Exception {
        TestElf e = TestElf.vmlinuxLike();
        e.noteAlign = 8;
        assertEquals(0x100_0850L, read(e).pvhEntry());
    }

    @Test
    void sortsSegmentsByPhysicalAddress() throws Exception {
        TestElf e = TestElf.vmlinuxLike();
        e.loads.add(0, e.loads.remove(1));
        ElfKernel k = read(e);
        assertEquals(0x100_0000L, k.segments().get(0).paddr());
        assertEquals(0x100_4000L, k.segments().get(1).paddr());
    }

    @Test
    void recognisesTheElfMagic() {
        assertTrue(ElfKernel.isElf(TestElf.vmlinuxLike().build()));
        assertFalse(ElfKernel.isElf(SetupHeaderTest.image()));
        assertFalse(ElfKernel.isElf(new byte[] {0x7f, 'E', 'L'}));
    }

    @Test
    void rejectsAKernelWithoutThePvhNote() {
        TestElf e = TestElf.vmlinuxLike();
        e.notes.remove(2);
        assertTrue(rejection(e).contains("ELF kernel without a PVH entry note"));
        TestElf noNotes = TestElf.vmlinuxLike();
        noNotes.notes.clear();
        assertTrue(rejection(noNotes).contains("ELF kernel without a PVH entry note"));
        // Type 18 under another owner's name is not Xen's entry.
        TestElf other = TestElf.vmlinuxLike();
        other.notes.set(2, new TestElf.Note("Linux", 18, TestElf.le64(0x100_0850L)));
        assertTrue(rejection(other).contains("ELF kernel without a PVH entry note"));
    }

    @Test
    void rejectsAnEntryNoteOfOddSizeOrOutsideTheKernel() {
        TestElf odd = TestElf.vmlinuxLike();
        odd.notes.set(2, new TestElf.Note("Xen", 18, new byte[6]));
        assertTrue(rejection(odd).contains("4- or 8-byte"));
        TestElf high = TestElf.vmlinuxLike();
        high.notes.set(2, new TestElf.Note("Xen", 18, TestElf.le64(0x1_0000_0000L)));
        assertTrue(rejection(high).contains("above 4 GiB"));
        TestElf outside = TestElf.vmlinuxLike();
        outside.notes.set(2, new TestElf.Note("Xen", 18, TestElf.le64(0x100_4800L))); // in bss, not in file bytes
        assertTrue(rejection(outside).contains("not inside a loaded segment"));
    }

    @Test
    void rejectsOtherMachinesClassesAndTypes() {
        TestElf arm = TestElf.vmlinuxLike();
        arm.machine = 183; // EM_AARCH64
        assertTrue(rejection(arm).contains("not x86-64"));
        TestElf i386 = TestElf.vmlinuxLike();
        i386.elfClass = ElfKernel.ELFCLASS32;
        assertTrue(rejection(i386).contains("32-bit"));
        TestElf big = TestElf.vmlinuxLike();
        big.data = 2;
        assertTrue(rejection(big).contains("big-endian"));
        TestElf dyn = TestElf.vmlinuxLike();
        dyn.type = 3; // ET_DYN
        assertTrue(rejection(dyn).contains("not an executable"));
    }

    @Test
    void rejectsProgramHeadersOutOfBounds() {
        TestElf past = TestElf.vmlinuxLike();
        past.phoffOverride = 1L << 40;
        assertTrue(rejection(past).contains("program headers"));
        TestElf negative = TestElf.vmlinuxLike();
        negative.phoffOverride = -8L;
        assertTrue(rejection(negative).contains("program headers"));
        TestElf tooMany = TestElf.vmlinuxLike();
        tooMany.phnumOverride = 0xfffe;
        assertTrue(rejection(tooMany).contains("outside the file"));
        TestElf none = TestElf.vmlinuxLike();
        none.phnumOverride = 0;
        assertTrue(rejection(none).contains("no program headers"));
        TestElf size = TestElf.vmlinuxLike();
        size.phentsize = 32;
        assertTrue(rejection(size).contains("program header size"));
    }

    @Test
    void rejectsSegmentsPastTheFileOrOverlapping() {
        TestElf past = TestElf.vmlinuxLike();
        past.extraFileSize = 1L << 30;
        assertTrue(rejection(past).contains("past the end of the file"));
        TestElf overlap = TestElf.vmlinuxLike();
        overlap.loads.add(new TestElf.Load(0x100_1000L, new byte[16], 16));
        assertTrue(rejection(overlap).contains("overlap"));
        TestElf fileBigger = TestElf.vmlinuxLike();
        fileBigger.loads.set(1, new TestElf.Load(0x100_4000L, new byte[64], 32));
        assertTrue(rejection(fileBigger).contains("more file bytes than memory bytes"));
    }

    @Test
    void rejectsTruncatedFiles() throws Exception {
        byte[] img = TestElf.vmlinuxLike().build();
        Path p = java.nio.file.Files.write(dir.resolve("short"), java.util.Arrays.copyOf(img, 40));
        try (FileChannel ch = FileChannel.open(p)) {
            assertTrue(assertThrows(BootImageException.class, () -> ElfKernel.read(ch, p)).getMessage().contains("too short"));
        }
    }

    @Test
    void loadsSegmentsAtTheirPhysicalAddressesAndZeroFills() throws Exception {
        TestElf e = TestElf.vmlinuxLike();
        Path p = e.write(dir);
        try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(p)) {
            GuestMemory m = GuestMemory.of(List.of(new MemoryRegion(0, arena.allocate(32L << 20))));
            m.slice(0x100_4000L, 0x3000).fill((byte) 0x55); // stale bytes the bss must clear
            ElfKernel k = ElfKernel.read(ch, p);
            k.load(m, ch, p);
            assertArrayEquals(e.loads.get(0).data(), m.read(0x100_0000L, 0x2000));
            assertArrayEquals(new byte[] {1, 2, 3, 4, 5}, m.read(0x100_4000L, 5));
            assertArrayEquals(new byte[0x3000 - 5], m.read(0x100_4005L, 0x3000 - 5));
        }
    }

    @Test
    void rejectsASegmentOutsideGuestMemory() throws Exception {
        Path p = TestElf.vmlinuxLike().write(dir);
        try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(p)) {
            GuestMemory m = GuestMemory.of(List.of(new MemoryRegion(0, arena.allocate(0x100_5000L))));
            ElfKernel k = ElfKernel.read(ch, p);
            String msg = assertThrows(BootImageException.class, () -> k.load(m, ch, p)).getMessage();
            assertTrue(msg.contains("guest memory too small"), msg);
            // Nothing was written: the check runs before the first copy.
            assertEquals(0, m.readByte(0x100_0000L));
        }
    }

    @Test
    void rejectsASegmentInTheVmmsLowMemory() throws Exception {
        for (long paddr : new long[] {0, 0x6000, BootLayout.CMDLINE, BootLayout.ACPI_TABLES, BootLayout.HIMEM_START - 0x1000}) {
            TestElf e = TestElf.vmlinuxLike();
            e.loads.add(new TestElf.Load(paddr, new byte[16], 0x1000));
            Path p = e.write(dir);
            try (Arena arena = Arena.ofConfined(); FileChannel ch = FileChannel.open(p)) {
                GuestMemory m = GuestMemory.of(List.of(new MemoryRegion(0, arena.allocate(32L << 20))));
                ElfKernel k = ElfKernel.read(ch, p);
                String msg = assertThrows(BootImageException.class, () -> k.load(m, ch, p)).getMessage();
                assertTrue(msg.contains("overlaps the VMM's low memory"), msg);
            }
        }
    }

    @Test
    void rejectsMalformedNotes() {
        java.nio.ByteBuffer notes = java.nio.ByteBuffer.allocate(16).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        notes.putInt(0, 4).putInt(4, 0x7fffffff).putInt(8, 18).put(12, (byte) 'X');
        assertThrows(BootImageException.class, () -> ElfKernel.pvhEntryFromNotes(notes, 4, Path.of("k"), 0));
    }
}
