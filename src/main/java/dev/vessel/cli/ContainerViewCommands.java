package dev.vessel.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.vessel.container.ContainerDetails;
import dev.vessel.container.ContainerException;
import dev.vessel.container.ContainerInspect;
import dev.vessel.container.ContainerLog;
import dev.vessel.container.ContainerSummary;
import dev.vessel.container.HumanDuration;
import dev.vessel.container.LogReader;
import dev.vessel.network.ports.PortBinding;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** The docker verbs that show containers: ps, port, logs, inspect. */
final class ContainerViewCommands {
    private ContainerViewCommands() {}

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
            List<ContainerSummary> containers = ContainerSupport.service(main).list(all);
            if (quiet) {
                containers.forEach(c -> System.out.println(noTrunc ? c.id() : c.shortId()));
            } else {
                System.out.print(table(containers, noTrunc, Instant.now()));
            }
            return 0;
        }

        /** A command as docker's tables cut it: at most 20 characters, the last an ellipsis when cut. */
        static String ellipsis(String cmd) {
            return cmd.length() > 20 ? cmd.substring(0, 19) + "…" : cmd;
        }

        /** Docker's table of the containers, the header first. */
        static String table(List<ContainerSummary> containers, boolean noTrunc, Instant now) {
            List<List<String>> rows = new ArrayList<>();
            rows.add(List.of("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"));
            for (ContainerSummary c : containers) {
                String cmd = String.join(" ", c.command());
                if (!noTrunc) {
                    cmd = ellipsis(cmd);
                }
                String ports = c.state().isRunning()
                        ? String.join(", ", c.state().ports().stream().map(Object::toString).toList()) : "";
                rows.add(List.of(noTrunc ? c.id() : c.shortId(), c.image(), "\"" + cmd + "\"",
                        HumanDuration.of(HumanDuration.since(c.created(), now)) + " ago", c.status(), ports, c.name()));
            }
            return Table.format(rows);
        }
    }

    @Command(name = "top", mixinStandardHelpOptions = true, description = "Display the running processes of a container.")
    static final class Top implements Callable<Integer> {
        @ParentCommand
        Main main;

        @Parameters(index = "0", paramLabel = "CONTAINER")
        String container;

        @Parameters(index = "1", arity = "0..1", paramLabel = "ps OPTIONS", description = "Only -ef: its columns are shown.")
        String psArgs;

        @Override
        public Integer call() throws Exception {
            dev.vessel.container.ContainerProcesses.Top top;
            try {
                top = ContainerSupport.service(main).processes().top(container, psArgs);
            } catch (ContainerException e) {
                throw ContainerSupport.error(e);
            }
            List<List<String>> rows = new java.util.ArrayList<>();
            rows.add(top.titles());
            rows.addAll(top.processes());
            System.out.print(Table.format(rows));
            return 0;
        }
    }

    @Command(name = "port", mixinStandardHelpOptions = true,
            description = "List port mappings or a specific mapping for the container.")
    static final class Port implements Callable<Integer> {
        @ParentCommand
        Main main;

        @Parameters(index = "0", paramLabel = "CONTAINER")
        String container;

        @Parameters(index = "1", arity = "0..1", paramLabel = "PRIVATE_PORT[/PROTO]")
        String privatePort;

        @Override
        public Integer call() throws Exception {
            ContainerDetails d;
            try {
                d = ContainerSupport.service(main).inspect(container);
            } catch (ContainerException e) {
                throw ContainerSupport.error(e);
            }
            List<PortBinding> bound = d.running() ? d.state().ports() : List.of();
            if (privatePort == null) {
                bound.forEach(b -> System.out.println(b.containerKey() + " -> " + b.hostAddress() + ":" + b.hostPort()));
                return 0;
            }
            String key = privatePort.contains("/") ? privatePort : privatePort + "/" + PortBinding.TCP;
            List<PortBinding> matching = bound.stream().filter(b -> b.containerKey().equals(key)).toList();
            if (matching.isEmpty()) {
                throw new UserError("Error: No public port '" + key + "' published for " + container, 1);
            }
            matching.forEach(b -> System.out.println(b.hostAddress() + ":" + b.hostPort()));
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
            LogReader logs;
            try {
                logs = ContainerSupport.service(main).logs(container);
            } catch (ContainerException e) {
                throw ContainerSupport.error(e);
            }
            int lines;
            try {
                lines = tail.equals("all") ? -1 : Integer.parseInt(tail);
            } catch (NumberFormatException e) {
                throw new UserError("invalid value for --tail: " + tail, 125);
            }
            ContainerLog.Chunk first = logs.readAll(0);
            for (ContainerLog.Entry e : ContainerLog.tail(first.entries(), lines)) {
                print(e);
            }
            if (follow) {
                logs.follow(first.next(), this::print);
            }
            return 0;
        }

        private void print(ContainerLog.Entry e) throws IOException {
            PrintStream ps = e.stream().equals("stderr") ? System.err : System.out;
            if (timestamps) {
                ps.write((e.time().toString() + " ").getBytes(StandardCharsets.UTF_8));
            }
            ps.write(e.data());
            ps.flush();
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
            int status = ContainerCommands.each(main, containers, (service, ref) -> out.add(ContainerInspect.of(service.inspect(ref))));
            System.out.println(json.writeValueAsString(out));
            return status;
        }
    }
}
