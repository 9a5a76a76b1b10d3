package dev.vessel.cli;

import dev.vessel.container.ContainerException;
import dev.vessel.container.ContainerStore;
import dev.vessel.container.GuestAgent;
import dev.vessel.guest.agent.AgentClient;
import dev.vessel.guest.agent.AgentProtocol;
import dev.vessel.guest.agent.ExecRequest;
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
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
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
        ContainerStore.Container c;
        try {
            c = ContainerSupport.store(main).require(container);
        } catch (ContainerException e) {
            throw ContainerSupport.error(e);
        }
        if (!c.state().isRunning()) {
            throw new UserError("container " + c.config().id() + " is not running", 1);
        }
        Map<String, String> envs = new LinkedHashMap<>();
        for (String e : c.config().env()) {
            int eq = e.indexOf('=');
            if (eq > 0) {
                envs.put(e.substring(0, eq), e.substring(eq + 1));
            }
        }
        envs.putIfAbsent("PATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
        envs.putIfAbsent("HOSTNAME", c.config().hostname());
        for (String e : env) {
            int eq = e.indexOf('=');
            if (eq > 0) {
                envs.put(e.substring(0, eq), e.substring(eq + 1));
            } else if (System.getenv(e) != null) {
                envs.put(e, System.getenv(e));
            }
        }
        if (tty) {
            envs.putIfAbsent("TERM", System.getenv().getOrDefault("TERM", "xterm"));
        }
        String wd = workdir != null ? workdir : c.config().workingDir();
        ExecRequest request = ExecRequest.of(command).withEnv(envs).withCwd(wd.isEmpty() ? "/" : wd);
        String u = user != null ? user : c.config().user();
        if (!u.isEmpty()) {
            request = request.withUserSpec(u);
        }
        boolean terminal = tty && Terminal.isTerminal(0);
        if (tty) {
            int[] size = Terminal.windowSize(1);
            request = request.withTty(size != null ? size[0] : 24, size != null ? size[1] : 80);
        }
        Terminal raw = terminal ? Terminal.makeRaw(0) : null;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            if (raw != null) {
                raw.close();
            }
        }));
        try (AgentClient client = GuestAgent.connect(c.vsockSocket());
             ExecSession s = client.exec(request, interactive ? new FileInputStream(FileDescriptor.in) : null,
                     new FileOutputStream(FileDescriptor.out), new FileOutputStream(FileDescriptor.err))) {
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
        } catch (IOException e) {
            throw new UserError("cannot reach the container's agent: " + e.getMessage(), 125);
        } finally {
            if (raw != null) {
                raw.close();
            }
        }
    }
}
