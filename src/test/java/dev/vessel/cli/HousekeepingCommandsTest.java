package dev.vessel.cli;

import dev.vessel.container.ContainerService;
import dev.vessel.container.ContainerStore;
import dev.vessel.container.CreateRequest;
import dev.vessel.host.StateRoot;
import dev.vessel.image.Image;
import dev.vessel.image.ImageStore;
import dev.vessel.image.Tars;
import dev.vessel.network.FakeNetworkHost;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * `vessel rename`, `container prune`, `image prune`, `system df` and `save`: docker's output, its
 * statuses, and nothing changed by a refused request. The containers are made through the service
 * (on the default network only: no bridge is ever made).
 */
class HousekeepingCommandsTest {
    static final String IMAGE = "vessel-test/tiny:1";

    @TempDir
    Path dir;
    StateRoot root;
    ContainerService containers;
    ImageStore images;
    Image tiny;

    @BeforeEach
    void state() throws Exception {
        root = StateRoot.resolve(dir.resolve("state"));
        containers = ContainerService.open(root, new FakeNetworkHost());
        images = ImageStore.open(root);
        tiny = images.importRootfs(new ByteArrayInputStream(Tars.tar().dir("bin").file("bin/echo", "x").bytes()), IMAGE,
                List.of("CMD [\"/bin/echo\", \"hello\"]"), null);
    }

    private VesselCli.Result answering(String stdin, String... args) {
        return VesselCli.run(root.path(), stdin, args);
    }

    private VesselCli.Result vessel(String... args) {
        return answering("", args);
    }

    private ContainerStore.Container create(String name, Map<String, String> labels) throws Exception {
        return containers.create(CreateRequest.of(IMAGE).withName(name).withLabels(labels));
    }

    private List<String> names() throws Exception {
        return containers.list(true).stream().map(c -> c.name()).sorted().toList();
    }

    @Test
    void renameSaysNothingAndARefusalIsDockersTwoLines() throws Exception {
        ContainerStore.Container a = create("a", Map.of());
        ContainerStore.Container b = create("b", Map.of());
        VesselCli.Result ok = vessel("rename", "a", "c");
        assertEquals(0, ok.status(), ok.err());
        assertEquals("", ok.outText() + ok.err());
        assertEquals("c", containers.require(a.config().id()).config().name());

        VesselCli.Result clash = vessel("rename", "c", "b");
        assertEquals(1, clash.status());
        assertEquals("Error response from daemon: Error when allocating new name: Conflict. The container name \"/b\" is "
                + "already in use by container \"" + b.config().id() + "\". You have to remove (or rename) that container "
                + "to be able to reuse that name.\nError: failed to rename container named c\n", clash.err());
        VesselCli.Result empty = vessel("rename", "c", " ");
        assertEquals(1, empty.status());
        assertEquals("Error: Neither old nor new names may be empty\n", empty.err());
        assertEquals(2, vessel("rename", "c").status(), "a missing argument is a bad command line");
        assertEquals(List.of("b", "c"), names());
    }

    @Test
    void containerPruneAsksFirstThenListsWhatItRemoved() throws Exception {
        ContainerStore.Container gone = create("gone", Map.of());
        create("kept", Map.of("keep", "yes"));
        VesselCli.Result declined = answering("n\n", "container", "prune");
        assertEquals(0, declined.status());
        assertEquals("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ",
                declined.outText());
        assertEquals(List.of("gone", "kept"), names());

        VesselCli.Result badFlag = vessel("container", "prune", "-f", "--filter", "label");
        assertEquals(125, badFlag.status());
        assertEquals("vessel: invalid argument \"label\" for \"--filter\" flag: bad format of filter (expected name=value)\n",
                badFlag.err());
        VesselCli.Result badFilter = vessel("container", "prune", "-f", "--filter", "Name=x");
        assertEquals(1, badFilter.status());
        assertEquals("Error response from daemon: invalid filter 'name'\n", badFilter.err());
        assertEquals(List.of("gone", "kept"), names());

        long disk = dev.vessel.host.DiskUsage.of(gone.rwDisk());
        VesselCli.Result pruned = answering("y\n", "container", "prune", "--filter", "label!=keep=yes");
        assertEquals(0, pruned.status(), pruned.err());
        assertEquals("WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] "
                + "Deleted Containers:\n" + gone.config().id() + "\n\nTotal reclaimed space: "
                + dev.vessel.image.DockerFormat.humanSize(disk, 4) + "\n", pruned.outText());
        assertEquals(List.of("kept"), names());
        assertEquals("Total reclaimed space: 0B\n", vessel("container", "prune", "-f", "--filter", "until=1h").outText());
    }

