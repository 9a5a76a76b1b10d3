package dev.vessel.kvm;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * A view of a vCPU's kvm_run page. Everything read from here was written by KVM on behalf
 * of the guest, so sizes and offsets are checked before use.
 */
public final class KvmRun {
    public static final int EXIT_UNKNOWN = 0;
    public static final int EXIT_EXCEPTION = 1;
    public static final int EXIT_IO = 2;
    public static final int EXIT_HYPERCALL = 3;
    public static final int EXIT_DEBUG = 4;
    public static final int EXIT_HLT = 5;
    public static final int EXIT_MMIO = 6;
    public static final int EXIT_IRQ_WINDOW_OPEN = 7;
    public static final int EXIT_SHUTDOWN = 8;
    public static final int EXIT_FAIL_ENTRY = 9;
    public static final int EXIT_INTR = 10;
    public static final int EXIT_INTERNAL_ERROR = 17;
    public static final int EXIT_SYSTEM_EVENT = 24;

    public static final int SYSTEM_EVENT_SHUTDOWN = 1;
    public static final int SYSTEM_EVENT_RESET = 2;
    public static final int SYSTEM_EVENT_CRASH = 3;

    public static final int IO_IN = 0;
    public static final int IO_OUT = 1;

    private static final long EXIT_REASON = 8;
    private static final long IMMEDIATE_EXIT = 1;
    private static final long U = KvmStructs.RUN_EXIT_DATA;
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;

    private final MemorySegment run;

    KvmRun(MemorySegment run) {
        this.run = run;
    }

    public int exitReason() {
        return run.get(ValueLayout.JAVA_INT, EXIT_REASON);
    }

    public void immediateExit(boolean on) {
        run.set(ValueLayout.JAVA_BYTE, IMMEDIATE_EXIT, (byte) (on ? 1 : 0));
    }

    // KVM_EXIT_IO
    public int ioDirection() {
        return run.get(ValueLayout.JAVA_BYTE, U);
    }

    public int ioSize() {
        return run.get(ValueLayout.JAVA_BYTE, U + 1);
    }

    public int ioPort() {
        return Short.toUnsignedInt(run.get(ValueLayout.JAVA_SHORT, U + 2));
    }

    public int ioCount() {
        return run.get(ValueLayout.JAVA_INT, U + 4);
    }

    /**
     * Element {@code index} of a port I/O exit's data ({@link #ioCount} elements of
     * {@link #ioSize} bytes, 1, 2 or 4), unsigned. KVM names where the data lies in the kvm_run
     * mapping; every access is bounds-checked against the mapping (IndexOutOfBoundsException),
     * and nothing is allocated: this runs on every port exit.
     */
    public long ioValue(long index) {
        int size = ioSize();
        return get(ioDataOffset() + index * size, size);
    }

    /** Sets element {@code index} of a port I/O exit's data (the value an IN instruction reads). */
    public void setIoValue(long index, long value) {
        int size = ioSize();
        set(ioDataOffset() + index * size, size, value);
    }

    private long ioDataOffset() {
        return run.get(ValueLayout.JAVA_LONG, U + 8);
    }

    // KVM_EXIT_MMIO
    public long mmioAddress() {
        return run.get(ValueLayout.JAVA_LONG, U);
    }

    /** The value an MMIO write stores ({@link #mmioLength} bytes: 1, 2, 4 or 8), unsigned. */
    public long mmioValue() {
        return get(U + 8, mmioLength());
    }

    /** Sets the value an MMIO read returns to the guest. */
    public void setMmioValue(long value) {
        set(U + 8, mmioLength(), value);
    }

    public int mmioLength() {
        return run.get(ValueLayout.JAVA_INT, U + 16);
    }

    public boolean mmioIsWrite() {
        return run.get(ValueLayout.JAVA_BYTE, U + 20) != 0;
    }

    // KVM_EXIT_SYSTEM_EVENT
    public int systemEventType() {
        return run.get(ValueLayout.JAVA_INT, U);
    }

    // KVM_EXIT_FAIL_ENTRY
    public long failEntryReason() {
        return run.get(ValueLayout.JAVA_LONG, U);
    }

    // KVM_EXIT_INTERNAL_ERROR
    public int internalSuberror() {
        return run.get(ValueLayout.JAVA_INT, U);
    }

    /** {@code size} bytes (1, 2, 4; anything else: 8) at {@code offset} in the mapping, zero-extended. */
    private long get(long offset, int size) {
        return switch (size) {
            case 1 -> Byte.toUnsignedLong(run.get(ValueLayout.JAVA_BYTE, offset));
            case 2 -> Short.toUnsignedLong(run.get(U16, offset));
            case 4 -> Integer.toUnsignedLong(run.get(U32, offset));
            default -> run.get(U64, offset);
        };
    }

    private void set(long offset, int size, long value) {
        switch (size) {
            case 1 -> run.set(ValueLayout.JAVA_BYTE, offset, (byte) value);
            case 2 -> run.set(U16, offset, (short) value);
            case 4 -> run.set(U32, offset, (int) value);
            default -> run.set(U64, offset, value);
        }
    }

    public long[] internalData() {
        int n = Math.min(Math.max(run.get(ValueLayout.JAVA_INT, U + 4), 0), 16);
        long[] data = new long[n];
        for (int i = 0; i < n; i++) {
            data[i] = run.get(ValueLayout.JAVA_LONG, U + 8 + 8L * i);
        }
        return data;
    }
}
