package dev.vessel.cli;

import dev.vessel.host.StateRoot;
import dev.vessel.host.Timing;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Supplier;

/** The `vessel` command. */
@Command(name = "vessel",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = "Micro-VMs on KVM, driven by a virtual machine monitor written in Java.",
        footer = {"", "Run 'vessel COMMAND --help' for more on a command."})
public final class Main {
    /**
     * The subcommands, registered lazily: building picocli's model of every command costs
     * hundreds of milliseconds under emulation, and one invocation needs only one of them.
     */
    private static final Map<String, Supplier<Object>> COMMANDS = new LinkedHashMap<>();

    static {
        COMMANDS.put("vm", VmCommand::new);
        COMMANDS.put("machine", MachineCommand::new);
        COMMANDS.put("kernel", KernelCommand::new);
        COMMANDS.put("images", ImagesCommand::new);
        COMMANDS.put("import", ImportCommand::new);
        COMMANDS.put("load", LoadCommand::new);
        COMMANDS.put("save", SaveCommand::new);
        COMMANDS.put("image", ImageCommand::new);
        COMMANDS.put("pull", PullCommand::new);
        COMMANDS.put("login", LoginCommands.Login::new);
        COMMANDS.put("logout", LoginCommands.Logout::new);
        COMMANDS.put("tag", TagCommand::new);
        COMMANDS.put("rmi", RmiCommand::new);
        COMMANDS.put("run", RunCommand::new);
        COMMANDS.put("start", ContainerCommands.Start::new);
        COMMANDS.put("stop", ContainerCommands.Stop::new);
        COMMANDS.put("restart", ContainerCommands.Restart::new);
        COMMANDS.put("kill", ContainerCommands.Kill::new);
        COMMANDS.put("attach", ContainerCommands.Attach::new);
        COMMANDS.put("exec", ExecCommand::new);
        COMMANDS.put("cp", CopyCommand::new);
        COMMANDS.put("wait", ContainerCommands.Wait::new);
        COMMANDS.put("rm", ContainerCommands.Rm::new);
        COMMANDS.put("rename", RenameCommand::new);
        COMMANDS.put("container", ContainerCommand::new);
        COMMANDS.put("ps", ContainerViewCommands.Ps::new);
        COMMANDS.put("port", ContainerViewCommands.Port::new);
        COMMANDS.put("top", ContainerViewCommands.Top::new);
        COMMANDS.put("stats", StatsCommand::new);
        COMMANDS.put("logs", ContainerViewCommands.Logs::new);
        COMMANDS.put("inspect", ContainerViewCommands.Inspect::new);
        COMMANDS.put("network", NetworkCommand::new);
        COMMANDS.put("events", EventsCommand::new);
        COMMANDS.put("system", SystemCommand::new);
        COMMANDS.put(dev.vessel.container.SupervisorLauncher.COMMAND, ContainerShimCommand::new);
    }

    @Option(names = "--root", paramLabel = "DIR", scope = CommandLine.ScopeType.INHERIT,
            description = "State directory (default: $VESSEL_ROOT, else /var/lib/vessel as root, else ~/.local/share/vessel).")
    Path root;

    StateRoot stateRoot() {
        return StateRoot.resolve(root);
    }

    public static void main(String[] args) {
        Timing.mark("main");
        System.exit(run(args));
    }

    public static int run(String... args) {
        CommandLine cl = new CommandLine(new Main());
        String wanted = firstCommand(args);
        boolean known = wanted != null && COMMANDS.containsKey(wanted);
        for (Map.Entry<String, Supplier<Object>> c : COMMANDS.entrySet()) {
            if (!known || c.getKey().equals(wanted)) {
                cl.addSubcommand(c.getKey(), c.getValue().get());
            }
        }
        cl.addSubcommand("help", new CommandLine.HelpCommand());
        // --console serial|virtio, --accel auto|kvm|machine: documented in lower case.
        cl.setCaseInsensitiveEnumValuesAllowed(true);
        // `run IMAGE CMD -x`, `exec C CMD -x`, `machine exec CMD -x`, `machine java MAIN -x`: everything after the first positional is the command's.
        for (String verb : new String[] {"run", "exec"}) {
            CommandLine sub = cl.getSubcommands().get(verb);
            if (sub != null) {
                sub.setStopAtPositional(true);
            }
        }
        CommandLine machine = cl.getSubcommands().get("machine");
        if (machine != null) {
            for (String verb : new String[] {"exec", "java"}) {
                CommandLine sub = machine.getSubcommands().get(verb);
                if (sub != null) {
                    sub.setStopAtPositional(true);
                }
            }
        }
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

    /** The first argument that is not an option of `vessel` itself. */
    static String firstCommand(String[] args) {
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            if (a.equals("--root")) {
                i++;
            } else if (!a.startsWith("-")) {
                return a;
            }
        }
        return null;
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"vessel " + (v != null ? v : "dev") + " (Java " + Runtime.version() + ")"};
        }
    }
}
