package dev.vessel.kvm;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static java.lang.foreign.MemoryLayout.PathElement.groupElement;

/** A kvm_sregs buffer: segment, descriptor-table and control registers of a vCPU. */
public final class SpecialRegs {
    public enum SegmentReg { CS, DS, ES, FS, GS, SS, TR, LDT }

    public enum ControlReg {
        CR0("cr0"), CR2("cr2"), CR3("cr3"), CR4("cr4"), CR8("cr8"), EFER("efer"), APIC_BASE("apic_base");

        final long offset;

        ControlReg(String field) {
            this.offset = KvmStructs.SREGS.byteOffset(groupElement(field));
        }
    }

    private static final long GDT = KvmStructs.SREGS.byteOffset(groupElement("gdt"));
    private static final long IDT = KvmStructs.SREGS.byteOffset(groupElement("idt"));
    private static final long SEGMENT_SIZE = KvmStructs.SEGMENT.byteSize();

    final MemorySegment segment;

    public SpecialRegs(Arena arena) {
        this.segment = arena.allocate(KvmStructs.SREGS);
    }

    public Segment get(SegmentReg reg) {
        return Segment.readFrom(segment, reg.ordinal() * SEGMENT_SIZE);
    }

    public SpecialRegs set(SegmentReg reg, Segment value) {
        value.writeTo(segment, reg.ordinal() * SEGMENT_SIZE);
        return this;
    }

    public long get(ControlReg reg) {
        return segment.get(ValueLayout.JAVA_LONG, reg.offset);
    }

    public SpecialRegs set(ControlReg reg, long value) {
        segment.set(ValueLayout.JAVA_LONG, reg.offset, value);
        return this;
    }

    public SpecialRegs gdt(long base, int limit) {
        return table(GDT, base, limit);
    }

    public SpecialRegs idt(long base, int limit) {
        return table(IDT, base, limit);
    }

    /** The GDT register as {base, limit}. */
    public long[] gdt() {
        return table(GDT);
    }

    /** The IDT register as {base, limit}. */
    public long[] idt() {
        return table(IDT);
    }

    private long[] table(long offset) {
        return new long[] {segment.get(ValueLayout.JAVA_LONG, offset),
                Short.toUnsignedLong(segment.get(ValueLayout.JAVA_SHORT, offset + 8))};
    }

    private SpecialRegs table(long offset, long base, int limit) {
        segment.set(ValueLayout.JAVA_LONG, offset, base);
        segment.set(ValueLayout.JAVA_SHORT, offset + 8, (short) limit);
        return this;
    }

}
