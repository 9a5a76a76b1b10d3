package dev.vessel.cli;

/** Runs Vessel commands inside the helper machine (hosts without hardware virtualization). */
final class MachineForwarding {
    private MachineForwarding() {}

    static int runVm(Main main, VmRunCommand run, long memoryBytes) throws UserError {
        throw new UserError("this host has no hardware virtualization and the helper machine is not available yet", 125);
    }
}
