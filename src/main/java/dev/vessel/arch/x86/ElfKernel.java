package dev.vessel.arch.x86;

import dev.vessel.memory.GuestMemory;
import dev.vessel.memory.GuestMemoryException;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * An uncompressed x86-64 Linux kernel (vmlinux) as an ELF64 executable, parsed and validated
 * for the PVH entry: its PT_LOAD segments (loaded at their physical addresses) and the entry
 * point from the {@code XEN_ELFNOTE_PHYS32_ENTRY} note. Nothing in the file is trusted: every
 * offset and size is checked against the file, and every address against guest memory.
 */
public final class ElfKernel {
    static final byte[] MAGIC = {0x7f, 'E', 'L', 'F'};
    static final int EI_CLASS = 4;
    static final int EI_DATA = 5;
    static final int EI_VERSION = 6;
    static final int ELFCLASS32 = 1;
    static final int ELFCLASS64 = 2;
    static final int ELFDATA2LSB = 1;
    static final int EV_CURRENT = 1;
    static final int ET_EXEC = 2;
    static final int EM_X86_64 = 62;
    static final int PT_LOAD = 1;
    static final int PT_NOTE = 4;
    /** PN_XNUM: the real count is in section 0; no kernel does that. */
    static final int PN_XNUM = 0xffff;

    static final int EHDR_SIZE = 64;
    static final int PHDR_SIZE = 56;
    static final int OFF_TYPE = 16;
    static final int OFF_MACHINE = 18;
    static final int OFF_VERSION = 20;
    static final int OFF_PHOFF = 32;
    static final int OFF_PHENTSIZE = 54;
    static final int OFF_PHNUM = 56;

    /** Xen's ELF note with the 32-bit physical entry point of the PVH boot ABI. */
    static final String XEN_NOTE_NAME = "Xen";
    static final int XEN_ELFNOTE_PHYS32_ENTRY = 18;
    /** Note segments are small (a few hundred bytes in Linux); a bigger one is not read. */
    static final long MAX_NOTE_SEGMENT = 1 << 20;

    /** One PT_LOAD segment: file bytes [offset, offset+fileSize) go to [paddr, paddr+fileSize), zeros up to memSize. */
    public record Segment(long offset, long paddr, long fileSize, long memSize) {
        public long end() {
            return paddr + memSize;
        }
    }

    private final List<Segment> segments;
    private final long pvhEntry;

    ElfKernel(List<Segment> segments, long pvhEntry) {
        this.segments = List.copyOf(segments);
        this.pvhEntry = pvhEntry;
    }

    /** Whether {@code head} starts with the ELF magic. */
    public static boolean isElf(byte[] head) {
        if (head.length < MAGIC.length) {
            return false;
        }
        for (int i = 0; i < MAGIC.length; i++) {
            if (head[i] != MAGIC[i]) {
                return false;
            }
        }
        return true;
    }

    /** The PT_LOAD segments with bytes to load, in ascending physical address order. */
    public List<Segment> segments() {
        return segments;
    }

    /** The PVH entry: a 32-bit physical address inside a loaded segment. */
    public long pvhEntry() {
        return pvhEntry;
    }

    /** The lowest physical address the kernel occupies. */
    public long start() {
        return segments.getFirst().paddr();
    }

    /** The first physical address above the kernel (its last segment's memsz included). */
    public long end() {
        return segments.stream().mapToLong(Segment::end).max().orElseThrow();
    }

    /** Reads and validates the ELF and program headers and the notes of {@code file}. */
    public static ElfKernel read(FileChannel file, Path name) throws IOException, BootImageException {
        long fileSize = file.size();
        if (fileSize < EHDR_SIZE) {
            throw new BootImageException(name + ": ELF file too short for an ELF header (" + fileSize + " bytes)");
        }
        ByteBuffer eh = ByteBuffer.allocate(EHDR_SIZE).order(ByteOrder.LITTLE_ENDIAN);
        readFully(file, eh, 0, name);
        byte[] ident = new byte[16];
        eh.get(0, ident);
        if (!isElf(ident)) {
            throw new BootImageException(name + ": not an ELF file");
        }
        if (ident[EI_CLASS] == ELFCLASS32) {
            throw new BootImageException(name + ": a 32-bit ELF kernel; Vessel boots x86-64 kernels only");
        }
        if (ident[EI_CLASS] != ELFCLASS64) {
            throw new BootImageException(name + ": ELF class " + ident[EI_CLASS] + " is not ELF64");
        }
        if (ident[EI_DATA] != ELFDATA2LSB) {
            throw new BootImageException(name + ": big-endian ELF file; x86-64 kernels are little-endian");
        }
        if (ident[EI_VERSION] != EV_CURRENT || eh.getInt(OFF_VERSION) != EV_CURRENT) {
            throw new BootImageException(name + ": unknown ELF version");
        }
        int machine = Short.toUnsignedInt(eh.getShort(OFF_MACHINE));
        if (machine != EM_X86_64) {
            throw new BootImageException(name + ": ELF kernel for machine " + machine + ", not x86-64 (" + EM_X86_64 + ")");
        }
        int type = Short.toUnsignedInt(eh.getShort(OFF_TYPE));
        if (type != ET_EXEC) {
            throw new BootImageException(name + ": ELF file of type " + type + " is not an executable (a vmlinux is ET_EXEC)");
        }
        return parseProgramHeaders(file, name, eh, fileSize);
    }

