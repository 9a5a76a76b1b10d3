package dev.vessel.cli;

import dev.vessel.machine.MachineJava;
import dev.vessel.machine.MachineUnavailableException;
import dev.vessel.vmm.StdioConsole;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** `vessel machine java`: run a Java program that embeds Vessel inside the helper machine, where KVM is. */
@Command(name = "java", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Run a Java program that uses Vessel as a library inside the helper machine (starting it if needed), "
                + "with this terminal's stdio: its jars and Vessel's own jar are sent in and run on the machine's Java 25.",
                "The host's default kernel and agent initramfs go along (GuestImages finds them)."},
        footerHeading = "%nExit status:%n",
        footer = {"  the program's exit status; 125 when it cannot be run in the machine"})
final class MachineJavaCommand implements Callable<Integer> {
    @ParentCommand
    MachineCommand parent;

    @Option(names = {"-cp", "--class-path", "-classpath"}, paramLabel = "JARS",
            description = "The program's jars, separated by ':' (Vessel's jar is added).")
    String classPath;

    @Option(names = "-D", paramLabel = "NAME=VALUE", mapFallbackValue = "", description = "A system property for the program.")
    Map<String, String> properties = new LinkedHashMap<>();

    @Parameters(index = "0", paramLabel = "MAIN-CLASS", description = "The class whose main method runs.")
    String mainClass;

    @Parameters(index = "1..*", paramLabel = "ARGS", description = "The program's arguments.")
    List<String> args = new ArrayList<>();

    @Override
    public Integer call() throws Exception {
        List<Path> jars = new ArrayList<>();
        if (classPath != null) {
            for (String p : classPath.split(":")) {
                if (!p.isEmpty()) {
                    jars.add(Path.of(p));
                }
            }
        }
        List<String> props = new ArrayList<>();
        properties.forEach((k, v) -> props.add(k + "=" + v));
        try {
            return MachineJava.run(parent.main.stateRoot(), jars, props, mainClass, args, StdioConsole.interactive(),
                    System.err);
        } catch (MachineUnavailableException | java.nio.file.NoSuchFileException | IllegalArgumentException e) {
            throw new UserError(e.getMessage(), 125);
        }
    }
}
