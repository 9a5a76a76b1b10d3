package dev.vessel.arch.x86;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** Builds small ELF64 images shaped like a vmlinux, with knobs to break them. */
final class TestElf {
    record Load(long paddr, byte[] data, long memSize) {}

    record Note(String name, int type, byte[] desc) {}

    int elfClass = ElfKernel.ELFCLASS64;
    int data = ElfKernel.ELFDATA2LSB;
    int type = ElfKernel.ET_EXEC;
    int machine = ElfKernel.EM_X86_64;
    int phentsize = ElfKernel.PHDR_SIZE;
    /** When set, replaces e_phoff. */
    Long phoffOverride;
    /** When set, replaces e_phnum. */
    Integer phnumOverride;
    /** Added to the first PT_LOAD's p_filesz (to make it run past the file). */
    long extraFileSize;
    long noteAlign = 4;
    final List<Load> loads = new ArrayList<>();
    final List<Note> notes = new ArrayList<>();

    /** A two-segment kernel at 16 MiB with its PVH entry 0x1000850 in an 8-byte note, after a few other Xen notes. */
    static TestElf vmlinuxLike() {
        TestElf e = new TestElf();
        byte[] text = new byte[0x2000];
        for (int i = 0; i < text.length; i++) {
            text[i] = (byte) (i * 7 + 1);
        }
        e.loads.add(new Load(0x100_0000L, text, text.length));
        e.loads.add(new Load(0x100_4000L, new byte[] {1, 2, 3, 4, 5}, 0x3000)); // data + bss
        e.notes.add(new Note("Xen", 6, "linux\0".getBytes(StandardCharsets.US_ASCII)));
        e.notes.add(new Note("GNU", 3, new byte[20]));
        e.notes.add(new Note("Xen", 18, le64(0x100_0850L)));
        return e;
    }

    static byte[] le32(int v) {
        return ByteBuffer.allocate(4).order(ByteOrder.LITTLE_ENDIAN).putInt(v).array();
    }

    static byte[] le64(long v) {
        return ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN).putLong(v).array();
    }

    private static int pad(int v, int a) {
        return (v + a - 1) / a * a;
    }

    byte[] noteBytes() {
        int a = (int) noteAlign;
        ByteBuffer b = ByteBuffer.allocate(4096).order(ByteOrder.LITTLE_ENDIAN);
        for (Note n : notes) {
            byte[] name = (n.name() + "\0").getBytes(StandardCharsets.US_ASCII);
            b.putInt(name.length).putInt(n.desc().length).putInt(n.type());
            b.put(name).position(pad(b.position(), a));
            b.put(n.desc()).position(pad(b.position(), a));
        }
        byte[] out = new byte[b.position()];
        b.get(0, out);
        return out;
    }

    byte[] build() {
        byte[] noteData = noteBytes();
        int phnum = loads.size() + (notes.isEmpty() ? 0 : 1);
        int phoff = 64;
        int offset = pad(phoff + phnum * ElfKernel.PHDR_SIZE, 16);
        int noteOffset = offset;
        offset = pad(offset + noteData.length, 0x1000);
        List<Integer> loadOffsets = new ArrayList<>();
        for (Load l : loads) {
            loadOffsets.add(offset);
            offset = pad(offset + l.data().length, 0x1000);
        }
        ByteBuffer b = ByteBuffer.allocate(offset).order(ByteOrder.LITTLE_ENDIAN);
        b.put(new byte[] {0x7f, 'E', 'L', 'F', (byte) elfClass, (byte) data, 1});
        b.putShort(16, (short) type).putShort(18, (short) machine).putInt(20, 1)
                .putLong(24, 0xffffffff81000000L) // e_entry: the virtual 64-bit entry, unused by PVH
                .putLong(32, phoffOverride != null ? phoffOverride : phoff)
                .putShort(52, (short) 64).putShort(54, (short) phentsize)
                .putShort(56, (short) (phnumOverride != null ? phnumOverride : phnum));
        int ph = phoff;
        for (int i = 0; i < loads.size(); i++) {
            Load l = loads.get(i);
            b.putInt(ph, ElfKernel.PT_LOAD).putInt(ph + 4, 5).putLong(ph + 8, loadOffsets.get(i))
                    .putLong(ph + 16, 0xffffffff80000000L + l.paddr()).putLong(ph + 24, l.paddr())
                    .putLong(ph + 32, l.data().length + (i == 0 ? extraFileSize : 0)).putLong(ph + 40, l.memSize())
                    .putLong(ph + 48, 0x200000);
            b.put(loadOffsets.get(i), l.data());
            ph += ElfKernel.PHDR_SIZE;
        }
        if (!notes.isEmpty()) {
            b.putInt(ph, ElfKernel.PT_NOTE).putInt(ph + 4, 4).putLong(ph + 8, noteOffset)
                    .putLong(ph + 32, noteData.length).putLong(ph + 40, noteData.length).putLong(ph + 48, noteAlign);
            b.put(noteOffset, noteData);
        }
        return b.array();
    }

    Path write(Path dir) throws IOException {
        return Files.write(Files.createTempFile(dir, "vmlinux", ""), build());
    }
}
