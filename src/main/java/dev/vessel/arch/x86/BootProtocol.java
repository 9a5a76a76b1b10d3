package dev.vessel.arch.x86;

/** How the boot vCPU enters the kernel; decides the register state {@link CpuSetup} gives it. */
public enum BootProtocol {
    /** bzImage, 64-bit Linux boot protocol: long mode, identity paging, RSI = zero page. */
    LINUX_64,
    /** ELF vmlinux, PVH entry (Xen's HVM direct boot ABI): 32-bit protected mode, no paging, EBX = hvm_start_info. */
    PVH
}
