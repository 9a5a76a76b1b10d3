package dev.vessel.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vessel.container.ContainerException;
import dev.vessel.container.ContainerLog;
import dev.vessel.container.ContainerState;
import dev.vessel.container.ContainerStore;
import dev.vessel.container.ShimProtocol;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.FileSystems;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchService;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/** The docker verbs on existing containers: start, stop, restart, kill, attach, wait, rm, ps, logs, inspect. */
final class ContainerCommands {
    private ContainerCommands() {}

    /** Runs {@code action} for each named container; docker prints errors and goes on, status 1 if any failed. */
    interface PerContainer {
        void apply(ContainerStore store, ContainerStore.Container c, String as) throws Exception;
    }

    static int each(Main main, List<String> names, PerContainer action) throws Exception {
        ContainerStore store = ContainerSupport.store(main);
        int status = 0;
        for (String n : names) {
            try {
                action.apply(store, store.require(n), n);
            } catch (ContainerException e) {
                System.err.println("Error response from daemon: " + e.getMessage());
                status = 1;
            } catch (UserError e) {
                System.err.println("Error response from daemon: " + e.getMessage());
                status = 1;
            }
        }
        return status;
    }

    static void start(Main main, ContainerStore.Container c, boolean waitForAttach) throws Exception {
        ContainerState s = c.state().observed();
        if (s.isRunning()) {
            return;
        }
        ContainerSupport.startShim(main, c, waitForAttach, ContainerState.EXITED.equals(s.status()));
    }

    static int stop(ContainerStore.Container c, int seconds) throws IOException {
        if (!c.state().isRunning()) {
            return c.state().observed().exitCode();
        }
        try {
            return ShimProtocol.stop(c.shimSocket(), seconds);
        } catch (IOException e) {
            if (!c.state().isRunning()) {
                return c.state().observed().exitCode(); // it ended meanwhile
            }
            throw e;
        }
    }

    @Command(name = "start", mixinStandardHelpOptions = true, description = "Start one or more stopped containers.")
    static final class Start implements Callable<Integer> {
        @ParentCommand
        Main main;

        @Option(names = {"-a", "--attach"}, description = "Attach STDOUT/STDERR and forward signals.")
        boolean attach;

        @Option(names = {"-i", "--interactive"}, description = "Attach container's STDIN.")
        boolean interactive;

        @Option(names = "--detach-keys", paramLabel = "KEYS", description = "Key sequence for detaching a container.")
        String detachKeys = "ctrl-p,ctrl-q";

        @Parameters(arity = "1..*", paramLabel = "CONTAINER")
        List<String> containers;

        @Override
        public Integer call() throws Exception {
            if ((attach || interactive) && containers.size() > 1) {
                throw new UserError("you cannot start and attach multiple containers at once", 1);
            }
            if (attach || interactive) {
                ContainerStore.Container c = ContainerSupport.store(main).find(containers.getFirst())
                        .orElseThrow(() -> new UserError("No such container: " + containers.getFirst(), 1));
                start(main, c, true);
                return ContainerSupport.attach(c, interactive && c.config().openStdin(), c.config().tty(), detachKeys);
            }
            return each(main, containers, (store, c, as) -> {
                start(main, c, false);
                System.out.println(as);
            });
        }
    }

    @Command(name = "stop", mixinStandardHelpOptions = true, description = "Stop one or more running containers.")
    static final class Stop implements Callable<Integer> {
        @ParentCommand
        Main main;

        @Option(names = {"-t", "--time"}, paramLabel = "SECONDS", description = "Seconds to wait before killing the container (default 10).")
        int time = 10;

        @Parameters(arity = "1..*", paramLabel = "CONTAINER")
        List<String> containers;

        @Override
        public Integer call() throws Exception {
            return each(main, containers, (store, c, as) -> {
                stop(c, time);
                System.out.println(as);
            });
        }
    }

    @Command(name = "restart", mixinStandardHelpOptions = true, description = "Restart one or more containers.")
    static final class Restart implements Callable<Integer> {
        @ParentCommand
        Main main;

        @Option(names = {"-t", "--time"}, paramLabel = "SECONDS", description = "Seconds to wait before killing the container (default 10).")
        int time = 10;

        @Parameters(arity = "1..*", paramLabel = "CONTAINER")
        List<String> containers;

        @Override
        public Integer call() throws Exception {
            return each(main, containers, (store, c, as) -> {
                stop(c, time);
                start(main, c, false);
                System.out.println(as);
            });
        }
    }

    @Command(name = "kill", mixinStandardHelpOptions = true, description = "Kill one or more running containers.")
    static final class Kill implements Callable<Integer> {
        @ParentCommand
        Main main;

        @Option(names = {"-s", "--signal"}, paramLabel = "SIGNAL", description = "Signal to send (default KILL).")
        String signal = "KILL";

