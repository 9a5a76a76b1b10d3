package dev.vessel.vmm;

/**
 * How a VM ended, and the process exit status `vessel vm run` reports for it. The numbers are
 * part of the CLI's contract (README, "Exit status").
 */
public enum VmExit {
    POWER_OFF(0, "guest powered off"),
    VMM_ERROR(1, "VMM error"),
    REBOOT(3, "guest requested a reboot"),
    TRIPLE_FAULT(4, "guest triple-faulted (CPU shutdown)"),
    KVM_ERROR(5, "KVM could not run the guest"),
    GUEST_PANIC(6, "guest reported a crash"),
    INTERRUPTED(130, "stopped by the user"),
    /** {@link VirtualMachine#stop()}: the host ended the VM (a program, the control socket, SIGTERM). */
    STOPPED(143, "stopped by the host");

    private final int status;
    private final String description;

    VmExit(int status, String description) {
        this.status = status;
        this.description = description;
    }

    public int status() {
        return status;
    }

    public String description() {
        return description;
    }
}
