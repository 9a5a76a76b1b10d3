package dev.vessel.network;

import dev.vessel.events.Event;
import dev.vessel.events.EventJournal;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The service records and realizes together, and leaves nothing half-made when the host refuses. */
class NetworkServiceTest {
    @TempDir
    Path dir;

    private NetworkService service(FakeNetworkHost host) throws IOException {
        return new NetworkService(NetworkStore.open(dir), host);
    }

    @Test
    void createRecordsTheDefaultNetworkFirstThenRealizesTheNewOne() throws Exception {
        FakeNetworkHost host = new FakeNetworkHost();
        host.routes = List.of(Ipv4Subnet.parse("172.18.0.0/16"));
        NetworkService s = service(host);
        Network n = s.create(CreateRequest.named("web"));
        assertEquals("172.17.0.0/16", s.inspect("bridge").subnet().toString());
        assertEquals("172.19.0.0/16", n.subnet().toString(), "after the default network and the host's route");
        assertEquals(List.of("ensure " + n.bridge() + " 172.19.0.0/16"), host.calls, "the default bridge waits for a container");
        assertEquals(List.of("bridge", "web"), s.list().stream().map(Network::name).toList());
    }

    @Test
    void createAndRemoveAreRecordedAsDockersEventsButARefusedCreateIsNot() throws Exception {
        EventJournal events = EventJournal.at(dir.resolve("events"), EventJournal.Limits.DEFAULT);
        FakeNetworkHost host = new FakeNetworkHost();
        NetworkService s = new NetworkService(NetworkStore.open(dir.resolve("networks")), host, events);
        Network n = s.create(CreateRequest.named("web"));
        host.failEnsure = true;
        assertThrows(NetworkException.class, () -> s.create(CreateRequest.named("refused")));
        s.remove("web");
        List<Event> seen = events.read(0).events();
        assertEquals(List.of("network create " + n.id(), "network destroy " + n.id()),
                seen.stream().map(e -> e.type() + " " + e.action() + " " + e.actorId()).toList());
        assertEquals(Map.of("name", "web", "type", "bridge"), seen.getFirst().attributes());
    }

    @Test
    void aNetworkTheHostRefusesIsNotKept() throws Exception {
        FakeNetworkHost host = new FakeNetworkHost();
        host.failEnsure = true;
        NetworkService s = service(host);
        NetworkException e = assertThrows(NetworkException.class, () -> s.create(CreateRequest.named("web")));
        assertEquals(NetworkException.Kind.FAILED, e.kind());
        assertEquals(2, host.calls.size());
        assertTrue(host.calls.get(1).startsWith("remove vb-"), host.calls.toString());
        assertEquals(List.of("bridge"), s.list().stream().map(Network::name).toList());
    }

    @Test
    void removeTakesTheBridgeAwayButNotWhileContainersAreOn() throws Exception {
        FakeNetworkHost host = new FakeNetworkHost();
        NetworkService s = service(host);
        Network n = s.create(CreateRequest.named("web"));
        s.store().allocate("web", NetworkStore.EndpointRequest.of("a".repeat(64), "c"));
        host.calls.clear();
        assertEquals(NetworkException.Kind.CONFLICT, assertThrows(NetworkException.class, () -> s.remove("web")).kind());
        assertEquals(NetworkException.Kind.FORBIDDEN, assertThrows(NetworkException.class, () -> s.remove("bridge")).kind());
        assertEquals(List.of(), host.calls, "a refused removal touches nothing");
        s.store().release("web", "a".repeat(64));
        assertEquals(n.id(), s.remove(n.id().substring(0, 12)).id());
        assertEquals(List.of("remove " + n.bridge()), host.calls);
    }

    @Test
    void pruneRemovesEveryUnusedNetworkButTheDefault() throws Exception {
        FakeNetworkHost host = new FakeNetworkHost();
        NetworkService s = service(host);
        s.create(CreateRequest.named("a"));
        Network b = s.create(CreateRequest.named("b"));
        s.create(CreateRequest.named("c"));
        s.store().allocate("b", NetworkStore.EndpointRequest.of("b".repeat(64), "in-b"));
        NetworkService.PruneResult r = s.prune();
        assertEquals(List.of("a", "c"), r.removed().stream().map(Network::name).toList());
        assertEquals(List.of(), r.failures());
        assertEquals(List.of("b", "bridge"), s.list().stream().map(Network::name).toList());
        assertTrue(s.list().contains(b.withEndpoints(s.store().require("b").endpoints())));
    }

    @Test
    void pruneTakesOnlyTheNetworksItsFiltersPick() throws Exception {
        NetworkService s = service(new FakeNetworkHost());
        s.create(new CreateRequest("tmp", null, null, null, Map.of("tmp", ""), Map.of(), false));
        s.create(CreateRequest.named("kept"));
        NetworkService.PruneResult r = s.prune(n -> n.labels().containsKey("tmp"));
        assertEquals(List.of("tmp"), r.removed().stream().map(Network::name).toList());
        assertEquals(List.of("bridge", "kept"), s.list().stream().map(Network::name).toList());
    }
}