        @Parameters(arity = "1..*", paramLabel = "CONTAINER")
        List<String> containers;

        @Override
        public Integer call() throws Exception {
            int signo = SignalNames.parse(signal);
            return each(main, containers, (store, c, as) -> {
                if (!c.state().isRunning()) {
                    throw new UserError("Cannot kill container: " + as + ": container " + c.config().id() + " is not running", 1);
                }
                ShimProtocol.signal(c.shimSocket(), signo);
                System.out.println(as);
            });
        }
    }

    @Command(name = "attach", mixinStandardHelpOptions = true,
            description = "Attach local standard input, output, and error streams to a running container.")
    static final class Attach implements Callable<Integer> {
        @ParentCommand
        Main main;

        @Option(names = "--detach-keys", paramLabel = "KEYS", description = "Key sequence for detaching a container (default ctrl-p,ctrl-q).")
        String detachKeys = "ctrl-p,ctrl-q";

        @Option(names = "--no-stdin", description = "Do not attach STDIN.")
        boolean noStdin;

        @Parameters(index = "0", paramLabel = "CONTAINER")
        String container;

        @Override
        public Integer call() throws Exception {
            ContainerStore.Container c;
            try {
                c = ContainerSupport.store(main).require(container);
            } catch (ContainerException e) {
                throw ContainerSupport.error(e);
            }
            if (!c.state().isRunning()) {
                throw new UserError("You cannot attach to a stopped container, start it first", 1);
            }
            return ContainerSupport.attach(c, !noStdin && c.config().openStdin(), c.config().tty(), detachKeys);
        }
    }

    @Command(name = "wait", mixinStandardHelpOptions = true,
            description = "Block until one or more containers stop, then print their exit codes.")
    static final class Wait implements Callable<Integer> {
        @ParentCommand
        Main main;

        @Parameters(arity = "1..*", paramLabel = "CONTAINER")
        List<String> containers;

        @Override
        public Integer call() throws Exception {
            return each(main, containers, (store, c, as) -> {
                int code;
                if (c.state().isRunning()) {
                    try {
                        code = ShimProtocol.await(c.shimSocket());
                    } catch (IOException e) {
                        code = c.state().observed().exitCode();
                    }
                } else {
                    code = c.state().observed().exitCode();
                }
                System.out.println(code);
            });
        }
    }

    @Command(name = "rm", mixinStandardHelpOptions = true, description = "Remove one or more containers.")
    static final class Rm implements Callable<Integer> {
        @ParentCommand
        Main main;

        @Option(names = {"-f", "--force"}, description = "Force the removal of a running container (uses SIGKILL).")
        boolean force;

        @Parameters(arity = "1..*", paramLabel = "CONTAINER")
        List<String> containers;

        @Override
        public Integer call() throws Exception {
            return each(main, containers, (store, c, as) -> {
                if (c.state().isRunning()) {
                    if (!force) {
                        throw new UserError("You cannot remove a running container " + c.config().id()
                                + ". Stop the container before attempting removal or force remove", 1);
                    }
                    stop(c, 0);
                }
                store.remove(c);
                System.out.println(as);
            });
        }
    }

    @Command(name = "ps", mixinStandardHelpOptions = true, description = "List containers.")
    static final class Ps implements Callable<Integer> {
        @ParentCommand
        Main main;

        @Option(names = {"-a", "--all"}, description = "Show all containers (default shows just running).")
        boolean all;

        @Option(names = {"-q", "--quiet"}, description = "Only display container IDs.")
        boolean quiet;

        @Option(names = "--no-trunc", description = "Don't truncate output.")
        boolean noTrunc;

        @Override
        public Integer call() throws Exception {
            ContainerStore store = ContainerSupport.store(main);
            PrintStream out = System.out;
            String fmt = "%-15s %-15s %-24s %-16s %-26s %-7s %s%n";
            if (!quiet) {
                out.printf(fmt, "CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES");
            }
            for (ContainerStore.Container c : store.list()) {
                ContainerState s = c.state().observed();
                if (!all && !s.isRunning()) {
                    continue;
                }
                String id = noTrunc ? c.config().id() : c.config().shortId();
                if (quiet) {
                    out.println(id);
                    continue;
                }
                String cmd = String.join(" ", c.config().argv());
                if (!noTrunc && cmd.length() > 20) {
                    cmd = cmd.substring(0, 19) + "…";
                }
                out.printf(fmt, id, c.config().image(), "\"" + cmd + "\"",
                        ContainerSupport.human(ContainerSupport.since(c.config().created())) + " ago",
                        ContainerSupport.status(s), "", c.config().name());
            }
            return 0;
        }
    }

    @Command(name = "logs", mixinStandardHelpOptions = true, description = "Fetch the logs of a container.")
    static final class Logs implements Callable<Integer> {
        @ParentCommand
        Main main;

        @Option(names = {"-f", "--follow"}, description = "Follow log output.")
        boolean follow;

