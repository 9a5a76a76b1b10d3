package dev.vessel.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.vessel.container.ContainerException;
import dev.vessel.container.ContainerService;
import dev.vessel.machine.MachineNetworkHost;
import dev.vessel.machine.VmLauncher;
import dev.vessel.network.CreateRequest;
import dev.vessel.network.Network;
import dev.vessel.network.NetworkException;
import dev.vessel.network.NetworkInspect;
import dev.vessel.network.NetworkService;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** `vessel network`: docker's bridge networks (containers join them in a later step). */
@Command(name = "network", mixinStandardHelpOptions = true,
        description = {"Manage networks: Linux bridges with NAT, where VMs run (this host, or the helper machine).",
                "The default network `bridge` (bridge vessel0) exists from first use and cannot be removed."},
        subcommands = {NetworkCommand.Create.class, NetworkCommand.Ls.class, NetworkCommand.Inspect.class,
                NetworkCommand.Rm.class, NetworkCommand.Prune.class, NetworkCommand.Connect.class,
                NetworkCommand.Disconnect.class},
        footer = {"", "Exit status: 0, 1 when the request fails (docker's message on stderr), 2 for a bad command line."})
final class NetworkCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(System.out);
        return 0;
    }

    /** The networks of the state root, realized where VMs run. */
    NetworkService service() throws IOException {
        return NetworkService.open(main.stateRoot(),
                MachineNetworkHost.forVms(main.stateRoot(), VmLauncher.Accel.auto(), System.err));
    }

    /** A change to a container's networks: docker's one line and status when it is refused. */
    interface ContainerChange {
        void apply(ContainerService service) throws IOException, ContainerException;
    }

    int onContainer(ContainerChange change) throws IOException {
        try {
            change.apply(ContainerSupport.service(main));
            return 0;
        } catch (ContainerException e) {
            System.err.println("Error response from daemon: " + e.getMessage());
            return e.status();
        }
    }

    /** Docker's one line for a failed request, and its status. */
    static int fail(PrintStream err, NetworkException e) {
        err.println("Error response from daemon: " + e.getMessage());
        return e.status();
    }

    /** {@code KEY=VALUE} pairs ({@code KEY} alone as {@code KEY=} when {@code bareKeys}). */
    static Map<String, String> pairs(List<String> given, String what, boolean bareKeys) throws UserError {
        Map<String, String> out = new LinkedHashMap<>();
        for (String s : given) {
            int eq = s.indexOf('=');
            if (eq == 0 || (eq < 0 && !bareKeys)) {
                throw new UserError("invalid " + what + " '" + s + "': expected KEY=VALUE");
            }
            out.put(eq < 0 ? s : s.substring(0, eq), eq < 0 ? "" : s.substring(eq + 1));
        }
        return out;
    }

    @Command(name = "create", mixinStandardHelpOptions = true, description = "Create a network.")
    static final class Create implements Callable<Integer> {
        @ParentCommand
        NetworkCommand parent;

        @Option(names = {"-d", "--driver"}, paramLabel = "DRIVER", description = "Driver to manage the network (bridge only).")
        String driver = Network.DRIVER;

        @Option(names = "--subnet", paramLabel = "CIDR",
                description = "Subnet in CIDR format (default: the first of 172.17-31.0.0/16, 192.168.N.0/20 that overlaps "
                        + "no other network and no route of the host where the bridge lives).")
        String subnet;

        @Option(names = "--gateway", paramLabel = "IP", description = "The bridge's address in the subnet (default: its first).")
        String gateway;

        @Option(names = "--label", paramLabel = "KEY=VALUE", description = "Set metadata on the network.")
        List<String> labels = new ArrayList<>();

        @Option(names = {"-o", "--opt"}, paramLabel = "KEY=VALUE",
                description = {"Driver option: com.docker.network.bridge.name=NAME (the bridge interface, 15 characters "
                        + "at most; an existing bridge of that name is used and never deleted), "
                        + "com.docker.network.bridge.enable_ip_masquerade=true|false."})
        List<String> options = new ArrayList<>();

        @Option(names = "--internal", description = "Restrict external access to the network (no NAT, no forwarding).")
        boolean internal;

        @Parameters(paramLabel = "NETWORK", description = "The network's name.")
        String name;

        @Override
        public Integer call() throws Exception {
            CreateRequest request = new CreateRequest(name, driver, subnet, gateway, pairs(labels, "label", true),
                    pairs(options, "driver option", false), internal);
            try {
                System.out.println(parent.service().create(request).id());
                return 0;
            } catch (NetworkException e) {
                return fail(System.err, e);
            }
        }
    }

    @Command(name = "ls", aliases = "list", mixinStandardHelpOptions = true, description = "List networks.")
    static final class Ls implements Callable<Integer> {
        @ParentCommand
        NetworkCommand parent;

        @Option(names = {"-q", "--quiet"}, description = "Only display network IDs.")
        boolean quiet;

        @Option(names = "--no-trunc", description = "Do not truncate the output.")
        boolean noTrunc;

        @Override
        public Integer call() throws Exception {
            List<Network> networks;
            try {
                networks = parent.service().list();
            } catch (NetworkException e) {
                return fail(System.err, e);
            }
            System.out.print(table(networks, quiet, noTrunc));
            return 0;
        }

        /** Docker's table ({@link Table}), or the ids alone. */
        static String table(List<Network> networks, boolean quiet, boolean noTrunc) {
            StringBuilder out = new StringBuilder();
            if (quiet) {
                for (Network n : networks) {
                    out.append(noTrunc ? n.id() : n.shortId()).append('\n');
                }
                return out.toString();
            }
            List<List<String>> rows = new ArrayList<>();
            rows.add(List.of("NETWORK ID", "NAME", "DRIVER", "SCOPE"));
            for (Network n : networks) {
                rows.add(List.of(noTrunc ? n.id() : n.shortId(), n.name(), n.driver(), "local"));
            }
            out.append(Table.format(rows));
            return out.toString();
        }
    }

    @Command(name = "inspect", mixinStandardHelpOptions = true, description = "Display detailed information on one or more networks.")
    static final class Inspect implements Callable<Integer> {
        @ParentCommand
        NetworkCommand parent;

        @Parameters(arity = "1..*", paramLabel = "NETWORK")
        List<String> networks;

        @Override
        public Integer call() throws Exception {
            NetworkService service = parent.service();
            ObjectMapper json = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);
            ArrayNode out = json.createArrayNode();
            int status = 0;
            for (String ref : networks) {
                try {
                    out.add(NetworkInspect.of(service.inspect(ref)));
                } catch (NetworkException e) {
                    status = fail(System.err, e);
                }
            }
            System.out.println(json.writeValueAsString(out));
            return status;
        }
    }

    @Command(name = "rm", aliases = "remove", mixinStandardHelpOptions = true, description = "Remove one or more networks.")
    static final class Rm implements Callable<Integer> {
        @ParentCommand
        NetworkCommand parent;

        @Option(names = {"-f", "--force"}, description = "Do not error if the network does not exist.")
        boolean force;

        @Parameters(arity = "1..*", paramLabel = "NETWORK")
        List<String> networks;

        @Override
        public Integer call() throws Exception {
            NetworkService service = parent.service();
            int status = 0;
            for (String ref : networks) {
                try {
                    service.remove(ref);
                    System.out.println(ref);
                } catch (NetworkException e) {
                    if (!(force && e.kind() == NetworkException.Kind.NOT_FOUND)) {
                        status = fail(System.err, e);
                    }
                }
            }
            return status;
        }
    }

    @Command(name = "connect", mixinStandardHelpOptions = true,
            description = {"Connect a container to a network.",
                    "The container must not be running: its VM gets the new card when it starts next."})
    static final class Connect implements Callable<Integer> {
        @ParentCommand
        NetworkCommand parent;

        @Option(names = "--alias", paramLabel = "ALIAS", description = "Add a network-scoped alias for the container.")
        List<String> aliases = new ArrayList<>();

        @Option(names = "--ip", paramLabel = "ADDRESS", description = "IPv4 address (on a network created with --subnet).")
        String ip;

        @Option(names = "--mac-address", paramLabel = "MAC", description = "The card's MAC address.")
        String mac;

        @Parameters(index = "0", paramLabel = "NETWORK")
        String network;

        @Parameters(index = "1", paramLabel = "CONTAINER")
        String container;

        @Override
        public Integer call() throws Exception {
            return parent.onContainer(s -> s.connect(container, network, aliases, ip, mac));
        }
    }

    @Command(name = "disconnect", mixinStandardHelpOptions = true,
            description = {"Disconnect a container from a network.", "The container must not be running."})
    static final class Disconnect implements Callable<Integer> {
        @ParentCommand
        NetworkCommand parent;

        @Option(names = {"-f", "--force"}, description = "Do not error if the container is not on the network, or it is gone.")
        boolean force;

        @Parameters(index = "0", paramLabel = "NETWORK")
        String network;

        @Parameters(index = "1", paramLabel = "CONTAINER")
        String container;

        @Override
        public Integer call() throws Exception {
            return parent.onContainer(s -> s.disconnect(container, network, force));
        }
    }

    @Command(name = "prune", mixinStandardHelpOptions = true, description = "Remove all unused networks.")
    static final class Prune implements Callable<Integer> {
        @ParentCommand
        NetworkCommand parent;

        @Option(names = {"-f", "--force"}, description = "Do not prompt for confirmation.")
        boolean force;

        @Override
        public Integer call() throws Exception {
            if (!force && !PruneSupport.confirm("WARNING! This will remove all custom networks not used by at least one container.")) {
                return 0;
            }
            NetworkService.PruneResult result;
            try {
                result = parent.service().prune();
            } catch (NetworkException e) {
                return fail(System.err, e);
            }
            if (!result.removed().isEmpty()) {
                System.out.println("Deleted Networks:");
                for (Network n : result.removed()) {
                    System.out.println(n.name());
                }
            }
            int status = 0;
            for (NetworkException e : result.failures()) {
                status = fail(System.err, e);
            }
            return status;
        }
    }
}
