package dev.vessel.events;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** dockerd's event filters, key by key. */
class EventFilterTest {
    private static final String CID = "4f3c2b1a00000000000000000000000000000000000000000000000000000000";
    private static final Event START = Event.of(Event.CONTAINER, "start", CID,
            Map.of("name", "web", "image", "docker.io/library/busybox:1.36", "team", "a", "tier", ""));
    private static final Event EXEC = Event.of(Event.CONTAINER, "exec_create: sh -c true", CID,
            Map.of("name", "web", "image", "busybox", "execID", "e1"));
    private static final Event CONNECT = Event.of(Event.NETWORK, "connect", "n0", Map.of("name", "back", "type", "bridge",
            "container", CID));
    private static final Event TAG = Event.of(Event.IMAGE, "tag", "sha256:abc", Map.of("name", "team/app:2"));
    private static final Event PULL = Event.of(Event.IMAGE, "pull", "busybox:latest", Map.of("name", "busybox"));

    private static EventFilter filter(String... kv) {
        Map<String, List<String>> m = new java.util.LinkedHashMap<>();
        for (String s : kv) {
            int eq = s.indexOf('=');
            m.computeIfAbsent(s.substring(0, eq), k -> new java.util.ArrayList<>()).add(s.substring(eq + 1));
        }
        return EventFilter.of(m);
    }

    private static List<Event> all() {
        return List.of(START, EXEC, CONNECT, TAG, PULL);
    }

    private static List<String> kept(EventFilter f) {
        return all().stream().filter(f).map(e -> e.type() + " " + e.action()).toList();
    }

    @Test
    void noFilterKeepsEverything() {
        assertEquals(5, kept(EventFilter.ALL).size());
        assertEquals(5, kept(filter()).size());
    }

    @Test
    void typeAndEventAreExactAndExecActionsMatchByTheirStart() {
        assertEquals(List.of("image tag", "image pull"), kept(filter("type=image")));
        assertEquals(List.of("network connect", "image tag"), kept(filter("type=image", "type=network", "event=connect",
                "event=tag")), "values of a key are alternatives, keys all hold");
        assertEquals(List.of("container exec_create: sh -c true"), kept(filter("event=exec_create")));
        assertEquals(List.of(), kept(filter("event=exec")), "only the actions docker names match by a prefix");
        assertEquals(List.of("container start"), kept(filter("event=start")));
    }

    @Test
    void containerAndNetworkMatchTheActorsIdOrNameWholeOrByAPrefix() {
        assertEquals(List.of("container start", "container exec_create: sh -c true"), kept(filter("container=web")));
        assertEquals(List.of("container start", "container exec_create: sh -c true"), kept(filter("container=4f3c")));
        assertEquals(List.of("container start", "container exec_create: sh -c true"), kept(filter("container=we")));
        assertEquals(List.of("network connect"), kept(filter("network=back")),
                "a network filter leaves other types out: their names are not the network's");
        assertEquals(List.of(), kept(filter("volume=x")), "keys of objects Vessel has none of leave everything out");
    }

    @Test
    void imageMatchesTheImagesNameOrTheContainersImageWithOrWithoutItsTag() {
        assertEquals(List.of("container start", "container exec_create: sh -c true", "image pull"),
                kept(filter("image=busybox")));
        assertEquals(List.of("container start"), kept(filter("image=docker.io/library/busybox:1.36")));
        assertEquals(List.of("image tag"), kept(filter("image=team/app")));
        assertEquals(List.of("image tag"), kept(filter("image=sha256:abc")));
        assertEquals(List.of("image pull"), kept(filter("image=busybox:latest")), "the pull's id is its reference");
    }

    @Test
    void labelsNeedEveryKeyAndValueAmongTheAttributes() {
        assertEquals(List.of("container start"), kept(filter("label=team")));
        assertEquals(List.of("container start"), kept(filter("label=team=a", "label=tier=")));
        assertEquals(List.of(), kept(filter("label=team=b")));
        assertEquals(List.of(), kept(filter("label=team", "label=other")));
    }

    @Test
    void anUnknownKeyIsDockersInvalidFilter() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> filter("colour=red"));
        assertEquals("invalid filter 'colour'", e.getMessage());
        assertTrue(filter("scope=local").test(START));
        assertFalse(filter("scope=swarm").test(START));
    }

    @Test
    void familiarNamesLoseTagDigestAndDockerHubsPrefixes() {
        assertEquals("busybox", EventFilter.familiarName("docker.io/library/busybox:latest"));
        assertEquals("team/app", EventFilter.familiarName("docker.io/team/app@sha256:00"));
        assertEquals("localhost:5000/app", EventFilter.familiarName("localhost:5000/app:1"));
        assertEquals("localhost:5000/app", EventFilter.familiarName("localhost:5000/app"));
        assertEquals("sha256:abc", EventFilter.familiarName("sha256:abc"));
    }
}
