package dev.vessel.arch.x86;

import dev.vessel.kvm.CpuidEntry;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class CpuidConfigTest {
    static final List<CpuidEntry> HOST = List.of(
            new CpuidEntry(0x1, 0, 0, 0x00a20f12, 0x12340800, 0x7ed8320b, 0x178bfbff),
            new CpuidEntry(0xB, 0, 1, 1, 2, 0x100, 7),
            new CpuidEntry(0xB, 1, 1, 4, 16, 0x201, 7),
            new CpuidEntry(0xB, 2, 1, 0, 0, 2, 7),
            new CpuidEntry(0x40000000, 0, 0, 0x40000001, 0x4b4d564b, 0x564b4d56, 0x4d),
            new CpuidEntry(0x80000008, 0, 0, 0x3030, 0, 0x700f, 0));

    static CpuidEntry leaf(List<CpuidEntry> l, int fn, int idx) {
        return l.stream().filter(e -> e.function() == fn && e.index() == idx).findFirst().orElseThrow();
    }

    @Test
    void eachVcpuSeesItsApicIdAndTheHypervisorBit() {
        for (int id = 0; id < 3; id++) {
            List<CpuidEntry> c = CpuidConfig.forVcpu(HOST, id, 3);
            CpuidEntry l1 = leaf(c, 1, 0);
            assertEquals(id, l1.ebx() >>> 24);
            assertEquals(3, (l1.ebx() >>> 16) & 0xff);
            assertEquals(0x08, (l1.ebx() >>> 8) & 0xff, "CLFLUSH size kept");
            assertEquals(1, l1.ecx() >>> 31);
            assertEquals(1, (l1.edx() >>> 28) & 1, "HTT with more than one logical CPU");
            assertEquals(id, leaf(c, 0xB, 0).edx());
            assertEquals(id, leaf(c, 0xB, 1).edx());
        }
    }

    @Test
    void topologyIsNCoresOfOneThread() {
        List<CpuidEntry> c = CpuidConfig.forVcpu(HOST, 0, 4);
        assertEquals(0, leaf(c, 0xB, 0).eax());
        assertEquals(1, leaf(c, 0xB, 0).ebx());
        assertEquals(0x100, leaf(c, 0xB, 0).ecx());
        assertEquals(2, leaf(c, 0xB, 1).eax(), "two APIC id bits for four cores");
        assertEquals(4, leaf(c, 0xB, 1).ebx());
        assertEquals(0x201, leaf(c, 0xB, 1).ecx());
        assertEquals(0, leaf(c, 0xB, 2).ebx());
        assertEquals(3, leaf(c, 0x80000008, 0).ecx() & 0xff);
        assertEquals(2, (leaf(c, 0x80000008, 0).ecx() >>> 12) & 0xf);
    }

    @Test
    void singleVcpuHasNoHtt() {
        List<CpuidEntry> c = CpuidConfig.forVcpu(HOST, 0, 1);
        assertEquals(0, (leaf(c, 1, 0).edx() >>> 28) & 1);
        assertEquals(0, leaf(c, 0xB, 1).eax());
        assertEquals(0, leaf(c, 0x80000008, 0).ecx() & 0xff);
    }

    @Test
    void paravirtualLeavesPassThrough() {
        assertEquals(leaf(HOST, 0x40000000, 0), leaf(CpuidConfig.forVcpu(HOST, 1, 2), 0x40000000, 0));
    }

    @Test
    void nestedVirtualizationThePmuAndHostPowerManagementAreHidden() {
        List<CpuidEntry> host = List.of(
                new CpuidEntry(0x1, 0, 0, 0x00a20f12, 0x12340800, 0xFFFFFFFF, 0xFFFFFFFF),
                new CpuidEntry(0x6, 0, 0, 0x77, 2, 9, 0),
                new CpuidEntry(0xA, 0, 0, 0x07300805, 0, 0, 0x603),
                new CpuidEntry(0x80000001, 0, 0, 0x00a20f12, 0, 0xFFFFFFFF, 0x2fd3fbff),
                new CpuidEntry(0x8000000A, 0, 0, 1, 0x8000, 0, 0x1ebfbcff),
                new CpuidEntry(0x80000022, 0, 0, 7, 0x1046, 0, 0));
        List<CpuidEntry> guest = CpuidConfig.forVcpu(host, 0, 1);
        int ecx = leaf(guest, 0x1, 0).ecx();
        assertEquals(0, ecx & (1 << 5), "VMX");
        assertEquals(0, ecx & (1 << 6), "SMX");
        assertEquals(0, ecx & (1 << 15), "PDCM");
        assertEquals(0, ecx & (1 << 3), "MONITOR");
        assertEquals(1 << 31, ecx & (1 << 31), "the hypervisor bit stays");
        assertEquals(1 << 0, ecx & 1, "SSE3 and the rest stay");
        int edx = leaf(guest, 0x1, 0).edx();
        assertEquals(0, edx & ((1 << 21) | (1 << 22) | (1 << 29) | (1 << 31)), "DS, ACPI, TM, PBE");
        assertEquals(1 << 25, edx & (1 << 25), "SSE stays");
        int extEcx = leaf(guest, 0x80000001, 0).ecx();
        assertEquals(0, extEcx & (1 << 2), "SVM");
        assertEquals(0, extEcx & ((1 << 12) | (1 << 13) | (1 << 23) | (1 << 24) | (1 << 28)), "SKINIT, WDT, perf counters");
        assertEquals(1, extEcx & 1, "LAHF/SAHF stays");
        for (int fn : new int[] {0x6, 0xA, 0x8000000A, 0x80000022}) {
            CpuidEntry e = leaf(guest, fn, 0);
            assertEquals(List.of(0, 0, 0, 0), List.of(e.eax(), e.ebx(), e.ecx(), e.edx()), "leaf 0x" + Integer.toHexString(fn));
        }
    }

    @Test
    void rejectsImpossibleIds() {
        assertThrows(IllegalArgumentException.class, () -> CpuidConfig.forVcpu(HOST, 2, 2));
        assertThrows(IllegalArgumentException.class, () -> CpuidConfig.forVcpu(HOST, 0, 0));
    }
}
