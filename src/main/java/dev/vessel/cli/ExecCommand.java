package dev.vessel.cli;

import dev.vessel.container.ContainerException;
import dev.vessel.container.ExecOptions;
import dev.vessel.guest.agent.AgentProtocol;
import dev.vessel.guest.agent.ExecSession;
import dev.vessel.guest.agent.SessionSignals;
import dev.vessel.sys.Terminal;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** `vessel exec`: run another process in a running container, through its guest agent. */
@Command(name = "exec", mixinStandardHelpOptions = true, sortOptions = false,
        description = "Execute a command in a running container.",
        footerHeading = "%nExit status:%n",
        footer = {"  the command's exit status; 125 Vessel's own error; 126 cannot be run; 127 not found"})
final class ExecCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Option(names = {"-i", "--interactive"}, description = "Keep STDIN open even if not attached.")
    boolean interactive;

    @Option(names = {"-t", "--tty"}, description = "Allocate a pseudo-TTY.")
    boolean tty;

    @Option(names = {"-e", "--env"}, paramLabel = "NAME=VALUE", description = "Set environment variables.")
    List<String> env = new ArrayList<>();

    @Option(names = {"-w", "--workdir"}, paramLabel = "DIR", description = "Working directory inside the container.")
    String workdir;

    @Option(names = {"-u", "--user"}, paramLabel = "USER[:GROUP]", description = "Username or UID (format: <name|uid>[:<group|gid>]).")
    String user;

    @Parameters(index = "0", paramLabel = "CONTAINER")
    String container;

    @Parameters(index = "1..*", arity = "1..*", paramLabel = "COMMAND")
    List<String> command;

    @Override
    public Integer call() throws Exception {
        // -e NAME takes this process's value (dropped when it has none), as docker's CLI does.
        List<String> envs = new ArrayList<>();
        for (String e : env) {
            if (e.indexOf('=') > 0) {
                envs.add(e);
            } else if (System.getenv(e) != null) {
                envs.add(e + "=" + System.getenv(e));
            }
        }
        int[] size = tty ? Terminal.windowSize(1) : null;
        ExecOptions options = new ExecOptions(command, envs, workdir, user, tty, size != null ? size[0] : 0,
                size != null ? size[1] : 0, System.getenv().getOrDefault("TERM", "xterm"));
        Terminal raw = tty && Terminal.isTerminal(0) ? Terminal.makeRaw(0) : null;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (raw != null) {
                raw.close();
            }
        }));
        try {
            ExecSession session = start(options);
            try (session) {
                return run(session);
            } catch (IOException e) {
                throw new UserError("cannot reach the container's agent: " + e.getMessage(), 125);
            }
        } finally {
            if (raw != null) {
                raw.close();
            }
        }
    }

    /** Waits for the process with signals forwarded; its status, or docker's 126/127 when it could not be run. */
    private int run(ExecSession s) throws IOException, InterruptedException {
        if (!interactive) {
            s.closeStdin();
        }
        SessionSignals.forward(s, tty);
        int status = s.waitFor();
        if (s.failure().isPresent()) {
            var f = s.failure().get();
            System.err.println("OCI runtime exec failed: " + f.message());
            return f.errno() == AgentProtocol.ENOENT ? 127 : 126;
        }
        return status;
    }

    private ExecSession start(ExecOptions options) throws IOException, UserError {
        try {
            return ContainerSupport.service(main).exec(container, options,
                    interactive ? new FileInputStream(FileDescriptor.in) : null,
                    new FileOutputStream(FileDescriptor.out), new FileOutputStream(FileDescriptor.err));
        } catch (ContainerException e) {
            throw ContainerSupport.error(e);
        }
    }
}
