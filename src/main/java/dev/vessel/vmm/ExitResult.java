package dev.vessel.vmm;

import java.util.Objects;

/**
 * How a VM ended: the kind (with the CLI's exit status) and, in one line, what happened (for
 * example "vCPU 0 triple-faulted at rip 0xffffffff81000000").
 */
public record ExitResult(VmExit exit, String reason) {
    public ExitResult {
        Objects.requireNonNull(exit);
        reason = reason == null ? exit.description() : reason;
    }

    /** The process exit status `vessel vm run` gives for it. */
    public int status() {
        return exit.status();
    }

    /** Whether the guest powered itself off. */
    public boolean poweredOff() {
        return exit == VmExit.POWER_OFF;
    }
}
