package dev.vessel.arch.x86;

import dev.vessel.kvm.Regs;
import dev.vessel.kvm.Segment;
import dev.vessel.kvm.SpecialRegs;
import dev.vessel.kvm.SpecialRegs.ControlReg;
import dev.vessel.kvm.SpecialRegs.SegmentReg;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PvhCpuTest {
    static final LinuxLoader.BootEntry ENTRY =
            new LinuxLoader.BootEntry(0x100_0850L, PvhLayout.START_INFO, 0, null, 0x0FF0_0000L, BootProtocol.PVH);

    @Test
    void entersThirtyTwoBitProtectedModeWithoutPaging() {
        try (Arena arena = Arena.ofConfined()) {
            SpecialRegs sregs = new SpecialRegs(arena);
            // Leftovers that must not survive: long mode, paging, PAE.
            sregs.set(ControlReg.CR0, 0x8000_0011L).set(ControlReg.CR3, 0x9000).set(ControlReg.CR4, 0x20)
                    .set(ControlReg.EFER, 0x500).set(ControlReg.APIC_BASE, 0xFEE0_0900L);
            Regs regs = new Regs(arena);
            regs.set(Regs.Reg.RSI, 0x7000).set(Regs.Reg.RSP, 0x8ff0);
            PvhCpu.apply(sregs, regs, ENTRY);

            assertEquals(CpuSetup.CR0_PE | CpuSetup.CR0_ET, sregs.get(ControlReg.CR0));
            assertEquals(0, sregs.get(ControlReg.CR0) & CpuSetup.CR0_PG);
            assertEquals(0, sregs.get(ControlReg.CR3));
            assertEquals(0, sregs.get(ControlReg.CR4));
            assertEquals(0, sregs.get(ControlReg.EFER));
            assertEquals(0xFEE0_0900L, sregs.get(ControlReg.APIC_BASE), "the vCPU's own APIC base stays");

            assertEquals(0x100_0850L, regs.get(Regs.Reg.RIP));
            assertEquals(PvhLayout.START_INFO, regs.get(Regs.Reg.RBX));
            assertEquals(2, regs.get(Regs.Reg.RFLAGS));
            assertEquals(0, regs.get(Regs.Reg.RSI));
            assertEquals(0, regs.get(Regs.Reg.RSP));
        }
    }

    @Test
    void segmentsAreFlatThirtyTwoBit() {
        try (Arena arena = Arena.ofConfined()) {
            SpecialRegs sregs = new SpecialRegs(arena);
            PvhCpu.apply(sregs, new Regs(arena), ENTRY);
            Segment cs = sregs.get(SegmentReg.CS);
            assertEquals(0x10, cs.selector());
            assertEquals(0, cs.base());
            assertEquals(0xFFFFFFFF, cs.limit());
            assertEquals(0xB, cs.type());
            assertTrue(cs.present() && cs.s() && cs.db() && cs.g());
            assertFalse(cs.l(), "not a 64-bit code segment");
            assertEquals(0, cs.dpl());
            for (SegmentReg r : new SegmentReg[] {SegmentReg.DS, SegmentReg.ES, SegmentReg.FS, SegmentReg.GS, SegmentReg.SS}) {
                Segment s = sregs.get(r);
                assertEquals(0x18, s.selector(), r.name());
                assertEquals(0, s.base(), r.name());
                assertEquals(0xFFFFFFFF, s.limit(), r.name());
                assertEquals(3, s.type(), r.name());
                assertTrue(s.present() && s.s() && s.db() && !s.unusable(), r.name());
            }
            Segment tr = sregs.get(SegmentReg.TR);
            assertEquals(0x20, tr.selector());
            assertEquals(0, tr.base());
            assertEquals(0x67, tr.limit());
            assertEquals(0xB, tr.type(), "busy 32-bit TSS");
            assertTrue(tr.present() && !tr.s() && !tr.unusable());
            Segment ldt = sregs.get(SegmentReg.LDT);
            assertEquals(2, ldt.type());
            assertTrue(ldt.present() && !ldt.s() && !ldt.unusable());
        }
    }

    @Test
    void descriptorTablesPointAtThePvhGdt() {
        try (Arena arena = Arena.ofConfined()) {
            SpecialRegs sregs = new SpecialRegs(arena);
            PvhCpu.apply(sregs, new Regs(arena), ENTRY);
            assertEquals(PvhLayout.GDT, sregs.gdt()[0]);
            assertEquals(PvhLayout.GDT_ENTRIES * 8 - 1, sregs.gdt()[1]);
            assertEquals(PvhLayout.IDT, sregs.idt()[0]);
            assertEquals(7, sregs.idt()[1]);
        }
    }

    @Test
    void gdtInMemoryMatchesTheLoadedSegments() {
        long[] gdt = PvhCpu.gdt();
        assertEquals(PvhLayout.GDT_ENTRIES, gdt.length);
        assertEquals(0x00CF9B000000FFFFL, gdt[PvhCpu.CODE_SELECTOR / 8]);
        assertEquals(0x00CF93000000FFFFL, gdt[PvhCpu.DATA_SELECTOR / 8]);
        assertEquals(0x00008B0000000067L, gdt[PvhCpu.TSS_SELECTOR / 8]);
        assertEquals(0, gdt[0]);
    }

    @Test
    void refusesABzImageEntry() {
        try (Arena arena = Arena.ofConfined()) {
            LinuxLoader.BootEntry bz = new LinuxLoader.BootEntry(0x100_0200L, BootLayout.ZERO_PAGE, BootLayout.PML4, null, 0);
            assertEquals(BootProtocol.LINUX_64, bz.protocol());
            assertThrows(IllegalArgumentException.class, () -> PvhCpu.apply(new SpecialRegs(arena), new Regs(arena), bz));
        }
    }
}
