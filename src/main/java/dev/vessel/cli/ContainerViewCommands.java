package dev.vessel.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vessel.container.ContainerDetails;
import dev.vessel.container.ContainerException;
import dev.vessel.container.ContainerLog;
import dev.vessel.container.ContainerSummary;
import dev.vessel.container.HumanDuration;
import dev.vessel.container.LogReader;
import dev.vessel.network.Endpoint;
import dev.vessel.network.Network;
import dev.vessel.network.ports.PortBinding;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
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
            PrintStream out = System.out;
            String fmt = "%-15s %-15s %-24s %-16s %-26s %-7s %s%n";
            if (!quiet) {
                out.printf(fmt, "CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES");
            }
            Instant now = Instant.now();
            for (ContainerSummary c : ContainerSupport.service(main).list(all)) {
                String id = noTrunc ? c.id() : c.shortId();
                if (quiet) {
                    out.println(id);
                    continue;
                }
                String cmd = String.join(" ", c.command());
                if (!noTrunc && cmd.length() > 20) {
                    cmd = cmd.substring(0, 19) + "…";
                }
                String ports = c.state().isRunning()
                        ? String.join(", ", c.state().ports().stream().map(Object::toString).toList()) : "";
                out.printf(fmt, id, c.image(), "\"" + cmd + "\"", HumanDuration.of(HumanDuration.since(c.created(), now)) + " ago",
                        c.status(), ports, c.name());
            }
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
            int status = ContainerCommands.each(main, containers, (service, ref) -> out.add(inspect(json, service.inspect(ref))));
            System.out.println(json.writeValueAsString(out));
            return status;
        }

        /** Docker's container JSON, field for field in docker's order. */
        static ObjectNode inspect(ObjectMapper json, ContainerDetails d) {
            var cfg = d.config();
            var s = d.state();
            ObjectNode n = json.createObjectNode();
            n.put("Id", cfg.id());
            n.put("Created", cfg.created());
            n.put("Path", cfg.path());
            n.set("Args", json.valueToTree(cfg.args()));
            ObjectNode st = n.putObject("State");
            st.put("Status", s.status());
            st.put("Running", d.running());
            st.put("Paused", false);
            st.put("Restarting", false);
            st.put("OOMKilled", false);
            st.put("Dead", false);
            st.put("Pid", d.pid());
            st.put("ExitCode", s.exitCode());
            st.put("Error", s.error());
            st.put("StartedAt", d.startedAt());
            st.put("FinishedAt", d.finishedAt());
            n.put("Image", cfg.imageId());
            n.put("LogPath", d.logPath().toString());
            n.put("Name", d.name());
            n.put("RestartCount", s.restartCount());
            n.put("Driver", ContainerDetails.DRIVER);
            n.put("Platform", "linux");
            ObjectNode hc = n.putObject("HostConfig");
            hc.put("Memory", cfg.memoryBytes());
            hc.put("NanoCpus", d.nanoCpus());
            hc.put("AutoRemove", cfg.autoRemove());
            ObjectNode lc = hc.putObject("LogConfig");
            lc.put("Type", "local");
            lc.set("Config", json.valueToTree(new java.util.TreeMap<>(cfg.logLimits().options())));
            var net = cfg.networking();
            hc.put("NetworkMode", net.mode());
            hc.set("PortBindings", ports(json, net.ports()));
            hc.set("Dns", json.valueToTree(net.dns()));
            hc.set("DnsOptions", json.valueToTree(net.dnsOptions()));
            hc.set("DnsSearch", json.valueToTree(net.dnsSearch()));
            hc.set("ExtraHosts", json.valueToTree(net.extraHosts()));
            ObjectNode cc = n.putObject("Config");
            cc.put("Hostname", cfg.hostname());
            cc.put("User", cfg.user());
            cc.put("Tty", cfg.tty());
            cc.put("OpenStdin", cfg.openStdin());
            cc.set("Env", json.valueToTree(cfg.env()));
            cc.set("Cmd", json.valueToTree(cfg.argv()));
            cc.put("Image", cfg.image());
            cc.put("WorkingDir", cfg.workingDir());
            ObjectNode ns = n.putObject("NetworkSettings");
            ns.set("Ports", ports(json, d.running() ? s.ports() : List.of()));
            // Docker fills the top-level address fields from the default network only.
            Network bridge = d.networks().stream().filter(Network::isDefault).findFirst().orElse(null);
            Endpoint be = bridge == null ? null : bridge.endpoints().get(cfg.id());
            ns.put("Gateway", be == null ? "" : bridge.gateway().toString());
            ns.put("IPAddress", be == null ? "" : be.address().toString());
            ns.put("IPPrefixLen", be == null ? 0 : bridge.subnet().prefix());
            ns.put("MacAddress", be == null ? "" : be.macAddress());
            ObjectNode nets = ns.putObject("Networks");
            for (Network nw : d.networks()) {
                Endpoint e = nw.endpoints().get(cfg.id());
                if (e == null) {
                    continue;
                }
                ObjectNode o = nets.putObject(nw.name());
                o.set("Aliases", nw.isDefault() ? null : json.valueToTree(e.aliases()));
                o.put("MacAddress", e.macAddress());
                o.put("NetworkID", nw.id());
                o.put("EndpointID", e.id());
                o.put("Gateway", nw.gateway().toString());
                o.put("IPAddress", e.address().toString());
                o.put("IPPrefixLen", nw.subnet().prefix());
                o.set("DNSNames", nw.isDefault() ? null
                        : json.valueToTree(java.util.stream.Stream.concat(java.util.stream.Stream.of(cfg.name()),
                                java.util.stream.Stream.concat(e.aliases().stream(), java.util.stream.Stream.of(cfg.shortId())))
                                .toList()));
            }
            return n;
        }

        /** Docker's port map: {@code {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}]}}. */
        static ObjectNode ports(ObjectMapper json, List<PortBinding> bindings) {
            ObjectNode out = json.createObjectNode();
            for (PortBinding b : bindings) {
                com.fasterxml.jackson.databind.node.ArrayNode list = out.has(b.containerKey())
                        ? (com.fasterxml.jackson.databind.node.ArrayNode) out.get(b.containerKey())
                        : out.putArray(b.containerKey());
                ObjectNode o = list.addObject();
                o.put("HostIp", b.hostIp());
                o.put("HostPort", b.hostPort() == 0 ? "" : Integer.toString(b.hostPort()));
            }
            return out;
        }
    }
}
