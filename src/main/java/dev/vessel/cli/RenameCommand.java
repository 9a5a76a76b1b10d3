package dev.vessel.cli;

import dev.vessel.container.ContainerException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.util.concurrent.Callable;

/** `vessel rename`: a container's new name, on its networks too, as `docker rename`. */
@Command(name = "rename", mixinStandardHelpOptions = true, description = "Rename a container.",
        footer = {"", "Exit status: 0, or 1 when it cannot be renamed (no such container, a name in use or invalid)."})
final class RenameCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Parameters(index = "0", paramLabel = "CONTAINER")
    String container;

    @Parameters(index = "1", paramLabel = "NEW_NAME")
    String newName;

    @Override
    public Integer call() throws Exception {
        if (container.isBlank() || newName.isBlank()) {
            System.err.println("Error: Neither old nor new names may be empty");
            return 1;
        }
        try {
            ContainerSupport.service(main).rename(container, newName);
        } catch (ContainerException e) {
            // docker's two lines: the daemon's answer, then the CLI's own.
            System.err.println("Error response from daemon: " + e.getMessage());
            System.err.println("Error: failed to rename container named " + container.strip());
            return 1;
        }
        return 0;
    }
}
