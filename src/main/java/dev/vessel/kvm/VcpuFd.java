package dev.vessel.kvm;

import dev.vessel.sys.ErrnoException;
import dev.vessel.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Map;

/** A vCPU file descriptor and its shared kvm_run page. One thread runs it. */
public final class VcpuFd implements AutoCloseable {
    private final int id;
    private final int fd;
    private final MemorySegment run;

    VcpuFd(int id, int fd, MemorySegment run) {
        this.id = id;
        this.fd = fd;
        this.run = run;
    }

    public int id() {
        return id;
    }

    /** The kvm_run area shared with KVM; exit details are read from it after {@link #run()}. */
    public KvmRun kvmRun() {
        return new KvmRun(run);
    }

    /**
     * Enters the guest until the next exit. Returns 0 after an exit (read the reason from
     * {@link #kvmRun()}), or {@code -errno} (EINTR when a signal interrupted KVM_RUN).
     */
    public int run() {
        return Libc.ioctlRaw(fd, KvmIoctls.RUN, 0);
    }

    public void getRegs(Regs regs) throws ErrnoException {
        Libc.ioctl(fd, KvmIoctls.GET_REGS, regs.segment, "KVM_GET_REGS");
    }

    public void setRegs(Regs regs) throws ErrnoException {
        Libc.ioctl(fd, KvmIoctls.SET_REGS, regs.segment, "KVM_SET_REGS");
    }

    public void getSregs(SpecialRegs sregs) throws ErrnoException {
        Libc.ioctl(fd, KvmIoctls.GET_SREGS, sregs.segment, "KVM_GET_SREGS");
    }

    public void setSregs(SpecialRegs sregs) throws ErrnoException {
        Libc.ioctl(fd, KvmIoctls.SET_SREGS, sregs.segment, "KVM_SET_SREGS");
    }

    /** Sets the x87 control word and MXCSR to their reset values, the rest zero. */
    public void setFpu(int fcw, int mxcsr) throws ErrnoException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment f = arena.allocate(KvmStructs.FPU);
            f.set(ValueLayout.JAVA_SHORT, 128, (short) fcw);
            f.set(ValueLayout.JAVA_INT, KvmStructs.FPU.byteSize() - 8, mxcsr);
            Libc.ioctl(fd, KvmIoctls.SET_FPU, f, "KVM_SET_FPU");
        }
    }

    /** Writes model-specific registers; all of them or an exception naming how many KVM took. */
    public void setMsrs(Map<Integer, Long> msrs) throws KvmException {
        try (Arena arena = Arena.ofConfined()) {
            long entry = KvmStructs.MSR_ENTRY.byteSize();
            MemorySegment buf = arena.allocate(8 + msrs.size() * entry, 8);
            buf.set(ValueLayout.JAVA_INT, 0, msrs.size());
            long o = 8;
            for (Map.Entry<Integer, Long> e : msrs.entrySet()) {
                buf.set(ValueLayout.JAVA_INT, o, e.getKey());
                buf.set(ValueLayout.JAVA_LONG, o + 8, e.getValue());
                o += entry;
            }
            int set = Libc.ioctl(fd, KvmIoctls.SET_MSRS, buf, "KVM_SET_MSRS");
            if (set != msrs.size()) {
                int failed = buf.get(ValueLayout.JAVA_INT, 8 + set * entry);
                throw new KvmException("KVM accepted " + set + " of " + msrs.size()
                        + " MSRs; refused MSR 0x" + Integer.toHexString(failed));
            }
        } catch (ErrnoException e) {
            throw new KvmException("KVM_SET_MSRS failed: " + e.getMessage(), e);
        }
    }

    public void setCpuid(List<CpuidEntry> entries) throws KvmException {
        try (Arena arena = Arena.ofConfined()) {
            long size = KvmStructs.CPUID_ENTRY2.byteSize();
            MemorySegment buf = arena.allocate(8 + entries.size() * size, 8);
            buf.set(ValueLayout.JAVA_INT, 0, entries.size());
            long o = 8;
            for (CpuidEntry e : entries) {
                buf.set(ValueLayout.JAVA_INT, o, e.function());
                buf.set(ValueLayout.JAVA_INT, o + 4, e.index());
                buf.set(ValueLayout.JAVA_INT, o + 8, e.flags());
                buf.set(ValueLayout.JAVA_INT, o + 12, e.eax());
                buf.set(ValueLayout.JAVA_INT, o + 16, e.ebx());
                buf.set(ValueLayout.JAVA_INT, o + 20, e.ecx());
                buf.set(ValueLayout.JAVA_INT, o + 24, e.edx());
                o += size;
            }
            Libc.ioctl(fd, KvmIoctls.SET_CPUID2, buf, "KVM_SET_CPUID2");
        } catch (ErrnoException e) {
            throw new KvmException("KVM_SET_CPUID2 failed: " + e.getMessage(), e);
        }
    }

    /** Reads the local APIC register page (struct kvm_lapic_state, 1 KiB). */
    public void getLapic(MemorySegment page) throws ErrnoException {
        Libc.ioctl(fd, KvmIoctls.GET_LAPIC, page, "KVM_GET_LAPIC");
    }

    public void setLapic(MemorySegment page) throws ErrnoException {
        Libc.ioctl(fd, KvmIoctls.SET_LAPIC, page, "KVM_SET_LAPIC");
    }

    @Override
    public void close() {
        try {
            Libc.munmap(run.address(), run.byteSize());
            Libc.close(fd);
        } catch (ErrnoException ignored) {
            // The vCPU is being torn down with its VM.
        }
    }
}
