package dev.vessel.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** A kvm_regs buffer: the general-purpose registers of a vCPU. */
public final class Regs {
    /** The registers in kvm_regs order; each is 8 bytes at ordinal * 8. */
    public enum Reg { RAX, RBX, RCX, RDX, RSI, RDI, RSP, RBP, R8, R9, R10, R11, R12, R13, R14, R15, RIP, RFLAGS }

    final MemorySegment segment;

    public Regs(Arena arena) {
        this.segment = arena.allocate(KvmStructs.REGS);
    }

    public long get(Reg r) {
        return segment.get(ValueLayout.JAVA_LONG, r.ordinal() * 8L);
    }

    public Regs set(Reg r, long value) {
        segment.set(ValueLayout.JAVA_LONG, r.ordinal() * 8L, value);
        return this;
    }
}
