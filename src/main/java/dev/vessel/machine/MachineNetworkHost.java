package dev.vessel.machine;

import dev.vessel.host.StateRoot;
import dev.vessel.network.BridgeScript;
import dev.vessel.network.HostNetworkHost;
import dev.vessel.network.Ipv4Address;
import dev.vessel.network.Ipv4Subnet;
import dev.vessel.network.Network;
import dev.vessel.network.NetworkException;
import dev.vessel.network.NetworkHost;
import dev.vessel.network.Routes;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * Networks in the helper machine, where the VMs run on hosts without hardware virtualization:
 * {@link BridgeScript} runs there through the machine's agent (as root). A machine that is not
 * running has no bridges, so removing one does not start it.
 */
public final class MachineNetworkHost implements NetworkHost {
    /** The machine's own network (QEMU user-mode networking: the machine is .15, the host .2). */
    static final Ipv4Subnet MACHINE_NETWORK = Ipv4Subnet.parse("10.0.2.0/24");
    /**
     * Where the machine reaches the host: QEMU's user-mode network answers this address with the
     * host's loopback, so a container's traffic to it (masqueraded out of the machine) reaches a
     * server listening on the host's 127.0.0.1.
     */
    static final Ipv4Address HOST_FROM_MACHINE = Ipv4Address.parse("10.0.2.2");

    private final HelperMachine helper;
    private final PrintStream log;

    /** Networks in {@code helper}; its start-up progress, when a command starts it, goes to {@code log}. */
    public MachineNetworkHost(HelperMachine helper, PrintStream log) {
        this.helper = helper;
        this.log = log;
    }

    /**
     * Where the bridges of a state root's networks live: on this host when VMs run on its KVM
     * ({@code accel} KVM), else in its helper machine.
     */
    public static NetworkHost forVms(StateRoot root, VmLauncher.Accel accel, PrintStream log) throws IOException {
        return accel == VmLauncher.Accel.KVM ? new HostNetworkHost() : new MachineNetworkHost(HelperMachine.of(root), log);
    }

    @Override
    public void ensureBridge(Network network, String names) throws IOException, NetworkException {
        HelperMachine.Endpoint endpoint;
        try {
            endpoint = helper.ensureRunning(log);
        } catch (MachineUnavailableException e) {
            throw new NetworkException(NetworkException.Kind.FAILED, "cannot set up network " + network.name()
                    + ": " + e.getMessage(), e);
        }
        run(endpoint, BridgeScript.ensure(network), names, network, "set up");
    }

    /** Only in a running machine: one that is not running has no resolver to tell. */
    @Override
    public void updateNames(Network network, String names) throws IOException, NetworkException {
        var running = helper.running();
        if (running.isPresent()) {
            run(running.get(), BridgeScript.names(network), names, network, "update the resolver of");
        }
    }

    @Override
    public void removeBridge(Network network) throws IOException, NetworkException {
        var running = helper.running();
        if (running.isPresent()) {
            run(running.get(), BridgeScript.remove(network), "", network, "remove");
        }
    }

    /**
     * The machine's routes are its own network and a default route through the host, so a
     * container's traffic to any of the host's destinations goes on through the host: the
     * host's routes count as well. Neither needs the machine running.
     */
    @Override
    public List<Ipv4Subnet> routes() throws IOException {
        LinkedHashSet<Ipv4Subnet> all = new LinkedHashSet<>();
        all.add(MACHINE_NETWORK);
        all.addAll(Routes.ofThisHost());
        return new ArrayList<>(all);
    }

    private static void run(HelperMachine.Endpoint endpoint, List<String> argv, String stdin, Network n, String what)
            throws IOException, NetworkException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int status;
        try {
            status = MachineConnection.open(endpoint).run(argv,
                    new java.io.ByteArrayInputStream(stdin.getBytes(StandardCharsets.UTF_8)), out, out);
        } catch (MachineException e) {
            throw new NetworkException(NetworkException.Kind.FAILED, "cannot " + what + " the bridge " + n.bridge()
                    + " of network " + n.name() + " in the helper machine: " + e.getMessage(), e);
        }
        if (status != 0) {
            String msg = out.toString(StandardCharsets.UTF_8).strip();
            int nl = msg.lastIndexOf('\n');
            msg = nl >= 0 ? msg.substring(nl + 1) : msg;
            throw new NetworkException(NetworkException.Kind.FAILED, "cannot " + what + " the bridge " + n.bridge()
                    + " of network " + n.name() + " in the helper machine" + (msg.isEmpty() ? "" : ": " + msg));
        }
    }

    @Override
    public Ipv4Address hostGateway(Network network) {
        return HOST_FROM_MACHINE;
    }
}
