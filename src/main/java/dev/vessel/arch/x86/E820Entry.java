package dev.vessel.arch.x86;

/** One entry of the BIOS e820 memory map handed to the kernel in boot_params. */
public record E820Entry(long address, long size, int type) {
    public static final int RAM = 1;
    public static final int RESERVED = 2;
    public static final int ACPI = 3;
}
