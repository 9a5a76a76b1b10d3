package dev.vessel.cli;

import picocli.CommandLine.Command;

/** `vessel vm`: run raw micro-VMs (a kernel and an initrd). */
@Command(name = "vm", mixinStandardHelpOptions = true,
        description = "Run micro-VMs from a kernel and an initrd.",
        subcommands = {VmRunCommand.class, VmWarmUpCommand.class, VmStandbyCommand.class, VmBalloonCommand.class, VmStatsCommand.class,
                VmControlCommands.Pause.class, VmControlCommands.Resume.class, VmControlCommands.Stop.class,
                VmControlCommands.Inspect.class})
final class VmCommand {
    @picocli.CommandLine.ParentCommand
    Main main;
}
