package dev.vessel.network;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Networks on this host, where VMs run on this host's KVM: {@link BridgeScript} run here (as root:
 * bridges and nftables need CAP_NET_ADMIN), routes read from this host's kernel.
 */
public final class HostNetworkHost implements NetworkHost {
    @Override
    public void ensureBridge(Network network, String names) throws IOException, NetworkException {
        run(BridgeScript.ensure(network), names, network, "set up");
    }

    @Override
    public void updateNames(Network network, String names) throws IOException, NetworkException {
        run(BridgeScript.names(network), names, network, "update the resolver of");
    }

    @Override
    public void removeBridge(Network network) throws IOException, NetworkException {
        run(BridgeScript.remove(network), "", network, "remove");
    }

    @Override
    public List<Ipv4Subnet> routes() throws IOException {
        return Routes.ofThisHost();
    }

    private static void run(List<String> argv, String stdin, Network n, String what) throws IOException, NetworkException {
        Process p = new ProcessBuilder(argv).redirectErrorStream(true).start();
        try (var in = p.getOutputStream()) {
            in.write(stdin.getBytes(StandardCharsets.UTF_8));
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        int status;
        try {
            status = p.waitFor();
        } catch (InterruptedException e) {
            p.destroyForcibly();
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while setting up network " + n.name(), e);
        }
        if (status != 0) {
            throw failure(n, what, out);
        }
    }

    /** The script's failure as one line: what it was doing, and the tool's last words. */
    static NetworkException failure(Network n, String what, String output) {
        String msg = output.strip();
        int nl = msg.lastIndexOf('\n');
        msg = nl >= 0 ? msg.substring(nl + 1) : msg;
        return new NetworkException(NetworkException.Kind.FAILED, "cannot " + what + " the bridge " + n.bridge()
                + " of network " + n.name() + (msg.isEmpty() ? "" : ": " + msg));
    }

    @Override
    public Ipv4Address hostGateway(Network network) {
        return network.gateway();
    }
}
