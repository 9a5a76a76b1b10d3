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

/**
 * The boot vCPU state of the PVH entry (Xen's docs/misc/pvh.pandoc): 32-bit protected mode
 * without paging, flat 4 GiB code and data segments, a 32-bit TSS in TR, CR4 = EFER = 0,
 * interrupts off, EBX = the physical address of hvm_start_info, EIP = the entry note's address.
 */
public final class PvhCpu {
    private PvhCpu() {}

    /** Flat 32-bit code: base 0, 4 GiB, D=1, execute/read, accessed. */
    public static final long CODE32 = Gdt.descriptor(0xC09B, 0, 0xFFFFF);
    /** Flat 32-bit data: base 0, 4 GiB, B=1, read/write, accessed. */
    public static final long DATA32 = Gdt.descriptor(0xC093, 0, 0xFFFFF);
    /** A busy 32-bit TSS, base 0, limit 0x67 (byte granular), as the PVH ABI specifies for TR. */
    public static final long TSS32 = Gdt.descriptor(0x008B, 0, 0x67);

    public static final int CODE_SELECTOR = Gdt.CODE_SELECTOR;
    public static final int DATA_SELECTOR = Gdt.DATA_SELECTOR;
    public static final int TSS_SELECTOR = Gdt.TSS_SELECTOR;

    /** An LDT KVM accepts (what it loads at vCPU reset): null selector, type 2 (LDT), present. */
    static final Segment LDT = new Segment(0, 0xFFFF, 0, 2, true, 0, false, false, false, false, false, false);

    static final long RFLAGS_RESERVED = 2;

    /** The GDT written to guest memory at {@link PvhLayout#GDT}, matching the loaded segment registers. */
    public static long[] gdt() {
        return new long[] {0, 0, CODE32, DATA32, TSS32};
    }

    /** Sets the boot vCPU's registers for {@code entry} (a {@link BootProtocol#PVH} entry). */
    public static void configureBootCpu(VcpuFd vcpu, LinuxLoader.BootEntry entry) throws KvmException {
        try (Arena arena = Arena.ofConfined()) {
            SpecialRegs sregs = new SpecialRegs(arena);
            vcpu.getSregs(sregs);
            Regs regs = new Regs(arena);
            apply(sregs, regs, entry);
            vcpu.setSregs(sregs);
            vcpu.setRegs(regs);
        } catch (ErrnoException e) {
            throw new KvmException("cannot set the boot vCPU's registers for the PVH entry: " + e.getMessage(), e);
        }
    }

    /**
     * Fills {@code sregs} (read from the vCPU first, so APIC base and the like stay) and
     * {@code regs} (all zero except what is set here) with the PVH entry state.
     */
    static void apply(SpecialRegs sregs, Regs regs, LinuxLoader.BootEntry entry) {
        if (entry.protocol() != BootProtocol.PVH) {
            throw new IllegalArgumentException("not a PVH boot entry: " + entry.protocol());
        }
        Segment code = Segment.fromDescriptor(CODE32, CODE_SELECTOR);
        Segment data = Segment.fromDescriptor(DATA32, DATA_SELECTOR);
        sregs.set(SegmentReg.CS, code);
        for (SegmentReg r : new SegmentReg[] {SegmentReg.DS, SegmentReg.ES, SegmentReg.FS, SegmentReg.GS, SegmentReg.SS}) {
            sregs.set(r, data);
        }
        sregs.set(SegmentReg.TR, Segment.fromDescriptor(TSS32, TSS_SELECTOR));
        sregs.set(SegmentReg.LDT, LDT);
        sregs.gdt(PvhLayout.GDT, PvhLayout.GDT_ENTRIES * 8 - 1);
        sregs.idt(PvhLayout.IDT, 7);
        sregs.set(ControlReg.CR0, CpuSetup.CR0_PE | CpuSetup.CR0_ET);
        sregs.set(ControlReg.CR2, 0);
        sregs.set(ControlReg.CR3, 0);
        sregs.set(ControlReg.CR4, 0);
        sregs.set(ControlReg.EFER, 0);

        for (Regs.Reg r : Regs.Reg.values()) {
            regs.set(r, 0);
        }
        regs.set(Regs.Reg.RFLAGS, RFLAGS_RESERVED)
                .set(Regs.Reg.RIP, entry.rip())
                .set(Regs.Reg.RBX, entry.zeroPage());
    }
}