    private static ElfKernel parseProgramHeaders(FileChannel file, Path name, ByteBuffer eh, long fileSize)
            throws IOException, BootImageException {
        long phoff = eh.getLong(OFF_PHOFF);
        int phentsize = Short.toUnsignedInt(eh.getShort(OFF_PHENTSIZE));
        int phnum = Short.toUnsignedInt(eh.getShort(OFF_PHNUM));
        if (phnum == 0 || phnum == PN_XNUM) {
            throw new BootImageException(name + ": ELF file has no program headers");
        }
        if (phentsize != PHDR_SIZE) {
            throw new BootImageException(name + ": ELF program header size " + phentsize + " is not " + PHDR_SIZE);
        }
        long tableSize = (long) phnum * PHDR_SIZE;
        if (phoff < EHDR_SIZE || phoff > fileSize - tableSize) {
            throw new BootImageException(name + ": ELF program headers (offset " + Long.toUnsignedString(phoff) + ", "
                    + phnum + " entries) lie outside the file (" + fileSize + " bytes)");
        }
        ByteBuffer ph = ByteBuffer.allocate((int) tableSize).order(ByteOrder.LITTLE_ENDIAN);
        readFully(file, ph, phoff, name);

        List<Segment> loads = new ArrayList<>();
        Long entry = null;
        for (int i = 0; i < phnum; i++) {
            int base = i * PHDR_SIZE;
            int pType = ph.getInt(base);
            long offset = ph.getLong(base + 8);
            long paddr = ph.getLong(base + 24);
            long fileSz = ph.getLong(base + 32);
            long memSz = ph.getLong(base + 40);
            long align = ph.getLong(base + 48);
            if (pType != PT_LOAD && pType != PT_NOTE) {
                continue;
            }
            if (!inFile(offset, fileSz, fileSize)) {
                throw new BootImageException(String.format("%s: ELF segment %d (file bytes 0x%s+0x%s) reaches past the end of the file (%d bytes)",
                        name, i, Long.toUnsignedString(offset, 16), Long.toUnsignedString(fileSz, 16), fileSize));
            }
            if (pType == PT_LOAD) {
                if (Long.compareUnsigned(fileSz, memSz) > 0) {
                    throw new BootImageException(name + ": ELF segment " + i + " has more file bytes than memory bytes");
                }
                if (paddr < 0 || memSz < 0 || paddr > Long.MAX_VALUE - memSz) {
                    throw new BootImageException(String.format("%s: ELF segment %d at physical 0x%s+0x%s is outside any address space",
                            name, i, Long.toUnsignedString(paddr, 16), Long.toUnsignedString(memSz, 16)));
                }
                if (memSz > 0) {
                    loads.add(new Segment(offset, paddr, fileSz, memSz));
                }
            } else if (entry == null) {
                entry = findPvhEntry(file, name, i, offset, fileSz, align);
            }
        }
        if (loads.isEmpty()) {
            throw new BootImageException(name + ": ELF file has nothing to load (no PT_LOAD segment)");
        }
        if (entry == null) {
            throw new BootImageException(name + ": ELF kernel without a PVH entry note (Xen note "
                    + XEN_ELFNOTE_PHYS32_ENTRY + ", XEN_ELFNOTE_PHYS32_ENTRY; kernel built without CONFIG_PVH?): boot its bzImage instead");
        }
        loads.sort(Comparator.comparingLong(Segment::paddr));
        for (int i = 1; i < loads.size(); i++) {
            if (loads.get(i).paddr() < loads.get(i - 1).end()) {
                throw new BootImageException(String.format("%s: ELF segments at physical 0x%x and 0x%x overlap",
                        name, loads.get(i - 1).paddr(), loads.get(i).paddr()));
            }
        }
        long e = entry;
        if (loads.stream().noneMatch(s -> e >= s.paddr() && e < s.paddr() + s.fileSize())) {
            throw new BootImageException(String.format("%s: PVH entry point 0x%x is not inside a loaded segment", name, e));
        }
        return new ElfKernel(loads, e);
    }

    private static boolean inFile(long offset, long size, long fileSize) {
        return offset >= 0 && size >= 0 && offset <= fileSize && size <= fileSize - offset;
    }

