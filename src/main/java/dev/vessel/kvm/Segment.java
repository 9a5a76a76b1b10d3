package dev.vessel.kvm;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/** A segment register as KVM sees it (struct kvm_segment). */
public record Segment(long base, int limit, int selector, int type, boolean present, int dpl,
                      boolean db, boolean s, boolean l, boolean g, boolean avl, boolean unusable) {

    /**
     * Decodes a GDT descriptor into the form KVM wants: the hidden part of a segment
     * register that the CPU would have loaded from the descriptor.
     */
    public static Segment fromDescriptor(long descriptor, int selector) {
        long base = ((descriptor >>> 16) & 0xFFFFFFL) | (((descriptor >>> 56) & 0xFF) << 24);
        int limitRaw = (int) ((descriptor & 0xFFFF) | (((descriptor >>> 48) & 0xF) << 16));
        boolean g = ((descriptor >>> 55) & 1) != 0;
        int limit = g ? (limitRaw << 12) | 0xFFF : limitRaw;
        return new Segment(base, limit, selector,
                (int) ((descriptor >>> 40) & 0xF),
                ((descriptor >>> 47) & 1) != 0,
                (int) ((descriptor >>> 45) & 3),
                ((descriptor >>> 54) & 1) != 0,
                ((descriptor >>> 44) & 1) != 0,
                ((descriptor >>> 53) & 1) != 0,
                g,
                ((descriptor >>> 52) & 1) != 0,
                ((descriptor >>> 47) & 1) == 0);
    }

    void writeTo(MemorySegment s, long offset) {
        s.set(ValueLayout.JAVA_LONG, offset, base);
        s.set(ValueLayout.JAVA_INT, offset + 8, limit);
        s.set(ValueLayout.JAVA_SHORT, offset + 12, (short) selector);
        s.set(ValueLayout.JAVA_BYTE, offset + 14, (byte) type);
        s.set(ValueLayout.JAVA_BYTE, offset + 15, flag(present));
        s.set(ValueLayout.JAVA_BYTE, offset + 16, (byte) dpl);
        s.set(ValueLayout.JAVA_BYTE, offset + 17, flag(db));
        s.set(ValueLayout.JAVA_BYTE, offset + 18, flag(this.s));
        s.set(ValueLayout.JAVA_BYTE, offset + 19, flag(l));
        s.set(ValueLayout.JAVA_BYTE, offset + 20, flag(g));
        s.set(ValueLayout.JAVA_BYTE, offset + 21, flag(avl));
        s.set(ValueLayout.JAVA_BYTE, offset + 22, flag(unusable));
        s.set(ValueLayout.JAVA_BYTE, offset + 23, (byte) 0);
    }

    static Segment readFrom(MemorySegment s, long offset) {
        return new Segment(
                s.get(ValueLayout.JAVA_LONG, offset),
                s.get(ValueLayout.JAVA_INT, offset + 8),
                Short.toUnsignedInt(s.get(ValueLayout.JAVA_SHORT, offset + 12)),
                s.get(ValueLayout.JAVA_BYTE, offset + 14),
                s.get(ValueLayout.JAVA_BYTE, offset + 15) != 0,
                s.get(ValueLayout.JAVA_BYTE, offset + 16),
                s.get(ValueLayout.JAVA_BYTE, offset + 17) != 0,
                s.get(ValueLayout.JAVA_BYTE, offset + 18) != 0,
                s.get(ValueLayout.JAVA_BYTE, offset + 19) != 0,
                s.get(ValueLayout.JAVA_BYTE, offset + 20) != 0,
                s.get(ValueLayout.JAVA_BYTE, offset + 21) != 0,
                s.get(ValueLayout.JAVA_BYTE, offset + 22) != 0);
    }

    private static byte flag(boolean b) {
        return (byte) (b ? 1 : 0);
    }
}
