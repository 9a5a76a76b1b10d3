package dev.vessel.cli;

import picocli.CommandLine.Command;

/** `vessel machine`: the helper machine for hosts without hardware virtualization. */
@Command(name = "machine", mixinStandardHelpOptions = true,
        description = "Manage the helper machine that runs VMs where the CPU lacks hardware virtualization.")
final class MachineCommand {
}
