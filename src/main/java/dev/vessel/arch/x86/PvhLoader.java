package dev.vessel.arch.x86;

import dev.vessel.memory.GuestMemory;
import dev.vessel.memory.GuestMemoryException;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;

/**
 * Boots an ELF vmlinux through its PVH entry: loads the PT_LOAD segments at their physical
 * addresses, then writes the command line, the initrd (as module 0), the memory map,
 * hvm_start_info and a 32-bit GDT. No decompressor runs: the kernel starts at its own code.
 */
public final class PvhLoader {
    private PvhLoader() {}

    /** Loads the ELF kernel open as {@code kernelFile}; the vCPU state follows from the returned entry. */
    public static LinuxLoader.BootEntry load(GuestMemory memory, FileChannel kernelFile, Path kernel, Path initrd,
                                             String cmdline, long rsdpAddress) throws BootImageException, IOException {
        ElfKernel elf = ElfKernel.read(kernelFile, kernel);
        elf.load(memory, kernelFile, kernel);
        try {
            writeCommandLine(memory, cmdline);
            List<E820Entry> map = LinuxLoader.e820(memory);
            if (map.size() > PvhLayout.MEMMAP_MAX) {
                throw new IllegalStateException("memory map of " + map.size() + " entries does not fit its table");
            }
            memory.write(PvhLayout.MEMMAP, HvmStartInfo.memoryMapTable(map));
            HvmStartInfo info = new HvmStartInfo()
                    .commandLine(PvhLayout.CMDLINE)
                    .acpiRsdp(rsdpAddress)
                    .memoryMap(PvhLayout.MEMMAP, map.size());

            long initrdAddress = 0;
            if (initrd != null) {
                try (FileChannel r = open(initrd)) {
                    long size = r.size();
                    initrdAddress = placeInitrd(memory.lowMemoryEnd(), elf.end(), size);
                    ElfKernel.readFully(r, memory.slice(initrdAddress, size).asByteBuffer(), 0, initrd);
                    memory.write(PvhLayout.MODLIST, HvmStartInfo.modlistEntry(initrdAddress, size, 0));
                    info.modules(PvhLayout.MODLIST, 1);
                }
            }
            memory.write(PvhLayout.START_INFO, info.toBytes());
            writeGdt(memory);
            LinuxLoader.writeResetVectorStub(memory);
            return new LinuxLoader.BootEntry(elf.pvhEntry(), PvhLayout.START_INFO, 0, null, initrdAddress,
                    BootProtocol.PVH);
        } catch (GuestMemoryException e) {
            throw new BootImageException("boot image does not fit in guest memory: " + e.getMessage());
        }
    }

    static void writeCommandLine(GuestMemory memory, String cmdline) throws BootImageException, GuestMemoryException {
        byte[] cmd = cmdline.getBytes(StandardCharsets.UTF_8);
        if (cmd.length + 1 > PvhLayout.CMDLINE_MAX) {
            throw new BootImageException("kernel command line is " + cmd.length + " bytes; the PVH entry takes at most "
                    + (PvhLayout.CMDLINE_MAX - 1));
        }
        for (byte c : cmd) {
            if (c == 0) {
                throw new BootImageException("kernel command line contains a NUL byte");
            }
        }
        memory.write(PvhLayout.CMDLINE, cmd);
        memory.writeByte(PvhLayout.CMDLINE + cmd.length, (byte) 0);
    }

    /** The highest page-aligned spot below {@link PvhLayout#INITRD_LIMIT} and the end of low RAM, above the kernel. */
    static long placeInitrd(long lowEnd, long kernelEnd, long size) throws BootImageException {
        long limit = Math.min(PvhLayout.INITRD_LIMIT, lowEnd);
        long address = (limit - size) & ~0xFFFL;
        if (size <= 0 || limit - size < kernelEnd || address < kernelEnd) {
            throw new BootImageException(String.format(
                    "initrd of %d MiB does not fit between the kernel (ends at %d MiB) and the end of low memory (%d MiB): give the VM more memory",
                    size >> 20, kernelEnd >> 20, limit >> 20));
        }
        return address;
    }

    static void writeGdt(GuestMemory memory) throws GuestMemoryException {
        long[] gdt = PvhCpu.gdt();
        for (int i = 0; i < gdt.length; i++) {
            memory.writeLong(PvhLayout.GDT + i * 8L, gdt[i]);
        }
        memory.writeLong(PvhLayout.IDT, 0);
    }

    private static FileChannel open(Path path) throws IOException, BootImageException {
        try {
            return FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new BootImageException("initrd " + path + " does not exist");
        }
    }
}