    /** Scans one PT_NOTE segment for Xen's PHYS32_ENTRY note; null if it has none. */
    private static Long findPvhEntry(FileChannel file, Path name, int index, long offset, long size, long align)
            throws IOException, BootImageException {
        if (size > MAX_NOTE_SEGMENT) {
            throw new BootImageException(name + ": ELF note segment " + index + " is implausibly large (" + size + " bytes)");
        }
        ByteBuffer notes = ByteBuffer.allocate((int) size).order(ByteOrder.LITTLE_ENDIAN);
        readFully(file, notes, offset, name);
        return pvhEntryFromNotes(notes, align == 8 ? 8 : 4, name, index);
    }

    /** Walks Elf64_Nhdr records (namesz, descsz, type, name, desc; name and desc start {@code align}-aligned). */
    static Long pvhEntryFromNotes(ByteBuffer notes, int align, Path name, int index) throws BootImageException {
        long pos = 0;
        long limit = notes.limit();
        while (pos + 12 <= limit) {
            long nameSize = Integer.toUnsignedLong(notes.getInt((int) pos));
            long descSize = Integer.toUnsignedLong(notes.getInt((int) pos + 4));
            int type = notes.getInt((int) pos + 8);
            long nameAt = pos + 12;
            // Padding aligns offsets within the segment (the header is 12 bytes, so with 8-byte
            // alignment a 4-byte name is followed by no padding at all).
            long descAt = roundUp(nameAt + nameSize, align);
            long next = roundUp(descAt + descSize, align);
            if (descAt + descSize > limit) {
                throw new BootImageException(name + ": ELF note segment " + index + " is malformed (a note runs past its end)");
            }
            if (type == XEN_ELFNOTE_PHYS32_ENTRY && isXen(notes, (int) nameAt, (int) nameSize)) {
                long value = switch ((int) descSize) {
                    case 4 -> Integer.toUnsignedLong(notes.getInt((int) descAt));
                    case 8 -> notes.getLong((int) descAt);
                    default -> throw new BootImageException(name + ": the PVH entry note holds " + descSize
                            + " bytes, not a 4- or 8-byte address");
                };
                if (value < 0 || value >= (1L << 32)) {
                    throw new BootImageException(String.format("%s: PVH entry point 0x%s is above 4 GiB",
                            name, Long.toUnsignedString(value, 16)));
                }
                return value;
            }
            pos = next;
        }
        return null;
    }

    /** The note's name is "Xen" (namesz 4 with its NUL, or 3 without). */
    private static boolean isXen(ByteBuffer notes, int at, int size) {
        if (size != 3 && size != 4) {
            return false;
        }
        for (int i = 0; i < 3; i++) {
            if (notes.get(at + i) != XEN_NOTE_NAME.charAt(i)) {
                return false;
            }
        }
        return size == 3 || notes.get(at + 3) == 0;
    }

    private static long roundUp(long v, int align) {
        return (v + align - 1) & -align;
    }

    /**
     * Copies the segments into guest memory at their physical addresses and zero-fills each up
     * to its memsz. Every segment must lie in RAM between 1 MiB (below it are the VMM's boot
     * structures, ACPI tables and the BIOS area) and the end of low memory.
     */
    public void load(GuestMemory memory, FileChannel file, Path name) throws IOException, BootImageException {
        checkPlacement(memory, name);
        try {
            for (Segment s : segments) {
                MemorySegment target = memory.slice(s.paddr(), s.memSize());
                long done = 0;
                while (done < s.fileSize()) {
                    long chunk = Math.min(s.fileSize() - done, 1 << 30);
                    readFully(file, target.asSlice(done, chunk).asByteBuffer(), s.offset() + done, name);
                    done += chunk;
                }
                target.asSlice(s.fileSize()).fill((byte) 0);
            }
        } catch (GuestMemoryException e) {
            throw new BootImageException(name + ": kernel does not fit in guest memory: " + e.getMessage());
        }
    }

    /** Rejects segments below 1 MiB, beyond low RAM, or outside guest memory, before anything is written. */
    void checkPlacement(GuestMemory memory, Path name) throws BootImageException {
        long lowEnd = memory.lowMemoryEnd();
        for (Segment s : segments) {
            if (s.paddr() < BootLayout.HIMEM_START) {
                throw new BootImageException(String.format(
                        "%s: ELF segment at physical 0x%x+0x%x overlaps the VMM's low memory (boot structures, ACPI, BIOS area below 1 MiB)",
                        name, s.paddr(), s.memSize()));
            }
            if (s.end() > lowEnd || !memory.contains(s.paddr(), s.memSize())) {
                throw new BootImageException(String.format(
                        "guest memory too small for this kernel: %s needs RAM up to %d MiB, the VM has %d MiB below the MMIO hole",
                        name, (s.end() + (1 << 20) - 1) >> 20, lowEnd >> 20));
            }
        }
    }

    static void readFully(FileChannel ch, ByteBuffer dst, long position, Path path) throws IOException, BootImageException {
        long pos = position;
        while (dst.hasRemaining()) {
            int n = ch.read(dst, pos);
            if (n < 0) {
                throw new BootImageException(path + " ended early (file changed while loading?)");
            }
            pos += n;
        }
    }
}
