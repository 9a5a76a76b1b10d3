package dev.vessel.arch.x86;

import dev.vessel.memory.GuestMemory;
import dev.vessel.memory.GuestMemoryException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;

/**
 * Loads a bzImage, its command line and an initrd into guest memory per the Linux x86 boot
 * protocol, and writes the zero page, e820 map, GDT and identity page tables. The result says
 * where the vCPU must start. An ELF kernel (vmlinux) goes to {@link PvhLoader} instead.
 */
public final class LinuxLoader {
    private LinuxLoader() {}

    /**
     * Where the boot vCPU starts: RIP, the zero page for RSI, and CR3. For a {@link BootProtocol#PVH}
     * entry (an ELF vmlinux, see {@link PvhLoader}) {@code zeroPage} is hvm_start_info, for EBX,
     * {@code cr3} is 0 (paging off) and {@code header} is null.
     */
    public record BootEntry(long rip, long zeroPage, long cr3, SetupHeader header, long initrdAddress,
                            BootProtocol protocol) {
        public BootEntry(long rip, long zeroPage, long cr3, SetupHeader header, long initrdAddress) {
            this(rip, zeroPage, cr3, header, initrdAddress, BootProtocol.LINUX_64);
        }
    }

    /** The largest setup area a header can describe: (255 + 1) sectors. */
    private static final int MAX_SETUP = 256 * 512;

    public static BootEntry load(GuestMemory memory, Path kernel, Path initrd, String cmdline, long rsdpAddress)
            throws BootImageException, IOException {
        try (FileChannel k = open(kernel, "kernel")) {
            long kernelSize = k.size();
            byte[] head = new byte[(int) Math.min(kernelSize, MAX_SETUP)];
            readFully(k, ByteBuffer.wrap(head), 0, kernel);
            if (ElfKernel.isElf(head)) {
                return PvhLoader.load(memory, k, kernel, initrd, cmdline, rsdpAddress);
            }
            SetupHeader header = SetupHeader.parse(head);
            if (header.setupBytes() >= kernelSize) {
                throw new BootImageException(kernel + ": truncated kernel image");
            }
            long payloadSize = kernelSize - header.setupBytes();

            long lowEnd = memory.lowMemoryEnd();
            long loadAddress = chooseLoadAddress(header);
            long kernelEnd = loadAddress + Math.max(header.initSize(), payloadSize);
            if (kernelEnd > lowEnd) {
                throw new BootImageException(String.format(
                        "guest memory too small for this kernel: it needs %d MiB below 3 GiB to unpack, the VM has %d MiB",
                        (kernelEnd + (1 << 20) - 1) >> 20, lowEnd >> 20));
            }
            readFully(k, memory.slice(loadAddress, payloadSize).asByteBuffer(), header.setupBytes(), kernel);

            byte[] cmd = cmdline.getBytes(StandardCharsets.UTF_8);
            long cmdMax = Math.min(BootLayout.CMDLINE_MAX, Math.max(header.cmdlineSize(), 255) + 1);
            if (cmd.length + 1 > cmdMax) {
                throw new BootImageException("kernel command line is " + cmd.length + " bytes; this kernel takes at most "
                        + (cmdMax - 1));
            }
            for (byte c : cmd) {
                if (c == 0) {
                    throw new BootImageException("kernel command line contains a NUL byte");
                }
            }
            memory.write(BootLayout.CMDLINE, cmd);
            memory.writeByte(BootLayout.CMDLINE + cmd.length, (byte) 0);

            BootParams params = new BootParams(head, header)
                    .commandLine(BootLayout.CMDLINE)
                    .e820(e820(memory))
                    .acpiRsdp(rsdpAddress);

            long initrdAddress = 0;
            if (initrd != null) {
                try (FileChannel r = open(initrd, "initrd")) {
                    long size = r.size();
                    initrdAddress = placeInitrd(header, lowEnd, kernelEnd, size);
                    readFully(r, memory.slice(initrdAddress, size).asByteBuffer(), 0, initrd);
                    params.initrd(initrdAddress, size);
                }
            }
            memory.write(BootLayout.ZERO_PAGE, params.toBytes());
            writeGdt(memory);
            writeResetVectorStub(memory);
            long cr3 = PageTables.write(memory);
            return new BootEntry(loadAddress + 0x200, BootLayout.ZERO_PAGE, cr3, header, initrdAddress);
        } catch (GuestMemoryException e) {
            throw new BootImageException("boot image does not fit in guest memory: " + e.getMessage());
        }
    }

