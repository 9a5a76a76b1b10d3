package dev.vessel.it;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Minimal bzImages whose 64-bit entry runs a few hand-assembled instructions: they exercise one
 * VM exit path each (power-off port, serial output, triple fault) in milliseconds, where a real
 * kernel needs seconds.
 */
final class TinyKernel {
    private TinyKernel() {}

    /** mov al,0x34; mov dx,0x600; out dx,al; hlt; jmp $-1 — the ACPI S5 write. */
    static final byte[] POWER_OFF = {(byte) 0xB0, 0x34, 0x66, (byte) 0xBA, 0x00, 0x06, (byte) 0xEE, (byte) 0xF4,
            (byte) 0xEB, (byte) 0xFD};

    /** mov al,0x01; mov dx,0x600; out dx,al; hlt — the ACPI reset write. */
    static final byte[] RESET = {(byte) 0xB0, 0x01, 0x66, (byte) 0xBA, 0x00, 0x06, (byte) 0xEE, (byte) 0xF4,
            (byte) 0xEB, (byte) 0xFD};

    /** ud2 with an empty IDT: #UD, #GP, double fault, triple fault. */
    static final byte[] TRIPLE_FAULT = {0x0F, 0x0B};

    /** Writes "ready\n" to COM1, then spins forever. */
    static final byte[] PRINT_AND_SPIN = {
            0x66, (byte) 0xBA, (byte) 0xF8, 0x03,            // mov dx, 0x3f8
            (byte) 0xB0, 'r', (byte) 0xEE, (byte) 0xB0, 'e', (byte) 0xEE, (byte) 0xB0, 'a', (byte) 0xEE,
            (byte) 0xB0, 'd', (byte) 0xEE, (byte) 0xB0, 'y', (byte) 0xEE, (byte) 0xB0, '\n', (byte) 0xEE,
            (byte) 0xEB, (byte) 0xFE};                      // jmp $

    static Path write(Path dir, String name, byte[] entryCode) throws IOException {
        int setupSects = 4;
        int setup = (setupSects + 1) * 512;
        byte[] img = new byte[setup + 0x1000];
        ByteBuffer b = ByteBuffer.wrap(img).order(ByteOrder.LITTLE_ENDIAN);
        b.put(0x1f1, (byte) setupSects);
        b.putShort(0x1fe, (short) 0xAA55);
        b.put(0x200, (byte) 0xEB);
        b.put(0x201, (byte) 0x6a);
        b.putInt(0x202, 0x53726448);
        b.putShort(0x206, (short) 0x020f);
        b.put(0x211, (byte) 1);
        b.putInt(0x22c, 0x7fffffff);
        b.putInt(0x230, 0x200000);
        b.put(0x234, (byte) 1);
        b.putShort(0x236, (short) 0x3);
        b.putInt(0x238, 2047);
        b.putLong(0x258, 0x1000000);
        b.putInt(0x260, 0x10000);
        // The 64-bit entry point is 0x200 into the protected-mode part.
        System.arraycopy(entryCode, 0, img, setup + 0x200, entryCode.length);
        Path p = dir.resolve(name);
        Files.write(p, img);
        return p;
    }
}
