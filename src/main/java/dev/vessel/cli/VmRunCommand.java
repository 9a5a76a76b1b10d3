package dev.vessel.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.ParentCommand;

import java.util.concurrent.Callable;

@Command(name = "run", mixinStandardHelpOptions = true, description = "Boot a micro-VM.")
final class VmRunCommand implements Callable<Integer> {
    @ParentCommand
    VmCommand parent;

    @Override
    public Integer call() {
        return 1;
    }
}
