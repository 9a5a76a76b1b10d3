package dev.vessel.network;

import dev.vessel.events.EventJournal;
import dev.vessel.host.StateRoot;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Docker's network API over the {@linkplain NetworkStore store} and the {@linkplain NetworkHost
 * host} where the bridges live: a network is recorded and then realized, and a failure to realize
 * it takes the record back, so nothing is left half-made. Changes on the host are serialized
 * between Vessel's processes (a lock in the store's folder), so that one network's removal never
 * races another's creation over the shared nftables table.
 */
public final class NetworkService {
    private static final System.Logger LOG = System.getLogger(NetworkService.class.getName());

    private final NetworkStore store;
    private final NetworkHost host;
    private final EventJournal events;

    /** A service that records no events (a store outside a state root). */
    public NetworkService(NetworkStore store, NetworkHost host) {
        this(store, host, EventJournal.discard());
    }

    /** @param events where {@code create} and {@code destroy} are recorded */
    public NetworkService(NetworkStore store, NetworkHost host, EventJournal events) {
        this.store = store;
        this.host = host;
        this.events = events;
    }

    public static NetworkService open(StateRoot root, NetworkHost host) throws IOException {
        return new NetworkService(NetworkStore.open(root), host, EventJournal.open(root));
    }

    public NetworkStore store() {
        return store;
    }

    /** The default network, recorded on first use with a subnet free of the host's routes. */
    public Network defaultNetwork() throws IOException, NetworkException {
        return store.ensureDefault(host.routes());
    }

    /** Every network, the default one included, by name. */
    public List<Network> list() throws IOException, NetworkException {
        defaultNetwork();
        return store.list();
    }

    /** A network by id, name or id prefix. */
    public Network inspect(String ref) throws IOException, NetworkException {
        defaultNetwork();
        return store.require(ref);
    }

    /**
     * Records a network and makes its bridge and rules. The default network is recorded first, so
     * that it has the first default pool, as docker's does.
     */
    public Network create(CreateRequest request) throws IOException, NetworkException {
        List<Ipv4Subnet> routes = host.routes();
        store.ensureDefault(routes);
        Network n = store.create(request, routes);
        try {
            ensureBridge(n);
        } catch (IOException | NetworkException | RuntimeException e) {
            try {
                removeFromHost(n);
            } catch (IOException | NetworkException | RuntimeException undo) {
                e.addSuppressed(undo);
            }
            try {
                store.remove(n.id());
            } catch (IOException | NetworkException undo) {
                e.addSuppressed(undo);
            }
            throw e;
        }
        events.emit(n.event("create", Map.of()));
        return n;
    }

    /**
     * Makes a recorded network's bridge and rules exist (again): before a container on it starts,
     * since the helper machine forgets them when it restarts.
     */
    public void ensureBridge(Network n) throws IOException, NetworkException {
        try (NetworkStore.Locked l = hostLock()) {
            // The record as it is now: the names of every container on it, the caller's too.
            Network current = store.find(n.id()).orElse(n);
            host.ensureBridge(current, NetworkHost.names(current));
        }
    }

    /**
     * Gives back every address of container {@code containerId} (it was removed) and tells the
     * resolvers of the networks it was on, so its name stops resolving now, not at the next start
     * of a container there. A resolver that cannot be told is logged, not thrown: the container is
     * gone either way, and the next start on that network writes the names again.
     */
    public void forget(String containerId) throws IOException {
        tellResolvers(store.releaseAll(containerId));
    }

    /** Gives back container {@code containerId}'s address on network {@code ref}, and tells its resolver. */
    public void leave(String ref, String containerId) throws IOException, NetworkException {
        if (store.release(ref, containerId)) {
            store.find(ref).ifPresent(n -> tellResolvers(List.of(n)));
        }
    }

    /**
     * Gives the resolvers of {@code changed} (networks whose containers' names changed: one left,
     * one was renamed) the names they answer now, so that the other containers there see the change
     * at once. A resolver that cannot be told is logged, not thrown: the names are recorded, and the
     * next start of a container on that network writes them again.
     */
    public void tellResolvers(List<Network> changed) {
        for (Network n : changed) {
            if (n.isDefault()) {
                continue; // its resolver answers no container names
            }
            try (NetworkStore.Locked l = hostLock()) {
                Network current = store.find(n.id()).orElse(n);
                host.updateNames(current, NetworkHost.names(current));
            } catch (IOException | NetworkException | RuntimeException e) {
                LOG.log(System.Logger.Level.WARNING, "the resolver of network " + n.name()
                        + " answers stale container names until a container there starts: " + e.getMessage());
            }
        }
    }

    /** Where a container on {@code n} reaches the host's own services ({@code host-gateway}). */
    public Ipv4Address hostGateway(Network n) {
        return host.hostGateway(n);
    }

    /**
     * Removes a network that no container is on, its bridge and rules first.
     *
     * @throws NetworkException NOT_FOUND; FORBIDDEN for the default network; CONFLICT while it has
     *     endpoints; FAILED when the host refuses
     */
    public Network remove(String ref) throws IOException, NetworkException {
        defaultNetwork();
        Network n = store.require(ref);
        NetworkStore.checkRemovable(n);
        removeFromHost(n);
        // Checked again under the store's lock: a container that joined meanwhile keeps the record,
        // and its start ensures the bridge again.
        Network removed = store.remove(n.id());
        events.emit(removed.event("destroy", Map.of()));
        return removed;
    }

    /** What {@link #prune} removed, and why others that it tried could not be. */
    public record PruneResult(List<Network> removed, List<NetworkException> failures) {}

    /** Removes every network but the default one that no container is on. */
    public PruneResult prune() throws IOException, NetworkException {
        return prune(n -> true);
    }

    /** Removes every network {@code which} picks (its filters) but the default one that no container is on. */
    public PruneResult prune(Predicate<Network> which) throws IOException, NetworkException {
        List<Network> removed = new ArrayList<>();
        List<NetworkException> failures = new ArrayList<>();
        for (Network n : store.list()) {
            if (n.isDefault() || !n.endpoints().isEmpty() || !which.test(n)) {
                continue;
            }
            try {
                removed.add(remove(n.id()));
            } catch (NetworkException e) {
                if (e.kind() != NetworkException.Kind.NOT_FOUND && e.kind() != NetworkException.Kind.CONFLICT) {
                    failures.add(e);
                }
            }
        }
        return new PruneResult(removed, failures);
    }

    private void removeFromHost(Network n) throws IOException, NetworkException {
        try (NetworkStore.Locked l = hostLock()) {
            host.removeBridge(n);
        }
    }

    private NetworkStore.Locked hostLock() throws IOException {
        return store.lock(store.dir().resolve(".host.lock"));
    }
}