    @Test
    void imagePruneRemovesDanglingImagesOrWithAllTheUnusedOnes() throws Exception {
        Image dangling = images.importRootfs(new ByteArrayInputStream(Tars.tar().file("d", "x").bytes()), null, List.of(), null);
        images.tag(IMAGE, "spare:1");
        Image spare = images.importRootfs(new ByteArrayInputStream(Tars.tar().file("s", "y").bytes()), "other:2", List.of(), null);
        create("user", Map.of());

        VesselCli.Result conflicting = vessel("image", "prune", "-a", "-f", "--filter", "dangling=true");
        assertEquals(1, conflicting.status());
        assertEquals("Error response from daemon: invalid filter 'dangling=[true false]'\n", conflicting.err(),
                "-a is dangling=false, as docker's CLI sends it");
        VesselCli.Result dangled = vessel("image", "prune", "-f");
        assertTrue(dangled.outText().matches("Deleted Images:\ndeleted: " + dangling.id() + "\n\nTotal reclaimed space: \\S+B\n"),
                dangled.outText());
        VesselCli.Result all = answering("y\n", "image", "prune", "-a");
        assertTrue(all.outText().startsWith("WARNING! This will remove all images without at least one container associated to them.\n"
                + "Are you sure you want to continue? [y/N] Deleted Images:\nuntagged: other:2\ndeleted: " + spare.id() + "\n\n"),
                all.outText());
        assertTrue(images.find("spare:1").isPresent() && images.find(IMAGE).isPresent(), "in use: not even untagged");
    }

    @Test
    void systemDfIsDockersTableOfWhatTheStateRootTakes() throws Exception {
        ContainerStore.Container c = create("sized", Map.of());
        long rw = containers.writableSize("sized");
        ImageStore.Usage usage = images.diskUsage();
        String human = dev.vessel.image.DockerFormat.humanSize(usage.total(), 4);
        String rwHuman = dev.vessel.image.DockerFormat.humanSize(rw, 4);
        List<List<String>> rows = List.of(List.of("TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"),
                List.of("Images", "1", "1", human, "0B (0%)"),
                List.of("Containers", "1", "0", rwHuman, rwHuman + " (100%)"),
                List.of("Local Volumes", "0", "0", "0B", "0B"),
                List.of("Build Cache", "0", "0", "0B", "0B"));
        assertEquals(Table.format(rows), vessel("system", "df").outText());
        c.writeState(c.state().running(ProcessHandle.current().pid(),
                ProcessHandle.current().info().startInstant().orElseThrow().toEpochMilli(), false));
        List<List<String>> running = new java.util.ArrayList<>(rows);
        running.set(2, List.of("Containers", "1", "1", rwHuman, "0B (0%)"));
        assertEquals(Table.format(running), vessel("system", "df").outText(), "a running one is not reclaimable");

        String verbose = vessel("system", "df", "-v").outText();
        assertTrue(verbose.startsWith("Images space usage:\n\nREPOSITORY         TAG       IMAGE ID       CREATED"), verbose);
        assertTrue(verbose.contains("\nvessel-test/tiny   1         " + tiny.shortId() + "   "), verbose);
        assertTrue(verbose.contains("   \"/bin/echo hello\"   0               " + dev.vessel.image.DockerFormat.humanSize(rw)),
                verbose);
    }

    @Test
    void saveWritesTheArchiveToAFileWholeOrToStdout() throws Exception {
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        try (var w = images.save(List.of(IMAGE))) {
            w.write(expected);
        }
        Path file = dir.resolve("out.tar");
        VesselCli.Result saved = vessel("save", "-o", file.toString(), IMAGE);
        assertEquals(0, saved.status(), saved.err());
        assertArrayEquals(expected.toByteArray(), Files.readAllBytes(file));
        assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        VesselCli.Result stdout = vessel("save", IMAGE);
        assertEquals(0, stdout.status(), stdout.err());
        assertArrayEquals(expected.toByteArray(), stdout.out());

        Path none = dir.resolve("none.tar");
        VesselCli.Result missing = vessel("save", "-o", none.toString(), IMAGE, "nosuch");
        assertEquals(1, missing.status());
        assertEquals("Error response from daemon: No such image: nosuch:latest\n", missing.err());
        assertFalse(Files.exists(none));
        try (var files = Files.list(dir)) {
            assertTrue(files.noneMatch(p -> p.getFileName().toString().endsWith(".tmp")), "no temporary file left");
        }
    }
}
