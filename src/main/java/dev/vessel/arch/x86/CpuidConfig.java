package dev.vessel.arch.x86;

import dev.vessel.kvm.CpuidEntry;

import java.util.ArrayList;
import java.util.List;

/**
 * Turns KVM's supported CPUID into what one vCPU of an N-vCPU VM should see: its own APIC id,
 * a topology of N single-thread cores in one package, and the hypervisor bit so the guest
 * looks for KVM's paravirtual leaves (kvm-clock, PV EOI, ...).
 *
 * <p>Hidden, as Firecracker's CPU templates hide them: what would let a guest reach host code it
 * has no business with, and host details a micro-VM has no use for.
 * <ul>
 *   <li>Nested virtualization: VMX (leaf 1 ECX 5), SMX (TXT, ECX 6), SVM (leaf 0x80000001 ECX 2,
 *   with SKINIT and the watchdog timer, bits 12-13) and the SVM feature leaf 0x8000000A. With
 *   them a guest loads kvm-intel or kvm-amd and drives the host kernel's nested-virtualization
 *   code, a classic escape surface.</li>
 *   <li>The performance monitoring unit: leaf 0xA (architectural PMU), PDCM (leaf 1 ECX 15), AMD's
 *   core, northbridge and LLC counter extensions (0x80000001 ECX 23, 24, 28) and leaf 0x80000022
 *   (PerfMonV2). Counters leak the host's timing to the guest and widen KVM's emulated surface.</li>
 *   <li>Host power and thermal management: leaf 6 (thermal and power), MONITOR/MWAIT (leaf 1 ECX
 *   3), and the debug store, thermal monitor and enhanced SpeedStep bits (leaf 1 ECX 2, 4, 7, 8,
 *   14; EDX 21, 22, 29, 31): they describe the host's CPU, which a guest cannot manage.</li>
 * </ul>
 */
public final class CpuidConfig {
    private CpuidConfig() {}

    static final int LEAF_FEATURES = 0x1;
    static final int LEAF_POWER = 0x6;
    static final int LEAF_PMU = 0xA;
    static final int LEAF_SVM = 0x8000000A;
    static final int LEAF_AMD_PERFMON = 0x80000022;
    /** Leaf 1 ECX: DTES64, MONITOR, DS-CPL, VMX, SMX, EST, TM2, xTPR, PDCM. */
    static final int HIDDEN_ECX = (1 << 2) | (1 << 3) | (1 << 4) | (1 << 5) | (1 << 6) | (1 << 7) | (1 << 8)
            | (1 << 14) | (1 << 15);
    /** Leaf 1 EDX: DS, ACPI (thermal), TM, PBE. */
    static final int HIDDEN_EDX = (1 << 21) | (1 << 22) | (1 << 29) | (1 << 31);
    /** Leaf 0x80000001 ECX: SVM, SKINIT, WDT, PerfCtrExtCore, PerfCtrExtNB, PerfCtrExtLLC. */
    static final int HIDDEN_EXT_ECX = (1 << 2) | (1 << 12) | (1 << 13) | (1 << 23) | (1 << 24) | (1 << 28);
    static final int LEAF_CACHE = 0x4;
    static final int LEAF_TOPOLOGY = 0xB;
    static final int LEAF_TOPOLOGY_V2 = 0x1F;
    static final int LEAF_EXT_FEATURES = 0x80000001;
    static final int LEAF_ADDRESS_SIZES = 0x80000008;
    static final int LEAF_AMD_TOPOLOGY = 0x8000001E;

    static final int ECX_HYPERVISOR = 1 << 31;
    static final int EDX_HTT = 1 << 28;
    static final int EXT_ECX_CMP_LEGACY = 1 << 1;

    /** Level types of leaf 0xB/0x1F subleaves. */
    static final int LEVEL_SMT = 1;
    static final int LEVEL_CORE = 2;

    public static List<CpuidEntry> forVcpu(List<CpuidEntry> supported, int apicId, int vcpuCount) {
        if (vcpuCount < 1 || apicId < 0 || apicId >= vcpuCount || vcpuCount > 255) {
            throw new IllegalArgumentException("vCPU " + apicId + " of " + vcpuCount);
        }
        int coreBits = 32 - Integer.numberOfLeadingZeros(Math.max(vcpuCount - 1, 0));
        List<CpuidEntry> out = new ArrayList<>(supported.size());
        for (CpuidEntry e : supported) {
            out.add(switch (e.function()) {
                case LEAF_FEATURES -> e.withRegisters(e.eax(),
                        (e.ebx() & 0x0000FFFF) | (apicId << 24) | (Math.min(vcpuCount, 255) << 16),
                        (e.ecx() & ~HIDDEN_ECX) | ECX_HYPERVISOR,
                        (vcpuCount > 1 ? e.edx() | EDX_HTT : e.edx() & ~EDX_HTT) & ~HIDDEN_EDX);
                case LEAF_POWER, LEAF_PMU, LEAF_SVM, LEAF_AMD_PERFMON -> e.withRegisters(0, 0, 0, 0);
                case LEAF_CACHE -> e.eax() == 0 ? e
                        : e.withRegisters((e.eax() & 0x3FFF) | ((vcpuCount - 1) << 26), e.ebx(), e.ecx(), e.edx());
                case LEAF_TOPOLOGY, LEAF_TOPOLOGY_V2 -> topology(e, apicId, vcpuCount, coreBits);
                case LEAF_EXT_FEATURES -> e.withRegisters(e.eax(), e.ebx(),
                        (vcpuCount > 1 ? e.ecx() | EXT_ECX_CMP_LEGACY : e.ecx() & ~EXT_ECX_CMP_LEGACY) & ~HIDDEN_EXT_ECX,
                        e.edx());
                case LEAF_ADDRESS_SIZES -> e.withRegisters(e.eax(), e.ebx(),
                        (e.ecx() & ~0xF0FF) | (coreBits << 12) | (vcpuCount - 1), e.edx());
                case LEAF_AMD_TOPOLOGY -> e.withRegisters(apicId, apicId & 0xFF, 0, 0);
                default -> e;
            });
        }
        return out;
    }

    private static CpuidEntry topology(CpuidEntry e, int apicId, int vcpuCount, int coreBits) {
        return switch (e.index()) {
            // SMT level: one thread per core, so no APIC id bits for it.
            case 0 -> e.withRegisters(0, 1, (LEVEL_SMT << 8), apicId);
            case 1 -> e.withRegisters(coreBits, vcpuCount, (LEVEL_CORE << 8) | 1, apicId);
            default -> e.withRegisters(0, 0, e.index() & 0xFF, apicId);
        };
    }
}
