package dev.vessel.vmm;

import dev.vessel.devices.Bus;
import dev.vessel.kvm.KvmRun;
import dev.vessel.kvm.Regs;
import dev.vessel.kvm.VcpuFd;
import dev.vessel.sys.ErrnoException;
import dev.vessel.sys.Libc;
import dev.vessel.sys.ThreadKick;

import java.lang.foreign.Arena;

/**
 * One vCPU thread: KVM_RUN, dispatch the exit to a bus, repeat until the VM stops. The host gets
 * it out of the guest with {@link #kick}: {@code immediate_exit} covers a thread about to enter
 * KVM_RUN, a signal one already inside (KVM_RUN then returns EINTR).
 */
final class Vcpu implements Runnable {
    private final VcpuFd fd;
    private final BusExitHandler buses;
    private final VirtualMachine vm;
    private final KvmRun run;
    private long exits;
    /** This thread's pthread handle while {@link #run} runs, else 0; guarded by {@code this}. */
    private long thread;

    Vcpu(VcpuFd fd, Bus pio, Bus mmio, VirtualMachine vm) {
        this.fd = fd;
        this.buses = new BusExitHandler(pio, mmio, fd.id());
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
                    // A kick: the loop's checks say what it wanted. A failure while a stop or pause
                    // is pending counts as one too (errno is read after the call: see Libc.ioctlRaw).
                    if (r == -Libc.EINTR || r == -Libc.EAGAIN || vm.exitRequested() || vm.pauseRequested()) {
                        run.immediateExit(false);
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
            case KvmRun.EXIT_IO -> buses.handleIo(run);
            case KvmRun.EXIT_MMIO -> buses.handleMmio(run);
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
