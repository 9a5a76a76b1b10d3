package dev.vessel.arch.x86;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Minimal bzImages whose 64-bit entry runs a few hand-assembled instructions. Each takes one VM
 * exit path (power-off port, reset, serial output, triple fault) in milliseconds where a real
 * kernel needs seconds: tests use them, and the VMM boots one to warm itself up.
 */
public final class MinimalKernel {
    private MinimalKernel() {}

    /** mov al,0x34; mov dx,0x600; out dx,al; hlt; jmp $-1 — the ACPI S5 write. */
    public static final byte[] POWER_OFF = {(byte) 0xB0, 0x34, 0x66, (byte) 0xBA, 0x00, 0x06, (byte) 0xEE, (byte) 0xF4,
            (byte) 0xEB, (byte) 0xFD};

    /** mov al,0x01; mov dx,0x600; out dx,al; hlt — the ACPI reset write. */
    public static final byte[] RESET = {(byte) 0xB0, 0x01, 0x66, (byte) 0xBA, 0x00, 0x06, (byte) 0xEE, (byte) 0xF4,
            (byte) 0xEB, (byte) 0xFD};

    /** ud2 with an empty IDT: #UD, #GP, double fault, triple fault. */
    public static final byte[] TRIPLE_FAULT = {0x0F, 0x0B};

    /** Writes "ready\n" to COM1, then spins forever. */
    public static final byte[] PRINT_AND_SPIN = {
            0x66, (byte) 0xBA, (byte) 0xF8, 0x03,            // mov dx, 0x3f8
            (byte) 0xB0, 'r', (byte) 0xEE, (byte) 0xB0, 'e', (byte) 0xEE, (byte) 0xB0, 'a', (byte) 0xEE,
            (byte) 0xB0, 'd', (byte) 0xEE, (byte) 0xB0, 'y', (byte) 0xEE, (byte) 0xB0, '\n', (byte) 0xEE,
            (byte) 0xEB, (byte) 0xFE};                      // jmp $

    /**
     * cli; hlt; jmp $-1 — halts for good. With KVM's in-kernel irqchip the vCPU then sleeps inside
     * KVM_RUN and never exits to the VMM by itself: only a kick from the host gets it out.
     */
    public static final byte[] HALT = {(byte) 0xFA, (byte) 0xF4, (byte) 0xEB, (byte) 0xFD};

    public static Path write(Path dir, String name, byte[] entryCode) throws IOException {
        Files.write(dir.resolve(name), image(entryCode));
        return dir.resolve(name);
    }

    /** A valid 2.15 setup header with a 64-bit entry whose first bytes are {@code entryCode}. */
    public static byte[] image(byte[] entryCode) {
        int setupSects = 4;
        int setup = (setupSects + 1) * 512;
        byte[] img = new byte[setup + 0x1000];
        ByteBuffer b = ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN);
        b.put(SetupHeader.OFF_SETUP_SECTS, (byte) setupSects);
        b.putShort(SetupHeader.OFF_BOOT_FLAG, (short) SetupHeader.BOOT_FLAG);
        b.put(SetupHeader.OFF_JUMP, (byte) 0xEB);
        b.put(SetupHeader.OFF_JUMP + 1, (byte) (SetupHeader.OFF_INIT_SIZE + 4 + 8 - SetupHeader.OFF_HEADER));
        b.putInt(SetupHeader.OFF_HEADER, SetupHeader.MAGIC_HDRS);
        b.putShort(SetupHeader.OFF_VERSION, (short) 0x020f);
        b.put(SetupHeader.OFF_LOADFLAGS, (byte) SetupHeader.LOADED_HIGH);
        b.putInt(SetupHeader.OFF_INITRD_ADDR_MAX, 0x7fffffff);
        b.putInt(SetupHeader.OFF_KERNEL_ALIGNMENT, 0x200000);
        b.put(SetupHeader.OFF_RELOCATABLE, (byte) 1);
        b.putShort(SetupHeader.OFF_XLOADFLAGS, (short) SetupHeader.XLF_KERNEL_64);
        b.putInt(SetupHeader.OFF_CMDLINE_SIZE, 2047);
        b.putLong(SetupHeader.OFF_PREF_ADDRESS, 0x1000000);
        b.putInt(SetupHeader.OFF_INIT_SIZE, 0x10000);
        // The 64-bit entry point is 0x200 into the protected-mode part.
        System.arraycopy(entryCode, 0, img, setup + 0x200, entryCode.length);
        return img;
    }
}
