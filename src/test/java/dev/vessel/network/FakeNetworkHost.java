package dev.vessel.network;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/** A host for networks' bridges that records what it is asked and touches nothing. */
public final class FakeNetworkHost implements NetworkHost {
    public final List<String> calls = Collections.synchronizedList(new ArrayList<>());
    public volatile List<Ipv4Subnet> routes = List.of();
    public volatile boolean failEnsure;

    @Override
    public void ensureBridge(Network n, String names) throws NetworkException {
        calls.add("ensure " + n.bridge() + " " + n.subnet() + (names.isEmpty() ? "" : " names " + names.strip().replace('\n', ';')));
        if (failEnsure) {
            throw new NetworkException(NetworkException.Kind.FAILED, "cannot set up the bridge " + n.bridge());
        }
    }

    @Override
    public void updateNames(Network n, String names) {
        calls.add("names " + n.bridge() + (names.isEmpty() ? "" : " " + names.strip().replace('\n', ';')));
    }

    @Override
    public void removeBridge(Network n) {
        calls.add("remove " + n.bridge());
    }

    @Override
    public List<Ipv4Subnet> routes() {
        return routes;
    }

    @Override
    public Ipv4Address hostGateway(Network n) {
        return n.gateway();
    }
}
