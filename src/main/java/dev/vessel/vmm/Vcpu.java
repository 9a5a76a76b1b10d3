package dev.vessel.vmm;

import dev.vessel.devices.Bus;
import dev.vessel.kvm.KvmRun;
import dev.vessel.kvm.Regs;
import dev.vessel.kvm.VcpuFd;
import dev.vessel.sys.ErrnoException;
import dev.vessel.sys.Libc;
import dev.vessel.sys.ThreadKick;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One vCPU thread: KVM_RUN, dispatch the exit to a bus, repeat until the VM stops. The host gets
 * it out of the guest with {@link #kick}: {@code immediate_exit} covers a thread about to enter
 * KVM_RUN, a signal one already inside (KVM_RUN then returns EINTR).
 */
final class Vcpu implements Runnable {
    private static final ValueLayout.OfShort U16 = ValueLayout.JAVA_SHORT_UNALIGNED;
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED;
    private static final ValueLayout.OfLong U64 = ValueLayout.JAVA_LONG_UNALIGNED;

    /** VESSEL_TRACE_IO=1 logs every port access to stderr: for debugging guests, costly otherwise. */
    private static final boolean TRACE_IO = System.getenv("VESSEL_TRACE_IO") != null;

    private final VcpuFd fd;
    private final Bus pio;
    private final Bus mmio;
    private final VirtualMachine vm;
    private final KvmRun run;
    private long exits;
    /** This thread's pthread handle while {@link #run} runs, else 0; guarded by {@code this}. */
    private long thread;

    Vcpu(VcpuFd fd, Bus pio, Bus mmio, VirtualMachine vm) {
        this.fd = fd;
        this.pio = pio;
        this.mmio = mmio;
        this.vm = vm;
        this.run = fd.kvmRun();
    }

    @Override
    public void run() {
        synchronized (this) {
            thread = ThreadKick.self();
        }
        try {
            loop();
        } finally {
            // No kick may reach this thread once it is gone: its pthread handle dies with it.
            synchronized (this) {
                thread = 0;
            }
        }
    }

    /** Gets this vCPU out of the guest (or keeps it from entering) so it sees a stop or pause. */
    void kick() {
        run.immediateExit(true);
        synchronized (this) {
            if (thread != 0) {
                ThreadKick.kick(thread);
            }
        }
    }

    private void loop() {
        try {
            while (!vm.exitRequested()) {
                if (vm.pauseRequested()) {
                    vm.parkWhilePaused();
                    continue;
                }
                int r = fd.run();
                if (r < 0) {
                    if (r == -Libc.EINTR || r == -Libc.EAGAIN) {
                        run.immediateExit(false); // a kick: the loop's checks say what it wanted
                        continue;
                    }
                    vm.end(VmExit.KVM_ERROR, "KVM_RUN on vCPU " + fd.id() + " failed: " + Libc.strerror(-r));
                    return;
                }
                exits++;
                if (!handleExit(run)) {
                    return;
                }
            }
        } catch (RuntimeException | Error e) {
            vm.end(VmExit.VMM_ERROR, "vCPU " + fd.id() + " failed: " + e);
        }
    }

    /** Returns false when this exit ends the VM. */
    private boolean handleExit(KvmRun run) {
        switch (run.exitReason()) {
            case KvmRun.EXIT_IO -> handleIo(run);
            case KvmRun.EXIT_MMIO -> handleMmio(run);
            case KvmRun.EXIT_INTR -> {
                // A signal got us out of the guest; the loop re-checks whether to stop or pause.
                run.immediateExit(false);
            }
            case KvmRun.EXIT_HLT -> {
                vm.end(VmExit.POWER_OFF, "vCPU " + fd.id() + " halted with interrupts off");
                return false;
            }
            case KvmRun.EXIT_SHUTDOWN -> {
                vm.end(VmExit.TRIPLE_FAULT, "vCPU " + fd.id() + " triple-faulted at " + rip());
                return false;
            }
            case KvmRun.EXIT_SYSTEM_EVENT -> {
                switch (run.systemEventType()) {
                    case KvmRun.SYSTEM_EVENT_SHUTDOWN -> vm.end(VmExit.POWER_OFF, "guest powered off");
                    case KvmRun.SYSTEM_EVENT_RESET -> vm.end(VmExit.REBOOT, "guest reset");
                    case KvmRun.SYSTEM_EVENT_CRASH -> vm.end(VmExit.GUEST_PANIC, "guest crashed");
                    default -> vm.end(VmExit.KVM_ERROR, "unknown KVM system event " + run.systemEventType());
                }
                return false;
            }
            case KvmRun.EXIT_FAIL_ENTRY -> {
                vm.end(VmExit.KVM_ERROR, "KVM could not enter vCPU " + fd.id()
                        + " (hardware entry failure 0x" + Long.toHexString(run.failEntryReason()) + ")");
                return false;
            }
            case KvmRun.EXIT_INTERNAL_ERROR -> {
                int sub = run.internalSuberror();
                String what = sub == 1 ? "emulation failure" : "internal error " + sub;
                vm.end(VmExit.KVM_ERROR, "KVM " + what + " on vCPU " + fd.id() + " at " + rip());
                return false;
            }
            default -> {
                vm.end(VmExit.KVM_ERROR, "unexpected KVM exit reason " + run.exitReason() + " on vCPU " + fd.id());
                return false;
            }
        }
        return true;
    }

    private void handleIo(KvmRun run) {
        int size = run.ioSize();
        if (size != 1 && size != 2 && size != 4) {
            return;
        }
        MemorySegment data = run.ioData();
        int port = run.ioPort();
        long count = data.byteSize() / size;
        boolean out = run.ioDirection() == KvmRun.IO_OUT;
        for (long i = 0; i < count; i++) {
            long offset = i * size;
            if (out) {
                long v = get(data, offset, size);
                if (TRACE_IO) {
                    System.err.printf("vcpu%d out 0x%x/%d <- 0x%x%n", fd.id(), port, size, v);
                }
                pio.write(port, size, v);
            } else {
                long v = pio.read(port, size);
                if (TRACE_IO) {
                    System.err.printf("vcpu%d in 0x%x/%d -> 0x%x%n", fd.id(), port, size, v);
                }
                put(data, offset, size, v);
            }
        }
    }

    private void handleMmio(KvmRun run) {
        int len = run.mmioLength();
        if (len != 1 && len != 2 && len != 4 && len != 8) {
            return;
        }
        MemorySegment data = run.mmioData();
        if (run.mmioIsWrite()) {
            mmio.write(run.mmioAddress(), len, get(data, 0, len));
        } else {
            put(data, 0, len, mmio.read(run.mmioAddress(), len));
        }
    }

    private static long get(MemorySegment s, long offset, int size) {
        return switch (size) {
            case 1 -> Byte.toUnsignedLong(s.get(ValueLayout.JAVA_BYTE, offset));
            case 2 -> Short.toUnsignedLong(s.get(U16, offset));
            case 4 -> Integer.toUnsignedLong(s.get(U32, offset));
            default -> s.get(U64, offset);
        };
    }

    private static void put(MemorySegment s, long offset, int size, long value) {
        switch (size) {
            case 1 -> s.set(ValueLayout.JAVA_BYTE, offset, (byte) value);
            case 2 -> s.set(U16, offset, (short) value);
            case 4 -> s.set(U32, offset, (int) value);
            default -> s.set(U64, offset, value);
        }
    }

    private String rip() {
        try (Arena arena = Arena.ofConfined()) {
            Regs regs = new Regs(arena);
            fd.getRegs(regs);
            return "rip 0x" + Long.toHexString(regs.get(Regs.Reg.RIP));
        } catch (ErrnoException e) {
            return "an unknown rip";
        }
    }

    long exits() {
        return exits;
    }
}
