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

    /** The data bytes of a port I/O exit: {@code count * size} bytes inside the kvm_run page. */
    public MemorySegment ioData() {
        long offset = run.get(ValueLayout.JAVA_LONG, U + 8);
        long length = (long) ioSize() * Integer.toUnsignedLong(ioCount());
        // asSlice checks that KVM's offset and length stay inside the mapped page.
        return run.asSlice(offset, length);
    }

    // KVM_EXIT_MMIO
    public long mmioAddress() {
        return run.get(ValueLayout.JAVA_LONG, U);
    }

    public MemorySegment mmioData() {
        int len = mmioLength();
        return run.asSlice(U + 8, Math.min(Math.max(len, 0), 8));
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

    public long[] internalData() {
        int n = Math.min(Math.max(run.get(ValueLayout.JAVA_INT, U + 4), 0), 16);
        long[] data = new long[n];
        for (int i = 0; i < n; i++) {
            data[i] = run.get(ValueLayout.JAVA_LONG, U + 8 + 8L * i);
        }
        return data;
    }
}
