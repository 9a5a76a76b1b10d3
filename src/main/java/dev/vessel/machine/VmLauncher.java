package dev.vessel.machine;

import dev.vessel.arch.x86.BootImageException;
import dev.vessel.host.HostCapabilities;
import dev.vessel.host.StateRoot;
import dev.vessel.host.Timing;
import dev.vessel.kvm.KvmException;
import dev.vessel.sys.Seccomp;
import dev.vessel.vmm.ExitResult;
import dev.vessel.vmm.StdioConsole;
import dev.vessel.vmm.VirtualMachine;
import dev.vessel.vmm.VmConfig;
import dev.vessel.vmm.VmExit;
import dev.vessel.vmm.VmStats;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.PrintStream;

/**
 * Runs a VM to its end with its console on this process's stdio, where it can run: on this host's
 * KVM (in this process), or in the helper machine where the host has no hardware virtualization.
 * `vessel vm run`, the container supervisor and the standby VMM all start their VMs here.
 */
public final class VmLauncher {
    private VmLauncher() {}

    /** Where a VM runs. */
    public enum Accel {
        /** This host's KVM, in this process. */
        KVM,
        /** The helper machine's KVM, through {@link MachineVms}. */
        MACHINE;

        /** KVM where the CPU has VMX or SVM, else the helper machine. */
        public static Accel auto() {
            return HostCapabilities.hardwareVirtualization() ? KVM : MACHINE;
        }
    }

    /**
     * Runs {@code config} on {@code accel} and returns the exit status `vessel vm run` gives for
     * it. How a VM that did not power off ended goes to {@code log} in one line.
     *
     * @param interactive stdin and stdout are a terminal: raw, window size followed, Ctrl-A x stops the VM
     * @param sandbox whether the VMM process sandboxes itself once the VM is built (in the helper
     *     machine: the VMM there)
     */
    public static int run(StateRoot root, VmConfig config, Accel accel, boolean interactive, Sandbox sandbox,
                          PrintStream log)
            throws KvmException, BootImageException, IOException, MachineException, InterruptedException {
        if (accel == Accel.MACHINE) {
            return MachineVms.run(HelperMachine.of(root), config, interactive, sandbox, log);
        }
        return runHere(config, interactive, log, sandbox, vm -> { });
    }

    /** Whether the VMM process sandboxes itself once its VM is built. */
    public enum Sandbox {
        /** A seccomp filter on the whole process ({@link Seccomp}): no program runs from it any more. */
        ON,
        /** None (`vm run --no-seccomp`, for debugging). */
        OFF
    }

    /**
     * Runs {@code config} in this process on this host's KVM. With {@link Sandbox#ON}, once the VM
     * is built (its files and sockets open, before the guest runs) the process installs its seccomp
     * filter: this process is the VMM from then on and never starts a program again.
     * {@code started} sees the VM once it runs (tests).
     */
    public static int runHere(VmConfig config, boolean interactive, PrintStream log, Sandbox sandbox,
                              java.util.function.Consumer<VirtualMachine> started)
            throws KvmException, BootImageException, IOException, InterruptedException {
        try (VirtualMachine vm = VirtualMachine.create(config, new FileOutputStream(FileDescriptor.out))) {
            if (sandbox == Sandbox.ON) {
                Seccomp.install();
            }
            vm.start();
            started.accept(vm);
            Timing.mark("vm run: VM started");
            ExitResult exit;
            try (StdioConsole console = StdioConsole.attach(vm, interactive)) {
                exit = vm.awaitExit();
            }
            if (VmStats.enabled()) {
                VmStats.report(vm, log);
            }
            if (exit.exit() != VmExit.POWER_OFF) {
                log.println("\r\nvessel: " + exit.reason());
            }
            return exit.status();
        }
    }
}
