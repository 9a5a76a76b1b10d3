package dev.vessel.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vessel.container.ContainerLog;
import dev.vessel.image.Tars;
import dev.vessel.registry.FakeRegistry;
import dev.vessel.registry.TestImage;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real docker CLI against the Engine API served in this JVM: every command here is what a
 * user types, and its output and exit status are docker's.
 */
class ApiDockerCliTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    ApiFixture fixture;
    DockerCli docker;

    @BeforeEach
    void serve() throws Exception {
        fixture = new ApiFixture(dir);
        docker = new DockerCli(fixture.socket(), dir.resolve("docker-config"));
    }

    @AfterEach
    void stop() {
        fixture.close();
    }

    private DockerCli.Result ok(String... args) throws Exception {
        DockerCli.Result r = docker.run(args);
        assertEquals(0, r.exit(), () -> "docker " + String.join(" ", args) + ": " + r);
        return r;
    }

    @Test
    void versionShowsTheClientAndVesselAsTheServer() throws Exception {
        DockerCli.Result r = ok("version");
        assertTrue(r.out().contains("Client:"), r.out());
        assertTrue(r.out().contains("Server: Vessel"), r.out());
        assertTrue(r.out().contains("API version:      1.51 (minimum version 1.24)"), r.out());
        assertTrue(r.out().contains("OS/Arch:          linux/amd64"), r.out());
        assertEquals("", r.err());
    }

    @Test
    void infoCountsContainersAndImages() throws Exception {
        ok("create", "--name", "counted", ApiFixture.IMAGE);
        DockerCli.Result r = ok("info");
        assertTrue(r.out().contains(" Containers: 1\n"), r.out());
        assertTrue(r.out().contains("  Stopped: 0\n"), r.out());
        assertTrue(r.out().contains(" Images: 1\n"), r.out());
        assertTrue(r.out().contains(" Storage Driver: vessel-microvm\n"), r.out());
        assertTrue(r.out().contains(" Docker Root Dir: " + fixture.root.path() + "\n"), r.out());
    }

    @Test
    void createdContainerIsListedInspectedAndRemoved() throws Exception {
        String header = "CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES\n";
        assertEquals(header, ok("ps", "-a").out(), "nothing yet");

        String id = ok("create", "--name", "web", "-e", "A=1", "-w", "/srv", ApiFixture.IMAGE, "echo", "hi").out().strip();
        assertTrue(id.matches("[0-9a-f]{64}"), id);

        String ps = ok("ps", "-a").out();
        String row = ps.lines().filter(l -> l.endsWith(" web")).findFirst().orElseThrow(() -> new AssertionError(ps));
        assertTrue(row.startsWith(id.substring(0, 12)), row);
        assertTrue(row.contains("\"echo hi\"") && row.contains("Created"), row);
        assertEquals(header, ok("ps").out(), "a created container is not running");
        assertEquals("web\n", ok("ps", "-a", "--filter", "status=created", "--filter", "name=^/we", "--format", "{{.Names}}").out());
        assertEquals("", ok("ps", "-a", "--filter", "status=exited", "--format", "{{.Names}}").out());

        JsonNode inspect = JSON.readTree(ok("inspect", "web").out()).get(0);
        assertEquals(id, inspect.get("Id").asText());
        assertEquals("/web", inspect.get("Name").asText());
        assertEquals("[\"echo\",\"hi\"]", inspect.at("/Config/Cmd").toString());
        assertEquals("/srv", inspect.at("/Config/WorkingDir").asText());
        assertTrue(inspect.at("/Config/Env").toString().contains("\"A=1\""), inspect.toString());
        assertEquals("created", inspect.at("/State/Status").asText());
        assertEquals("bridge", inspect.at("/HostConfig/NetworkMode").asText());

        assertEquals("web\n", ok("rm", "web").out());
        assertEquals(header, ok("ps", "-a").out());
    }

    @Test
    void createTakesPortsNetworksAndRefusesANameInUse() throws Exception {
        ok("network", "create", "--subnet", "10.66.0.0/24", "back");
        String id = ok("create", "--name", "p", "-p", "127.0.0.1:8080:80", "-p", "53/udp", "--network", "back",
                "--network-alias", "api", "--ip", "10.66.0.7", "-h", "box", "-t", "-i", ApiFixture.IMAGE).out().strip();
        JsonNode c = JSON.readTree(ok("inspect", "p").out()).get(0);
        // The CLI sends the bindings in Go's order (sorted keys); no host port is one the host picks at start.
        assertEquals("{\"53/udp\":[{\"HostIp\":\"\",\"HostPort\":\"\"}],\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"8080\"}]}",
                c.at("/HostConfig/PortBindings").toString());
        assertEquals("10.66.0.7", c.at("/NetworkSettings/Networks/back/IPAddress").asText());
        assertEquals("[\"api\"]", c.at("/NetworkSettings/Networks/back/Aliases").toString());
        assertEquals("box", c.at("/Config/Hostname").asText());
        assertTrue(c.at("/Config/Tty").asBoolean() && c.at("/Config/OpenStdin").asBoolean(), c.toString());

        DockerCli.Result again = docker.run("create", "--name", "p", ApiFixture.IMAGE);
        assertEquals(1, again.exit(), again.toString());
        assertEquals("Error response from daemon: Conflict. The container name \"/p\" is already in use by container \"" + id
                + "\". You have to remove (or rename) that container to be able to reuse that name.\n", again.err());

        DockerCli.Result inUse = docker.run("network", "rm", "back");
        assertEquals(1, inUse.exit(), inUse.toString());
        assertTrue(inUse.err().contains("has active endpoints"), inUse.err());
        ok("rm", "p");
        assertEquals("Deleted Networks:\nback\n\n", ok("network", "prune", "-f").out());
    }

    @Test
    void labelsAreSetListedFilteredAndInspected() throws Exception {
        Path file = Files.writeString(dir.resolve("labels"), "# compose's\ncom.docker.compose.project=demo\n");
        ok("create", "--name", "web", "--label", "a=b", "--label", "c", "--label-file", file.toString(), ApiFixture.IMAGE);
        ok("create", "--name", "db", "-l", "a=other", ApiFixture.IMAGE);
        ok("create", "--name", "plain", ApiFixture.IMAGE);

        // The CLI joins a container's labels in Go's map order, which is random.
        String labels = ok("ps", "-a", "--filter", "label=a=b", "--format", "{{.Labels}}").out().strip();
        assertEquals(List.of("a=b", "c=", "com.docker.compose.project=demo"), Arrays.stream(labels.split(",")).sorted().toList());
        assertEquals(List.of("db", "web"), names("ps", "-a", "--filter", "label=a"));
        assertEquals(List.of("web"), names("ps", "-a", "--filter", "label=a", "--filter", "label=c"));
        assertEquals(List.of("web"), names("ps", "-a", "--filter", "label=c="));
        assertEquals(List.of(), names("ps", "-a", "--filter", "label=a=c"));
        assertEquals("b\n", ok("ps", "-a", "--filter", "name=web", "--format", "{{.Label \"a\"}}").out());

        assertEquals("{\"a\":\"b\",\"c\":\"\",\"com.docker.compose.project\":\"demo\"}\n",
                ok("inspect", "-f", "{{json .Config.Labels}}", "web").out());
        assertEquals("{}\n", ok("inspect", "-f", "{{json .Config.Labels}}", "plain").out());

        DockerCli.Result noName = docker.run("create", "--label", "=x", ApiFixture.IMAGE);
        assertEquals(125, noName.exit(), noName.toString()); // the CLI's own check; dockerd is never asked
        assertTrue(noName.err().contains("invalid label '=x': empty name"), noName.err());
        assertEquals(3, ok("ps", "-aq").out().lines().count());
    }

    @Test
    void networksAreListedAndPrunedByLabelAsComposeDoes() throws Exception {
        ok("network", "create", "--label", "com.docker.compose.project=demo", "--label", "keep", "demo_default");
        ok("network", "create", "--label", "com.docker.compose.project=demo", "demo_back");
        ok("network", "create", "other");
        assertEquals("demo_back\ndemo_default\n",
                ok("network", "ls", "--filter", "label=com.docker.compose.project=demo", "--format", "{{.Name}}").out());
        assertEquals("demo_default\n", ok("network", "ls", "-f", "label=keep", "--format", "{{.Name}}").out());
        assertEquals("Deleted Networks:\ndemo_back\n\n",
                ok("network", "prune", "-f", "--filter", "label=com.docker.compose.project", "--filter", "label!=keep").out());
        assertEquals("bridge\ndemo_default\nother\n", ok("network", "ls", "--format", "{{.Name}}").out());
    }

    /** The names a {@code docker ps} lists, sorted. */
    private List<String> names(String... ps) throws Exception {
        String[] args = Arrays.copyOf(ps, ps.length + 2);
        args[ps.length] = "--format";
        args[ps.length + 1] = "{{.Names}}";
        return ok(args).out().lines().sorted().toList();
    }

    @Test
    void logsShowWhatTheContainerWroteOnEachStream() throws Exception {
        ok("create", "--name", "talker", ApiFixture.IMAGE);
        try (ContainerLog log = ContainerLog.append(fixture.containers.require("talker").log())) {
            write(log, "stdout", "one\n");
            write(log, "stderr", "oops\n");
            write(log, "stdout", "two\n");
        }
        DockerCli.Result all = ok("logs", "talker");
        assertEquals("one\ntwo\n", all.out());
        assertEquals("oops\n", all.err());
        assertEquals("two\n", ok("logs", "--tail", "1", "talker").out());
        assertEquals("one\ntwo\n", ok("logs", "-f", "talker").out(), "following a container that does not run ends at once");
        String stamped = ok("logs", "-t", "talker").out();
        assertTrue(stamped.matches("\\d{4}-\\d\\d-\\d\\dT[0-9:.]+Z one\n\\d{4}-\\S+ two\n"), stamped);

        ok("create", "-t", "--name", "tty", ApiFixture.IMAGE);
        try (ContainerLog log = ContainerLog.append(fixture.containers.require("tty").log())) {
            write(log, "stdout", "raw\r\n");
        }
        assertEquals("raw\r\n", ok("logs", "tty").out(), "a terminal's output is not framed");

        DockerCli.Result none = docker.run("logs", "nosuch");
        assertEquals(1, none.exit(), none.toString());
        assertEquals("Error response from daemon: No such container: nosuch\n", none.err());
    }

    @Test
    void logsFollowARunningContainerChunkByChunkUntilItStops() throws Exception {
        ok("create", "--name", "live", ApiFixture.IMAGE);
        var c = fixture.containers.require("live");
        // This JVM stands in for the container's supervisor: the container runs while it does.
        long start = ProcessHandle.current().info().startInstant().orElseThrow().toEpochMilli();
        c.writeState(c.state().running(ProcessHandle.current().pid(), start, false));
        try (ContainerLog log = ContainerLog.append(c.log())) {
            write(log, "stdout", "before\n");
            Process follow = docker.start("logs", "-f", "live");
            try (BufferedReader lines = new BufferedReader(new InputStreamReader(follow.getInputStream(), StandardCharsets.UTF_8))) {
                assertEquals("before", lines.readLine());
                write(log, "stdout", "during\n"); // reaches the CLI while the answer is still open
                assertEquals("during", lines.readLine());
                c.writeState(c.state().exited(0, ""));
                assertEquals(null, lines.readLine(), "the answer ends once the container stopped");
                assertTrue(follow.waitFor(60, TimeUnit.SECONDS));
                assertEquals(0, follow.exitValue());
            } finally {
                follow.destroyForcibly();
            }
        }
    }

    private static void write(ContainerLog log, String stream, String text) throws IOException {
        byte[] b = text.getBytes(StandardCharsets.UTF_8);
        log.write(stream, b, 0, b.length);
    }

    @Test
    void aCreatedContainerIsConnectedToANetworkAndDisconnected() throws Exception {
        // docker-compose connects each service's container to the project's network this way before starting it.
        ok("network", "create", "shop");
        ok("create", "--name", "web", ApiFixture.IMAGE);
        ok("network", "connect", "--alias", "www", "shop", "web");
        String networks = ok("inspect", "-f", "{{json .NetworkSettings.Networks}}", "web").out();
        assertTrue(networks.contains("\"shop\"") && networks.contains("\"www\""), networks);
        DockerCli.Result unknown = docker.run("network", "connect", "shop", "nosuch");
        assertEquals(1, unknown.exit(), unknown.toString());
        assertEquals("Error response from daemon: No such container: nosuch\n", unknown.err());
        ok("network", "disconnect", "shop", "web");
        assertFalse(ok("inspect", "-f", "{{json .NetworkSettings.Networks}}", "web").out().contains("\"shop\""));
    }

    @Test
    void severalContainersAreRemovedAtOnce() throws Exception {
        // docker rm sends its removals in parallel: the stores' locks must hold between the server's threads.
        for (String name : new String[] {"a1", "a2", "a3", "a4"}) {
            ok("create", "--name", name, ApiFixture.IMAGE);
        }
        assertEquals(List.of("a1", "a2", "a3", "a4"), ok("rm", "a1", "a2", "a3", "a4").out().lines().sorted().toList());
        assertEquals("", ok("ps", "-aq").out());
    }

    @Test
    void stoppingAndKillingAContainerThatDoesNotRunSayWhatDockerSays() throws Exception {
        ok("create", "--name", "later", ApiFixture.IMAGE);
        assertEquals("later\n", ok("stop", "later").out(), "dockerd's 304: nothing to do, and no error");
        DockerCli.Result kill = docker.run("kill", "later");
        assertEquals(1, kill.exit(), kill.toString());
        assertTrue(kill.err().startsWith("Error response from daemon: Cannot kill container: later: container "), kill.err());
        DockerCli.Result exec = docker.run("exec", "later", "true");
        assertEquals(1, exec.exit(), exec.toString());
        assertTrue(exec.err().contains("is not running"), exec.err());
        assertEquals("0\n", ok("wait", "later").out());
    }

    /** Now as the docker CLI takes a time: Unix seconds with nanoseconds. */
    private static String now() {
        Instant t = Instant.now();
        return t.getEpochSecond() + "." + String.format("%09d", t.getNano());
    }

    @Test
    void eventsSinceAndUntilPrintWhatHappenedInDockersLines() throws Exception {
        String since = now();
        String id = ok("create", "--name", "web", "-l", "team=a", ApiFixture.IMAGE).out().strip();
        String net = ok("network", "create", "back").out().strip();
        ok("rm", "web");
        String until = now();

        List<String> lines = ok("events", "--since", since, "--until", until).out().lines().toList();
        String time = "\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{9}(Z|[+-]\\d\\d:\\d\\d) ";
        assertEquals(3, lines.size(), lines.toString());
        assertTrue(lines.get(0).matches(time + "container create " + id + " \\(image=vessel-test/tiny:1, name=web, team=a\\)"),
                lines.get(0));
        assertTrue(lines.get(1).matches(time + "network create " + net + " \\(name=back, type=bridge\\)"), lines.get(1));
        assertTrue(lines.get(2).matches(time + "container destroy " + id + " \\(image=vessel-test/tiny:1, name=web, team=a\\)"),
                lines.get(2));

        JsonNode json = JSON.readTree(ok("events", "--since", since, "--until", until, "--filter", "type=network",
                "--format", "{{json .}}").out());
        assertEquals("network", json.get("Type").asText());
        assertEquals("create", json.get("Action").asText());
        assertEquals(net, json.at("/Actor/ID").asText());
        assertEquals("web\n", ok("events", "--since", since, "--until", until, "--filter", "container=web",
                "--filter", "event=destroy", "--format", "{{.Actor.Attributes.name}}").out());

        DockerCli.Result bad = docker.run("events", "--since", since, "--until", until, "--filter", "colour=red");
        assertEquals(1, bad.exit(), bad.toString());
        assertEquals("Error response from daemon: invalid filter 'colour'\n", bad.err());
    }

    @Test
    void eventsFollowedWithAFilterComeAsTheyHappen() throws Exception {
        var journal = fixture.containers.events();
        Process follow = docker.start("events", "--filter", "event=destroy", "--format",
                "{{.Type}} {{.Action}} {{.Actor.Attributes.name}}");
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(follow.getInputStream(), StandardCharsets.UTF_8))) {
            assertTrue(journal.awaitFollowers(1, java.time.Duration.ofSeconds(60)), "the CLI subscribed");
            ok("create", "--name", "brief", ApiFixture.IMAGE);
            ok("rm", "brief");
            assertEquals("container destroy brief", lines.readLine(), "the create did not pass the filter");
        } finally {
            follow.destroy();
            follow.waitFor(60, TimeUnit.SECONDS);
        }
        assertTrue(journal.awaitFollowers(0, java.time.Duration.ofSeconds(60)), "the CLI's end ended the stream");
    }

    @Test
    void removingAnUnknownContainerSaysWhatDockerSays() throws Exception {
        DockerCli.Result r = docker.run("rm", "nosuch");
        assertEquals(1, r.exit(), r.toString());
        assertEquals("Error response from daemon: No such container: nosuch\n", r.err());
    }

    @Test
    void inspectOfNothingKnownIsNoSuchObject() throws Exception {
        DockerCli.Result r = docker.run("inspect", "nosuch");
        assertEquals(1, r.exit(), r.toString());
        assertEquals("Error: No such object: nosuch\n", r.err());
    }

    @Test
    void createRefusesWhatVesselCannotDoAndMakesNothing() throws Exception {
        DockerCli.Result bind = docker.run("create", "-v", "/a:/b", ApiFixture.IMAGE);
        assertEquals(1, bind.exit(), bind.toString()); // docker create's status for a daemon's refusal (run's is 125)
        assertTrue(bind.err().contains("Error response from daemon: HostConfig.Binds is not supported by Vessel"), bind.err());

        // No registry listens on port 1: the pull that follows "No such image" fails at once.
        DockerCli.Result missing = docker.run("create", "127.0.0.1:1/nosuch/image:1");
        assertEquals(1, missing.exit(), missing.toString());
        assertEquals("Unable to find image '127.0.0.1:1/nosuch/image:1' locally\n"
                + "Error response from daemon: cannot connect to registry 127.0.0.1:1: connection refused\n", missing.err());

        assertEquals("", ok("ps", "-aq").out());
    }

    @Test
    void pullFetchesFromARegistryAndCreatePullsWhatItLacks() throws Exception {
        try (FakeRegistry registry = new FakeRegistry()) {
            registry.put("team/app", "1", TestImage.oci(Tars.tar().file("hello", "hi").bytes()));
            registry.put("team/other", "2", TestImage.oci(Tars.tar().file("other", "x").bytes()));
            String ref = registry.host() + "/team/app:1";
            DockerCli.Result pull = ok("pull", ref);
            List<String> lines = pull.out().lines().toList();
            assertEquals("1: Pulling from team/app", lines.getFirst(), pull.out());
            assertTrue(lines.stream().anyMatch(l -> l.endsWith(": Pull complete")), pull.out());
            assertEquals("Status: Downloaded newer image for " + ref, lines.get(lines.size() - 2), pull.out());
            assertEquals(ref, lines.getLast(), "the CLI's own last line");

            // create of an image the store lacks: 404 "No such image", the CLI pulls, then creates again.
            String other = registry.host() + "/team/other:2";
            DockerCli.Result create = ok("create", "--name", "pulled", other, "/other");
            assertTrue(create.out().strip().matches("[0-9a-f]{64}"), create.toString());
            assertTrue(create.err().startsWith("Unable to find image '" + other + "' locally\n2: Pulling from team/other\n"),
                    create.err());
            assertEquals(List.of(ref, other, ApiFixture.IMAGE),
                    ok("images", "--format", "{{.Repository}}:{{.Tag}}").out().lines().sorted().toList());

            assertEquals(ref + "\n" + other + "\n", ok("events", "--since", "0", "--until", now(), "--filter", "event=pull",
                    "--format", "{{.Actor.ID}}").out(), "each pull, by its reference");

            DockerCli.Result missing = docker.run("pull", registry.host() + "/team/app:9");
            assertEquals(1, missing.exit(), missing.toString());
            assertEquals("Error response from daemon: manifest for " + registry.host() + "/team/app:9 not found: "
                    + "manifest unknown: manifest unknown\n", missing.err());
        }
    }

    @Test
    void imagesAreListedTaggedInspectedAndRemoved() throws Exception {
        String images = ok("images").out();
        assertTrue(images.startsWith("REPOSITORY"), images);
        assertTrue(images.lines().anyMatch(l -> l.startsWith("vessel-test/tiny   1 ")), images);

        ok("tag", ApiFixture.IMAGE, "other/name:2");
        assertEquals("other/name:2\nvessel-test/tiny:1\n",
                ok("images", "--format", "{{.Repository}}:{{.Tag}}").out().lines().sorted().map(l -> l + "\n")
                        .reduce("", String::concat));

        JsonNode image = JSON.readTree(ok("image", "inspect", "other/name:2").out()).get(0);
        assertEquals("[\"/bin/echo\",\"hello\"]", image.at("/Config/Cmd").toString());
        assertEquals(2, image.get("RepoTags").size(), image.toString());

        assertEquals("Untagged: other/name:2\n", ok("rmi", "other/name:2").out());
        DockerCli.Result gone = docker.run("image", "inspect", "other/name:2");
        assertEquals(1, gone.exit(), gone.toString());
        assertTrue(gone.err().contains("No such image: other/name:2"), gone.err());
    }

    @Test
    void renameTakesTheNetworksAlongAndARefusalIsDockersTwoLines() throws Exception {
        ok("network", "create", "shop");
        String id = ok("create", "--name", "old", "--network", "shop", ApiFixture.IMAGE).out().strip();
        String taken = ok("create", "--name", "taken", ApiFixture.IMAGE).out().strip();
        assertEquals("", ok("rename", "old", "new").out());
        assertEquals("/new\n", ok("inspect", "-f", "{{.Name}}", id).out());
        assertEquals("new\n", ok("network", "inspect", "-f", "{{range .Containers}}{{.Name}}{{end}}", "shop").out(),
                "its endpoint answers to the new name");

        DockerCli.Result clash = docker.run("rename", "new", "taken");
        assertEquals(1, clash.exit(), clash.toString());
        assertEquals("Error response from daemon: Error when allocating new name: Conflict. The container name \"/taken\" is "
                + "already in use by container \"" + taken + "\". You have to remove (or rename) that container to be able "
                + "to reuse that name.\nError: failed to rename container named new\n", clash.err());
        DockerCli.Result none = docker.run("rename", "nosuch", "x");
        assertEquals(1, none.exit(), none.toString());
        assertEquals("Error response from daemon: No such container: nosuch\nError: failed to rename container named nosuch\n",
                none.err());
        assertEquals(List.of("new", "taken"), names("ps", "-a"));
    }

    @Test
    void containerPruneRemovesTheStoppedOnesAndSaysWhatItReclaimed() throws Exception {
        assertEquals("Total reclaimed space: 0B\n", ok("container", "prune", "-f").out());
        ok("create", "--name", "kept", "--label", "keep", ApiFixture.IMAGE);
        String gone = ok("create", "--name", "gone", ApiFixture.IMAGE).out().strip();
        DockerCli.Result badFilter = docker.run("container", "prune", "-f", "--filter", "name=x");
        assertEquals(1, badFilter.exit(), badFilter.toString());
        assertEquals("Error response from daemon: invalid filter 'name'\n", badFilter.err());

        String out = ok("container", "prune", "-f", "--filter", "label!=keep").out();
        long reclaimed = dev.vessel.host.DiskUsage.of(dir.resolve("root/containers/" + gone + "/rw.img"));
        assertTrue(out.matches("Deleted Containers:\n" + gone + "\n\nTotal reclaimed space: [0-9.]+[kM]?B\n"), out);
        assertEquals(List.of("kept"), names("ps", "-a"));
        assertEquals(0, reclaimed, "its disk went with it");
    }

    @Test
    void imagePruneRemovesDanglingImagesAndWithAllTheUnusedOnes() throws Exception {
        var dangling = fixture.images.importRootfs(new java.io.ByteArrayInputStream(Tars.tar().file("d", "x").bytes()), null,
                List.of(), null);
        ok("tag", ApiFixture.IMAGE, "spare:1");
        String out = ok("image", "prune", "-f").out();
        assertTrue(out.matches("Deleted Images:\ndeleted: " + dangling.id() + "\n\nTotal reclaimed space: [0-9.]+[kM]?B\n"), out);
        ok("create", "--name", "user", "spare:1");
        assertEquals("Total reclaimed space: 0B\n", ok("image", "prune", "-a", "-f").out(), "the only image is in use");
        assertEquals(List.of("spare:1", ApiFixture.IMAGE),
                ok("images", "--format", "{{.Repository}}:{{.Tag}}").out().lines().sorted().toList());
    }

    @Test
    void systemDfIsWhatVesselSystemDfPrints() throws Exception {
        ok("create", "--name", "sized", ApiFixture.IMAGE);
        String df = ok("system", "df").out();
        assertEquals(dev.vessel.cli.VesselCli.run(fixture.root.path(), "", "system", "df").outText(), df,
                "docker's CLI over the API, and Vessel's over the same state root");
        assertTrue(df.startsWith("TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE\nImages          1         1  "), df);
        assertTrue(df.contains("\nLocal Volumes   0         0         0B        0B\nBuild Cache     0         0         0B        0B\n"), df);

        String verbose = ok("system", "df", "-v").out();
        assertTrue(verbose.startsWith("Images space usage:\n\nREPOSITORY         TAG       IMAGE ID       CREATED"), verbose);
        assertTrue(verbose.contains("\nContainers space usage:\n\nCONTAINER ID   IMAGE  "), verbose);
        assertTrue(verbose.lines().anyMatch(l -> l.endsWith(" sized")), verbose);
        assertTrue(verbose.endsWith("\nLocal Volumes space usage:\n\nVOLUME NAME   LINKS     SIZE\n\nBuild cache usage: 0B\n\n"
                + "CACHE ID   CACHE TYPE   SIZE      CREATED   LAST USED   USAGE     SHARED\n"), verbose);
    }

    @Test
    void saveWritesTheArchiveThatLoadReadsBack() throws Exception {
        Path archive = dir.resolve("tiny.tar");
        assertEquals("", ok("save", "-o", archive.toString(), ApiFixture.IMAGE).out());
        java.io.ByteArrayOutputStream expected = new java.io.ByteArrayOutputStream();
        try (var w = fixture.images.save(List.of(ApiFixture.IMAGE))) {
            w.write(expected);
        }
        assertTrue(Arrays.equals(expected.toByteArray(), Files.readAllBytes(archive)), "the archive as the store writes it");
        DockerCli.Result missing = docker.run("save", "-o", dir.resolve("none.tar").toString(), "nosuch");
        assertEquals(1, missing.exit(), missing.toString());
        assertEquals("Error response from daemon: No such image: nosuch:latest\n", missing.err());

        assertEquals("Untagged: " + ApiFixture.IMAGE + "\nDeleted: " + fixture.images.resolve(ApiFixture.IMAGE).id() + "\n",
                ok("rmi", ApiFixture.IMAGE).out());
        assertEquals("Loaded image: " + ApiFixture.IMAGE + "\n", ok("load", "-i", archive.toString()).out());
        assertEquals(ApiFixture.IMAGE + "\n", ok("images", "--format", "{{.Repository}}:{{.Tag}}").out());
        Path junk = Files.writeString(dir.resolve("junk.tar"), "not an archive");
        DockerCli.Result bad = docker.run("load", "-i", junk.toString());
        assertEquals(1, bad.exit(), bad.toString());
        assertTrue(bad.err().contains("invalid archive from the request body"), bad.toString());
    }

    @Test
    void networksAreCreatedListedInspectedAndRemoved() throws Exception {
        String id = ok("network", "create", "--subnet", "10.77.0.0/24", "--label", "team=a", "front").out().strip();
        assertTrue(id.matches("[0-9a-f]{64}"), id);
        String ls = ok("network", "ls").out();
        assertTrue(ls.lines().anyMatch(l -> l.startsWith(id.substring(0, 12)) && l.contains(" front ")), ls);
        assertTrue(ls.lines().anyMatch(l -> l.contains(" bridge ")), ls);

        JsonNode net = JSON.readTree(ok("network", "inspect", "front").out()).get(0);
        assertEquals(id, net.get("Id").asText());
        assertEquals("10.77.0.0/24", net.at("/IPAM/Config/0/Subnet").asText());
        assertEquals("a", net.at("/Labels/team").asText());

        DockerCli.Result dup = docker.run("network", "create", "front");
        assertEquals(1, dup.exit(), dup.toString());
        assertTrue(dup.err().startsWith("Error response from daemon: "), dup.err());

        assertEquals("front\n", ok("network", "rm", "front").out());
        assertFalse(ok("network", "ls").out().contains(" front "));
        assertTrue(fixture.networkHost.calls.stream().anyMatch(c -> c.startsWith("remove ")), fixture.networkHost.calls.toString());

        DockerCli.Result defaultNet = docker.run("network", "rm", "bridge");
        assertEquals(1, defaultNet.exit(), defaultNet.toString());
    }
}
