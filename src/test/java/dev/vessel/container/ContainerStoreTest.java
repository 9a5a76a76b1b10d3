package dev.vessel.container;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ContainerStoreTest {
    @TempDir
    Path root;

    static ContainerConfig config(String id, String name, String created) {
        return new ContainerConfig(id, name, "busybox", "sha256:" + "a".repeat(64), created, "sh", List.of("-c", "true"),
                List.of("A=1"), "", "", id.substring(0, 12), false, false, false, 256L << 20, 1, 1L << 30, null, null, null, null, null);
    }

    /** {@code base} with other labels and restart policy. */
    static ContainerConfig with(ContainerConfig base, Map<String, String> labels, RestartPolicy policy) {
        return new ContainerConfig(base.id(), base.name(), base.image(), base.imageId(), base.created(),
                base.path(), base.args(), base.env(), base.workingDir(), base.user(), base.hostname(), base.tty(),
                base.openStdin(), base.autoRemove(), base.memoryBytes(), base.cpus(), base.diskBytes(), base.logLimits(),
                base.networking(), labels, policy, base.healthcheck());
    }

    @Test
    void namesAreUniqueAndLookupIsByIdPrefixOrName() throws Exception {
        ContainerStore store = ContainerStore.open(root.resolve("containers"));
        String a = "ab" + "0".repeat(62);
        String b = "ac" + "1".repeat(62);
        store.create(config(a, "first", "2026-01-01T00:00:00Z"));
        store.create(config(b, "second", "2026-01-02T00:00:00Z"));
        ContainerException dup = assertThrows(ContainerException.class,
                () -> store.create(config("ad" + "2".repeat(62), "first", "2026-01-03T00:00:00Z")));
        assertEquals(125, dup.status());
        assertTrue(dup.getMessage().contains("already in use"));

        assertEquals(List.of(b, a), store.list().stream().map(c -> c.config().id()).toList(), "newest first");
        assertEquals(a, store.require("first").config().id());
        assertEquals(b, store.require("ac").config().id());
        assertEquals(a, store.require(a).config().id());
        assertThrows(ContainerException.class, () -> store.find("a"), "an ambiguous prefix");
        assertEquals(1, assertThrows(ContainerException.class, () -> store.require("nope")).status());
    }

    @Test
    void stateIsReplacedAtomicallyAndADeadSupervisorReadsAsExited() throws Exception {
        ContainerStore store = ContainerStore.open(root.resolve("containers"));
        ContainerStore.Container c = store.create(config("cd" + "3".repeat(62), "s", "2026-01-01T00:00:00Z"));
        assertEquals(ContainerState.CREATED, c.state().status());

        ProcessHandle self = ProcessHandle.current();
        long start = self.info().startInstant().orElseThrow().toEpochMilli();
        c.writeState(c.state().running(self.pid(), start, false));
        assertTrue(c.state().isRunning(), "this very process is the supervisor");

        // A pid that is not (or no longer) the supervisor: another start time.
        c.writeState(c.state().running(self.pid(), start - 3_600_000, false));
        ContainerState seen = c.state().observed();
        assertEquals(ContainerState.EXITED, seen.status());
        assertEquals(137, seen.exitCode());

        c.writeState(c.state().exited(3, null));
        assertEquals(3, c.state().exitCode());
        try (var files = Files.list(c.dir())) {
            assertTrue(files.noneMatch(p -> p.getFileName().toString().endsWith(".tmp")), "no temp files left");
        }
    }

    @Test
    void removeDeletesEverythingAndHalfCreatedFoldersAreNotContainers() throws Exception {
        ContainerStore store = ContainerStore.open(root.resolve("containers"));
        ContainerStore.Container c = store.create(config("ef" + "4".repeat(62), "r", "2026-01-01T00:00:00Z"));
        Files.writeString(c.rwDisk(), "disk");
        store.remove(c);
        assertFalse(Files.exists(c.dir()));
        Files.createDirectories(root.resolve("containers").resolve("f".repeat(64))); // no config.json
        assertTrue(store.list().isEmpty());
    }

    @Test
    void labelsAreKeptInTheirOrder() throws Exception {
        ContainerStore store = ContainerStore.open(root.resolve("containers"));
        Map<String, String> labels = new LinkedHashMap<>();
        labels.put("z.last", "1");
        labels.put("com.docker.compose.project", "demo");
        labels.put("empty", "");
        ContainerConfig base = config("1b" + "6".repeat(62), "labelled", "2026-01-01T00:00:00Z");
        ContainerConfig withLabels = with(base, labels, null);
        store.create(withLabels);
        ContainerConfig read = ContainerStore.open(root.resolve("containers")).require("labelled").config();
        assertEquals(withLabels, read);
        assertEquals(List.of("z.last", "com.docker.compose.project", "empty"), List.copyOf(read.labels().keySet()));
        assertEquals(read, read.withNetworking(read.networking()), "other changes keep them");
    }

    @Test
    void aConfigWrittenBeforeLabelsLoadsWithNone() throws Exception {
        ContainerStore store = ContainerStore.open(root.resolve("containers"));
        String id = "2c" + "7".repeat(62);
        ContainerStore.Container c = store.create(config(id, "old", "2026-01-01T00:00:00Z"));
        // config.json as the Vessel before labels wrote it.
        Files.writeString(c.dir().resolve("config.json"), """
                {
                  "id" : "%s",
                  "name" : "old",
                  "image" : "busybox",
                  "imageId" : "sha256:%s",
                  "created" : "2026-01-01T00:00:00Z",
                  "path" : "sh",
                  "args" : [ "-c", "true" ],
                  "env" : [ "A=1" ],
                  "workingDir" : "",
                  "user" : "",
                  "hostname" : "%s",
                  "tty" : false,
                  "openStdin" : false,
                  "autoRemove" : false,
                  "memoryBytes" : 268435456,
                  "cpus" : 1,
                  "diskBytes" : 1073741824,
                  "logLimits" : { "maxSize" : 20971520, "maxFiles" : 5 },
                  "networking" : { "mode" : "none", "networks" : [ ], "dns" : [ ], "dnsSearch" : [ ], "dnsOptions" : [ ],
                    "extraHosts" : [ ], "ports" : [ ] }
                }
                """.formatted(id, "a".repeat(64), id.substring(0, 12)));
        ContainerConfig read = store.require("old").config();
        assertEquals(Map.of(), read.labels());
        assertEquals(config(id, "old", "2026-01-01T00:00:00Z"), read, "everything else as it was written");
    }

    @Test
    void aStateWrittenBeforeHealthChecksLoadsWithoutAndAHealthIsKept() throws Exception {
        ContainerStore store = ContainerStore.open(root.resolve("containers"));
        ContainerStore.Container c = store.create(config("3d" + "8".repeat(62), "healthy", "2026-01-01T00:00:00Z"));
        Files.writeString(c.stateFile(), """
                { "status" : "exited", "pid" : 0, "pidStart" : 0, "exitCode" : 2, "startedAt" : "2026-01-01T00:00:01Z",
                  "finishedAt" : "2026-01-01T00:00:02Z", "error" : "", "restartCount" : 0, "ports" : [ ] }
                """);
        assertEquals(new ContainerState(ContainerState.EXITED, 0, 0, 2, "2026-01-01T00:00:01Z", "2026-01-01T00:00:02Z", "", 0,
                List.of(), false), c.state());
        Health h = new Health(Health.STARTING, 1, List.of(new Health.Result("2026-01-01T00:00:03Z", "2026-01-01T00:00:04Z",
                1, "out")));
        c.writeState(c.state().withHealth(h));
        assertEquals(h, c.state().health());
    }

    @Test
    void socketPathsStayShortForAnyRoot() throws Exception {
        Path deep = root.resolve("a".repeat(40)).resolve("containers");
        ContainerStore store = ContainerStore.open(deep);
        ContainerStore.Container c = store.create(config("0a" + "5".repeat(62), "p", "2026-01-01T00:00:00Z"));
        String ready = c.vsockSocket() + "_1025";
        assertTrue(ready.length() - root.toString().length() < 80, ready);
    }
}