        @Option(names = {"-n", "--tail"}, paramLabel = "N", description = "Number of lines to show from the end of the logs (default all).")
        String tail = "all";

        @Option(names = {"-t", "--timestamps"}, description = "Show timestamps.")
        boolean timestamps;

        @Parameters(index = "0", paramLabel = "CONTAINER")
        String container;

        @Override
        public Integer call() throws Exception {
            ContainerStore.Container c;
            try {
                c = ContainerSupport.store(main).require(container);
            } catch (ContainerException e) {
                throw ContainerSupport.error(e);
            }
            int lines;
            try {
                lines = tail.equals("all") ? -1 : Integer.parseInt(tail);
            } catch (NumberFormatException e) {
                throw new UserError("invalid value for --tail: " + tail, 125);
            }
            ContainerLog.Chunk first = ContainerLog.readFrom(c.log(), 0);
            long offset = first.next();
            print(ContainerLog.tail(first.entries(), lines));
            if (!follow) {
                return 0;
            }
            // Follow: print what the supervisor appends until the container stops.
            try (WatchService w = FileSystems.getDefault().newWatchService()) {
                c.dir().register(w, StandardWatchEventKinds.ENTRY_MODIFY, StandardWatchEventKinds.ENTRY_CREATE);
                while (true) {
                    boolean running = c.state().isRunning();
                    // Only what was appended since the last read: a long log is not parsed again per wake-up.
                    ContainerLog.Chunk more = ContainerLog.readFrom(c.log(), offset);
                    print(more.entries());
                    offset = more.next();
                    if (!running) {
                        return 0;
                    }
                    var key = w.poll(1, TimeUnit.SECONDS); // a wake-up also when the supervisor died silently
                    if (key != null) {
                        key.pollEvents();
                        key.reset();
                    }
                }
            }
        }

        private void print(List<ContainerLog.Entry> entries) throws IOException {
            for (ContainerLog.Entry e : entries) {
                PrintStream ps = e.stream().equals("stderr") ? System.err : System.out;
                if (timestamps) {
                    ps.write((e.time().toString() + " ").getBytes(java.nio.charset.StandardCharsets.UTF_8));
                }
                ps.write(e.data());
                ps.flush();
            }
        }
    }

    @Command(name = "inspect", mixinStandardHelpOptions = true, description = "Return low-level information on containers.")
    static final class Inspect implements Callable<Integer> {
        @ParentCommand
        Main main;

        @Parameters(arity = "1..*", paramLabel = "CONTAINER")
        List<String> containers;

        @Override
        public Integer call() throws Exception {
            ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            ArrayNode out = json.createArrayNode();
            int status = each(main, containers, (store, c, as) -> out.add(inspect(json, c)));
            System.out.println(json.writeValueAsString(out));
            return status;
        }

        static ObjectNode inspect(ObjectMapper json, ContainerStore.Container c) throws IOException {
            var cfg = c.config();
            ContainerState s = c.state().observed();
            ObjectNode n = json.createObjectNode();
            n.put("Id", cfg.id());
            n.put("Created", cfg.created());
            n.put("Path", cfg.path());
            n.set("Args", json.valueToTree(cfg.args()));
            ObjectNode st = n.putObject("State");
            st.put("Status", s.status());
            st.put("Running", s.isRunning());
            st.put("Paused", false);
            st.put("Restarting", false);
            st.put("OOMKilled", false);
            st.put("Dead", false);
            st.put("Pid", s.isRunning() ? s.pid() : 0);
            st.put("ExitCode", s.exitCode());
            st.put("Error", s.error());
            st.put("StartedAt", s.startedAt().isEmpty() ? "0001-01-01T00:00:00Z" : s.startedAt());
            st.put("FinishedAt", s.finishedAt().isEmpty() ? "0001-01-01T00:00:00Z" : s.finishedAt());
            n.put("Image", cfg.imageId());
            n.put("LogPath", c.log().toString());
            n.put("Name", "/" + cfg.name());
            n.put("RestartCount", s.restartCount());
            n.put("Driver", "vessel-microvm");
            n.put("Platform", "linux");
            ObjectNode hc = n.putObject("HostConfig");
            hc.put("Memory", cfg.memoryBytes());
            hc.put("NanoCpus", cfg.cpus() * 1_000_000_000L);
            hc.put("AutoRemove", cfg.autoRemove());
            ObjectNode cc = n.putObject("Config");
            cc.put("Hostname", cfg.hostname());
            cc.put("User", cfg.user());
            cc.put("Tty", cfg.tty());
            cc.put("OpenStdin", cfg.openStdin());
            cc.set("Env", json.valueToTree(cfg.env()));
            cc.set("Cmd", json.valueToTree(cfg.argv()));
            cc.put("Image", cfg.image());
            cc.put("WorkingDir", cfg.workingDir());
            return n;
        }
    }

}
