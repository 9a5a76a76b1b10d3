import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * bench/exits.sh's guest: a tiny x86-64 ELF "kernel" with a PVH entry note, which Vessel
 * (`vm run --kernel`) and QEMU (`-M microvm -kernel`) both boot. At its PVH entry (32-bit
 * protected mode, paging off) it writes LOOPS times to PORT, one VM exit each, then ends the VM:
 * first a write to QEMU's isa-debug-exit port (0xf4; Vessel has nothing there and ignores it),
 * then the ACPI sleep-control write of S5 (port 0x600, value 0x34) that powers a Vessel VM off.
 * The same bytes run under both VMMs. Usage, with Java 25's source launcher:
 *
 *   java bench/java/ExitsGuest.java OUT LOOPS [PORT]
 *
 * PORT (default 0x80, the POST diagnostic port: no device claims it in either VMM) is written
 * with OUT imm8, so it must be below 0x100.
 */
public class ExitsGuest {
    /** Where the code is loaded and entered: 1 MiB, the lowest address Vessel loads a kernel at. */
    static final long LOAD_ADDRESS = 0x10_0000;
    static final int CODE_OFFSET = 0x1000;
    static final int EHDR_SIZE = 64;
    static final int PHDR_SIZE = 56;
    static final int PT_LOAD = 1;
    static final int PT_NOTE = 4;
    static final int XEN_ELFNOTE_PHYS32_ENTRY = 18;
    static final int QEMU_DEBUG_EXIT_PORT = 0xf4;
    static final int ACPI_PM1_CONTROL_PORT = 0x600;
    static final int ACPI_S5_SLEEP = 0x34;

    public static void main(String[] args) throws IOException {
        if (args.length < 2 || args.length > 3) {
            System.err.println("usage: java ExitsGuest.java OUT LOOPS [PORT]");
            System.exit(2);
        }
        long loops = Long.parseLong(args[1]);
        int port = args.length == 3 ? Integer.decode(args[2]) : 0x80;
        if (loops < 1 || loops > 0xffff_ffffL) {
            throw new IllegalArgumentException("LOOPS must be 1..2^32-1: " + loops);
        }
        if (port < 0 || port > 0xff || port == QEMU_DEBUG_EXIT_PORT) {
            throw new IllegalArgumentException("PORT must be below 0x100 and not 0xf4: " + args[2]);
        }
        Files.write(Path.of(args[0]), elf(code((int) loops, port)));
    }

    /** The guest's instructions (32-bit code). */
    static byte[] code(int loops, int port) {
        ByteBuffer c = ByteBuffer.allocate(64).order(ByteOrder.LITTLE_ENDIAN);
        c.put((byte) 0xB9).putInt(loops);                          // mov ecx, LOOPS
        c.put((byte) 0xE6).put((byte) port);                       // again: out PORT, al
        c.put((byte) 0x49);                                        //        dec ecx
        c.put((byte) 0x75).put((byte) -5);                         //        jnz again
        c.put((byte) 0xB0).put((byte) 0x00);                       // mov al, 0
        c.put((byte) 0xE6).put((byte) QEMU_DEBUG_EXIT_PORT);       // out 0xf4, al   (QEMU exits)
        c.put((byte) 0x66).put((byte) 0xBA).putShort((short) ACPI_PM1_CONTROL_PORT); // mov dx, 0x600
        c.put((byte) 0xB0).put((byte) ACPI_S5_SLEEP);              // mov al, 0x34
        c.put((byte) 0xEE);                                        // out dx, al     (Vessel powers off)
        c.put((byte) 0xFA);                                        // cli
        c.put((byte) 0xF4);                                        // halt: hlt
        c.put((byte) 0xEB).put((byte) -3);                         //       jmp halt
        byte[] code = new byte[c.position()];
        c.get(0, code);
        return code;
    }

    /** ELF64 executable: one PT_LOAD of the code at {@link #LOAD_ADDRESS}, one PT_NOTE with Xen's PVH entry note. */
    static byte[] elf(byte[] code) {
        ByteBuffer e = ByteBuffer.allocate(CODE_OFFSET + code.length).order(ByteOrder.LITTLE_ENDIAN);
        int phoff = EHDR_SIZE;
        int noteOffset = phoff + 2 * PHDR_SIZE;
        // e_ident: magic, ELFCLASS64, little-endian, version 1
        e.put(new byte[] {0x7f, 'E', 'L', 'F', 2, 1, 1});
        e.putShort(16, (short) 2)                // e_type ET_EXEC
                .putShort(18, (short) 62)        // e_machine EM_X86_64
                .putInt(20, 1)                   // e_version
                .putLong(24, LOAD_ADDRESS)       // e_entry (PVH boot uses the note's entry)
                .putLong(32, phoff)              // e_phoff
                .putShort(52, (short) EHDR_SIZE) // e_ehsize
                .putShort(54, (short) PHDR_SIZE) // e_phentsize
                .putShort(56, (short) 2);        // e_phnum

        int ph = phoff;
        e.putInt(ph, PT_LOAD).putInt(ph + 4, 5)  // p_flags R+X
                .putLong(ph + 8, CODE_OFFSET).putLong(ph + 16, LOAD_ADDRESS).putLong(ph + 24, LOAD_ADDRESS)
                .putLong(ph + 32, code.length).putLong(ph + 40, code.length).putLong(ph + 48, 0x1000);
        ph += PHDR_SIZE;
        // The note as Linux writes it: name "Xen\0", an 8-byte entry address, 4-byte alignment.
        int noteSize = 12 + 4 + 8;
        e.putInt(ph, PT_NOTE).putInt(ph + 4, 4)  // p_flags R
                .putLong(ph + 8, noteOffset).putLong(ph + 32, noteSize).putLong(ph + 40, noteSize).putLong(ph + 48, 4);
        e.putInt(noteOffset, 4).putInt(noteOffset + 4, 8).putInt(noteOffset + 8, XEN_ELFNOTE_PHYS32_ENTRY);
        e.put(noteOffset + 12, new byte[] {'X', 'e', 'n', 0});
        e.putLong(noteOffset + 16, LOAD_ADDRESS);

        e.put(CODE_OFFSET, code);
        return e.array();
    }
}
