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
    void rejectsImpossibleIds() {
        assertThrows(IllegalArgumentException.class, () -> CpuidConfig.forVcpu(HOST, 2, 2));
        assertThrows(IllegalArgumentException.class, () -> CpuidConfig.forVcpu(HOST, 0, 0));
    }
}
