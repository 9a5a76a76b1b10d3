package dev.vessel.arch.x86;

import dev.vessel.memory.GuestMemory;
import dev.vessel.memory.MemoryRegion;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class PageTablesTest {
    /** Walks the tables like the MMU would, for a 2 MiB page mapping. */
    static long translate(GuestMemory m, long cr3, long va) throws Exception {
        long pml4e = m.readLong(cr3 + ((va >>> 39) & 511) * 8);
        assertEquals(3, pml4e & 3, "PML4E present+writable");
        long pdpte = m.readLong((pml4e & ~0xFFFL) + ((va >>> 30) & 511) * 8);
        assertEquals(3, pdpte & 3, "PDPTE present+writable");
        long pde = m.readLong((pdpte & ~0xFFFL) + ((va >>> 21) & 511) * 8);
        assertEquals(0x83, pde & 0x83, "PDE present+writable+2MiB");
        return (pde & ~0x1FFFFFL) | (va & 0x1FFFFF);
    }

    @Test
    void identityMapsTheFirstFourGiB() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            GuestMemory m = GuestMemory.of(List.of(new MemoryRegion(0, arena.allocate(1 << 20))));
            long cr3 = PageTables.write(m);
            assertEquals(BootLayout.PML4, cr3);
            for (long va : new long[] {0, 0x7000, 0x1000000, 0x1234567, 0xBFFFFFFFL, 0xFEE00000L, 0xFFFFFFFFL}) {
                assertEquals(va, translate(m, cr3, va), "va 0x" + Long.toHexString(va));
            }
            // Only the first PML4 and the first four PDPT entries are present.
            assertEquals(0, m.readLong(cr3 + 8));
            assertEquals(0, m.readLong(BootLayout.PDPT + 4 * 8));
        }
    }

    @Test
    void gdtHasTheBootProtocolSelectors() {
        long[] gdt = Gdt.entries();
        assertEquals(0x00AF9B000000FFFFL, gdt[Gdt.CODE_SELECTOR / 8]);
        assertEquals(0x00CF93000000FFFFL, gdt[Gdt.DATA_SELECTOR / 8]);
        assertEquals(0x008F8B000000FFFFL, gdt[Gdt.TSS_SELECTOR / 8]);
        var code = dev.vessel.kvm.Segment.fromDescriptor(Gdt.CODE64, Gdt.CODE_SELECTOR);
        assertEquals(true, code.l());
        assertEquals(false, code.db());
        assertEquals(0xFFFFFFFF, code.limit());
        assertEquals(0xB, code.type());
        var data = dev.vessel.kvm.Segment.fromDescriptor(Gdt.DATA, Gdt.DATA_SELECTOR);
        assertEquals(true, data.db());
        assertEquals(3, data.type());
    }
}