    /** pref_address for relocatable kernels (where they want to run, saving a self-move), else 16 MiB. */
    static long chooseLoadAddress(SetupHeader header) {
        long pref = header.prefAddress();
        if (pref >= BootLayout.HIMEM_START && (pref & (header.kernelAlignment() - 1)) == 0 && pref < (1L << 32)) {
            return pref;
        }
        return 0x100_0000L;
    }

    /** The highest page-aligned spot below initrd_addr_max and the end of low RAM, above the kernel. */
    static long placeInitrd(SetupHeader header, long lowEnd, long kernelEnd, long size) throws BootImageException {
        long limit = Math.min(header.initrdAddrMax() + 1, lowEnd);
        long address = (limit - size) & ~0xFFFL;
        if (size <= 0 || limit - size < kernelEnd || address < kernelEnd) {
            throw new BootImageException(String.format(
                    "initrd of %d MiB does not fit between the kernel (ends at %d MiB) and the end of low memory (%d MiB): give the VM more memory",
                    size >> 20, kernelEnd >> 20, limit >> 20));
        }
        return address;
    }

    static List<E820Entry> e820(GuestMemory memory) {
        List<E820Entry> map = new ArrayList<>();
        map.add(new E820Entry(0, BootLayout.EBDA_START, E820Entry.RAM));
        map.add(new E820Entry(BootLayout.EBDA_START, BootLayout.HIMEM_START - BootLayout.EBDA_START, E820Entry.RESERVED));
        long lowEnd = memory.lowMemoryEnd();
        map.add(new E820Entry(BootLayout.HIMEM_START, lowEnd - BootLayout.HIMEM_START, E820Entry.RAM));
        memory.regions().stream().skip(1)
                .forEach(r -> map.add(new E820Entry(r.guestAddress(), r.size(), E820Entry.RAM)));
        return map;
    }

    private static void writeGdt(GuestMemory memory) throws GuestMemoryException {
        long[] gdt = Gdt.entries();
        for (int i = 0; i < gdt.length; i++) {
            memory.writeLong(BootLayout.GDT + i * 8L, gdt[i]);
        }
        memory.writeLong(BootLayout.IDT, 0);
    }

    /**
     * There is no BIOS, yet Linux's last reboot fallbacks (reboot=bios, and the EFI path it picks
     * on hardware-reduced ACPI without EFI) jump to the real-mode reset vector. A few bytes there
     * turn that into a write to the ACPI reset register, so every reboot path ends the VM.
     */
    static void writeResetVectorStub(GuestMemory memory) throws GuestMemoryException {
        int port = dev.vessel.arch.x86.acpi.PowerPort.DEFAULT_PORT;
        byte[] stub = {
            (byte) 0xB0, (byte) dev.vessel.arch.x86.acpi.PowerPort.RESET, // mov al, RESET
            (byte) 0xBA, (byte) port, (byte) (port >> 8),                  // mov dx, port
            (byte) 0xEE,                                                   // out dx, al
            (byte) 0xF4,                                                   // hlt
            (byte) 0xEB, (byte) 0xFD,                                      // jmp back to hlt
        };
        memory.write(BootLayout.RESET_VECTOR, stub);
    }

    private static FileChannel open(Path path, String what) throws IOException, BootImageException {
        try {
            return FileChannel.open(path, StandardOpenOption.READ);
        } catch (NoSuchFileException e) {
            throw new BootImageException(what + " " + path + " does not exist");
        }
    }

    private static void readFully(FileChannel ch, ByteBuffer dst, long position, Path path)
            throws IOException, BootImageException {
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
