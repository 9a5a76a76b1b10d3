package dev.vessel.cli;

import dev.vessel.host.StateRoot;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;

/** The `vessel` command. */
@Command(name = "vessel",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Micro-VMs on KVM, driven by a virtual machine monitor written in Java.",
        subcommands = {VmCommand.class, MachineCommand.class, KernelCommand.class, CommandLine.HelpCommand.class})
public final class Main {
    @Option(names = "--root", paramLabel = "DIR", scope = CommandLine.ScopeType.INHERIT,
            description = "State directory (default: $VESSEL_ROOT, else /var/lib/vessel as root, else ~/.local/share/vessel).")
    Path root;

    StateRoot stateRoot() {
        return StateRoot.resolve(root);
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler((ex, cmd, parseResult) -> {
            // Errors reach the user as one line; the stack trace is for VESSEL_DEBUG=1.
            if (System.getenv("VESSEL_DEBUG") != null) {
                ex.printStackTrace();
            }
            String msg = ex.getMessage() != null ? ex.getMessage() : ex.toString();
            cmd.getErr().println("vessel: " + msg);
            return ex instanceof UserError u ? u.status() : 1;
        });
        return cl.execute(args);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"vessel " + (v != null ? v : "dev") + " (Java " + Runtime.version() + ")"};
        }
    }
}
