package dev.vessel.arch.x86;

import dev.vessel.kvm.KvmException;
import dev.vessel.kvm.Regs;
import dev.vessel.kvm.Segment;
import dev.vessel.kvm.SpecialRegs;
import dev.vessel.kvm.SpecialRegs.ControlReg;
import dev.vessel.kvm.SpecialRegs.SegmentReg;
import dev.vessel.kvm.VcpuFd;
import dev.vessel.sys.ErrnoException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.LinkedHashMap;
import java.util.Map;

/** Puts a vCPU into the state the 64-bit Linux boot protocol expects, or into wait-for-SIPI for APs. */
public final class CpuSetup {
    private CpuSetup() {}

    static final long CR0_PE = 1;
    static final long CR0_ET = 1 << 4;
    static final long CR0_PG = 1L << 31;
    static final long CR4_PAE = 1 << 5;
    static final long EFER_LME = 1 << 8;
    static final long EFER_LMA = 1 << 10;

    static final int MSR_IA32_TSC = 0x10;
    static final int MSR_IA32_SYSENTER_CS = 0x174;
    static final int MSR_IA32_SYSENTER_ESP = 0x175;
    static final int MSR_IA32_SYSENTER_EIP = 0x176;
    static final int MSR_IA32_MISC_ENABLE = 0x1a0;
    static final int MSR_MTRR_DEF_TYPE = 0x2ff;
    static final int MSR_STAR = 0xc0000081;
    static final int MSR_LSTAR = 0xc0000082;
    static final int MSR_CSTAR = 0xc0000083;
    static final int MSR_SYSCALL_MASK = 0xc0000084;
    static final int MSR_KERNEL_GS_BASE = 0xc0000102;

    static final long MISC_ENABLE_FAST_STRING = 1;
    /** MTRRs enabled, default memory type write-back: all RAM is cacheable. */
    static final long MTRR_ENABLE_WB = (1 << 11) | 6;

    /** Local APIC register offsets in kvm_lapic_state and the delivery modes for LINT0/LINT1. */
    static final int APIC_LVT0 = 0x350;
    static final int APIC_LVT1 = 0x360;
    static final int DELIVERY_MODE_MASK = 0x700;
    static final int DELIVERY_EXTINT = 0x700;
    static final int DELIVERY_NMI = 0x400;

    /** The boot vCPU: long mode, paging on, flat segments, RIP at the kernel's 64-bit entry (PVH: see {@link PvhCpu}). */
    public static void configureBootCpu(VcpuFd vcpu, LinuxLoader.BootEntry entry) throws KvmException {
        if (entry.protocol() == BootProtocol.PVH) {
            PvhCpu.configureBootCpu(vcpu, entry);
            return;
        }
        try (Arena arena = Arena.ofConfined()) {
            SpecialRegs sregs = new SpecialRegs(arena);
            vcpu.getSregs(sregs);
            Segment code = Segment.fromDescriptor(Gdt.CODE64, Gdt.CODE_SELECTOR);
            Segment data = Segment.fromDescriptor(Gdt.DATA, Gdt.DATA_SELECTOR);
            Segment tss = Segment.fromDescriptor(Gdt.TSS, Gdt.TSS_SELECTOR);
            sregs.set(SegmentReg.CS, code);
            for (SegmentReg r : new SegmentReg[] {SegmentReg.DS, SegmentReg.ES, SegmentReg.FS, SegmentReg.GS, SegmentReg.SS}) {
                sregs.set(r, data);
            }
            sregs.set(SegmentReg.TR, tss);
            sregs.gdt(BootLayout.GDT, Gdt.entries().length * 8 - 1);
            sregs.idt(BootLayout.IDT, 7);
            sregs.set(ControlReg.CR3, entry.cr3());
            sregs.set(ControlReg.CR4, CR4_PAE);
            sregs.set(ControlReg.CR0, CR0_PE | CR0_ET | CR0_PG);
            sregs.set(ControlReg.EFER, EFER_LME | EFER_LMA);
            vcpu.setSregs(sregs);

            Regs regs = new Regs(arena);
            regs.set(Regs.Reg.RFLAGS, 2)
                    .set(Regs.Reg.RIP, entry.rip())
                    .set(Regs.Reg.RSI, entry.zeroPage())
                    .set(Regs.Reg.RSP, BootLayout.BOOT_STACK)
                    .set(Regs.Reg.RBP, BootLayout.BOOT_STACK);
            vcpu.setRegs(regs);
        } catch (ErrnoException e) {
            throw new KvmException("cannot set the boot vCPU's registers: " + e.getMessage(), e);
        }
    }

    /** State every vCPU needs: FPU reset values, MSRs, and the local APIC's LINT0/LINT1 wiring. */
    public static void configureCommon(VcpuFd vcpu) throws KvmException {
        try {
            vcpu.setFpu(0x37f, 0x1f80);
            Map<Integer, Long> msrs = new LinkedHashMap<>();
            msrs.put(MSR_IA32_SYSENTER_CS, 0L);
            msrs.put(MSR_IA32_SYSENTER_ESP, 0L);
            msrs.put(MSR_IA32_SYSENTER_EIP, 0L);
            msrs.put(MSR_STAR, 0L);
            msrs.put(MSR_CSTAR, 0L);
            msrs.put(MSR_KERNEL_GS_BASE, 0L);
            msrs.put(MSR_SYSCALL_MASK, 0L);
            msrs.put(MSR_LSTAR, 0L);
            msrs.put(MSR_IA32_TSC, 0L);
            msrs.put(MSR_IA32_MISC_ENABLE, MISC_ENABLE_FAST_STRING);
            msrs.put(MSR_MTRR_DEF_TYPE, MTRR_ENABLE_WB);
            vcpu.setMsrs(msrs);
            configureLapic(vcpu);
        } catch (ErrnoException e) {
            throw new KvmException("cannot initialise vCPU " + vcpu.id() + ": " + e.getMessage(), e);
        }
    }

    /** LINT0 delivers the legacy PIC's ExtINT, LINT1 the NMI, as on a PC. */
    private static void configureLapic(VcpuFd vcpu) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment page = arena.allocate(1024);
            vcpu.getLapic(page);
            setDeliveryMode(page, APIC_LVT0, DELIVERY_EXTINT);
            setDeliveryMode(page, APIC_LVT1, DELIVERY_NMI);
            vcpu.setLapic(page);
        }
    }

    private static void setDeliveryMode(MemorySegment page, int register, int mode) {
        int value = page.get(ValueLayout.JAVA_INT, register);
        page.set(ValueLayout.JAVA_INT, register, (value & ~DELIVERY_MODE_MASK) | mode);
    }
}
