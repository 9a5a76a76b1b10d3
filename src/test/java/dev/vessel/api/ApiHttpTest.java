package dev.vessel.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The Engine API byte for byte over its socket: versions, headers, routes, and how every kind of
 * bad input is refused with dockerd's status and message while nothing changes.
 */
class ApiHttpTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;
    ApiFixture fixture;
    UnixHttp http;

    @BeforeEach
    void serve() throws Exception {
        fixture = new ApiFixture(dir);
        http = new UnixHttp(fixture.socket());
    }

    @AfterEach
    void stop() throws IOException {
        http.close();
        fixture.close();
    }

    private static void assertError(int status, String message, UnixHttp.Response r) throws IOException {
        assertEquals(status, r.status(), r.body());
        assertEquals("application/json", r.header("Content-Type"));
        assertEquals(message, JSON.readTree(r.body()).get("message").asText());
    }

    private static JsonNode json(UnixHttp.Response r) throws IOException {
        return JSON.readTree(r.body());
    }

    private static String filters(String json) {
        return URLEncoder.encode(json, StandardCharsets.UTF_8);
    }

    @Test
    void pingAnswersWithDockerdsHeadersWithAndWithoutAVersion() throws Exception {
        for (String path : new String[] {"/_ping", "/v1.44/_ping", "/v1.51/_ping"}) {
            UnixHttp.Response r = http.get(path);
            assertEquals(200, r.status());
            assertEquals("OK", r.body());
            assertEquals("1.51", r.header("Api-Version"));
            assertEquals("linux", r.header("Ostype"));
            assertEquals("false", r.header("Docker-Experimental"));
            assertTrue(r.header("Server").matches("Vessel/\\S+ \\(linux\\)"), r.header("Server"));
        }
        UnixHttp.Response head = http.send("HEAD", "/_ping", null, null);
        assertEquals(200, head.status());
        assertEquals("1.51", head.header("Api-Version"));
        assertEquals("0", head.header("Content-Length"));
    }

    @Test
    void versionsOutsideTheServedRangeAreRefusedAsDockerdRefusesThem() throws Exception {
        assertError(400, "client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade your "
                + "client to a newer version", http.get("/v1.12/version"));
        assertError(400, "client version 1.52 is too new. Maximum supported API version is 1.51", http.get("/v1.52/info"));
        JsonNode v = json(http.get("/v1.24/version"));
        assertEquals("1.51", v.get("ApiVersion").asText());
        assertEquals("1.24", v.get("MinAPIVersion").asText());
        assertEquals("linux", v.get("Os").asText());
        assertEquals("Engine", v.at("/Components/0/Name").asText());
    }

    @Test
    void unknownPathsAreNotFoundAndOtherMethodsNotAllowed() throws Exception {
        assertError(404, "page not found", http.get("/nothing"));
        assertError(404, "page not found", http.get("/v1.51/containers/abc/nothing"));
        assertError(404, "page not found", http.get("/v1.x/_ping"));
        assertError(405, "method POST not allowed on /containers/json", http.postJson("/containers/json", "{}"));
        assertError(405, "method DELETE not allowed on /_ping", http.send("DELETE", "/_ping", null, null));
    }

    @Test
    void lifecycleVerbsOnAContainerThatIsNotRunningAnswerAsDockerd() throws Exception {
        String id = json(http.postJson("/containers/create?name=later", "{\"Image\":\"" + ApiFixture.IMAGE + "\"}")).get("Id").asText();
        assertEquals(304, http.postJson("/v1.50/containers/later/stop", null).status());
        assertError(409, "Cannot kill container: later: container " + id + " is not running",
                http.postJson("/containers/later/kill?signal=TERM", null));
        assertError(400, "invalid signal: NOPE", http.postJson("/containers/later/kill?signal=NOPE", null));
        UnixHttp.Response wait = http.postJson("/containers/" + id + "/wait", null);
        assertEquals(200, wait.status(), wait.body());
        assertEquals(0, json(wait).get("StatusCode").asInt());
        assertTrue(json(wait).get("Error").isNull(), wait.body());
        assertError(400, "invalid condition: \"soon\"", http.postJson("/containers/later/wait?condition=soon", null));
        assertError(400, "invalid terminal size 0x80", http.postJson("/containers/later/resize?h=0&w=80", null));
        assertError(409, "container " + id + " is not running",
                http.postJson("/containers/later/exec", "{\"Cmd\":[\"true\"],\"AttachStdout\":true}"));
        // Fields dockerd does not know are ignored as dockerd ignores them (docker-py sends the container's id).
        assertError(409, "container " + id + " is not running",
                http.postJson("/containers/later/exec", "{\"Cmd\":[\"true\"],\"Container\":\"" + id + "\"}"));
        assertError(400, "invalid JSON: json: cannot unmarshal string into Go struct field ExecOptions.Tty of type bool",
                http.postJson("/containers/later/exec", "{\"Cmd\":[\"true\"],\"Tty\":\"yes\"}"));
        assertError(404, "No such exec instance: nosuch", http.get("/exec/nosuch/json"));
        assertError(404, "No such exec instance: nosuch", http.postJson("/exec/nosuch/start", "{}"));
        assertError(400, "Bad parameters: you must choose at least one stream",
                http.postJson("/containers/later/attach?stdout=1", null));
        assertError(404, "No such container: nosuch", http.postJson("/containers/nosuch/start", null));
        assertError(400, "Bad parameters: you must choose at least one stream", http.get("/containers/" + id + "/logs"));
        assertError(400, "logs --since is not supported by Vessel yet", http.get("/containers/" + id + "/logs?stdout=1&since=5"));
        assertError(501, "POST /containers/{id}/pause is not served by Vessel's Engine API yet",
                http.postJson("/containers/later/pause", null));
        assertEquals("created", json(http.get("/containers/later/json")).at("/State/Status").asText(), "nothing changed");
    }

    @Test
    void waitForTheNextExitAnswersItsHeadAtOnce() throws Exception {
        // docker run starts the container only once it has this head: it must not wait for the exit.
        http.postJson("/containers/create?name=later", "{\"Image\":\"" + ApiFixture.IMAGE + "\"}");
        http.write("POST /containers/later/wait?condition=next-exit HTTP/1.1\r\nHost: api\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        UnixHttp.Response head = http.read(true);
        assertEquals(200, head.status());
        assertEquals("chunked", head.header("Transfer-Encoding"));
        assertEquals("application/json", head.header("Content-Type"));
    }

    /** Unix seconds with nanoseconds, as the docker CLI sends a time. */
    private static String unix(Instant t) {
        return t.getEpochSecond() + "." + String.format("%09d", t.getNano());
    }

    private static List<JsonNode> lines(String body) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        for (String line : body.split("\n")) {
            if (!line.isBlank()) {
                out.add(JSON.readTree(line));
            }
        }
        return out;
    }

    @Test
    void eventsBetweenSinceAndAPastUntilAreReplayedAndTheAnswerEnds() throws Exception {
        Instant since = Instant.now();
        String id = json(http.postJson("/containers/create?name=ev", "{\"Image\":\"" + ApiFixture.IMAGE + "\","
                + "\"Labels\":{\"team\":\"a\"}}")).get("Id").asText();
        assertEquals(204, http.send("DELETE", "/containers/ev", null, null).status());
        String until = unix(Instant.now());

        UnixHttp.Response r = http.get("/v1.44/events?since=" + unix(since) + "&until=" + until);
        assertEquals(200, r.status(), r.body());
        assertEquals("application/json", r.header("Content-Type"));
        assertEquals("chunked", r.header("Transfer-Encoding"));
        List<JsonNode> events = lines(r.body());
        assertEquals(List.of("create", "destroy"), events.stream().map(e -> e.get("Action").asText()).toList());
        JsonNode create = events.getFirst();
        assertEquals("container", create.get("Type").asText());
        assertEquals(id, create.at("/Actor/ID").asText());
        assertEquals("{\"image\":\"" + ApiFixture.IMAGE + "\",\"name\":\"ev\",\"team\":\"a\"}",
                create.at("/Actor/Attributes").toString());
        assertEquals("create", create.get("status").asText());
        assertEquals(id, create.get("id").asText());
        assertEquals(ApiFixture.IMAGE, create.get("from").asText());
        assertEquals("local", create.get("scope").asText());
        assertTrue(create.get("timeNano").asLong() >= since.getEpochSecond() * 1_000_000_000L, create.toString());

        // The fixture's import happened before: no since replays from the oldest event kept.
        List<JsonNode> images = lines(http.get("/events?until=" + until + "&filters="
                + filters("{\"type\":{\"image\":true}}")).body());
        assertEquals(List.of("import"), images.stream().map(e -> e.get("Action").asText()).toList());
        assertEquals(List.of("destroy"), lines(http.get("/events?since=0&until=" + until + "&filters="
                + filters("{\"event\":[\"destroy\"],\"container\":[\"ev\"]}")).body())
                .stream().map(e -> e.get("Action").asText()).toList());
        assertEquals("", http.get("/events?since=0&until=" + until + "&filters=" + filters("{\"label\":[\"team=b\"]}")).body());
    }

    @Test
    void badEventTimesAndFiltersAreDockersBadRequests() throws Exception {
        assertError(400, "failed to parse value as time or duration: \"yesterday\"", http.get("/events?since=yesterday"));
        assertError(400, "failed to parse value as time or duration: \"soon\"", http.get("/events?until=soon"));
        assertError(400, "`since` time (20) cannot be after `until` time (10)", http.get("/events?since=20&until=10"));
        assertError(400, "invalid filter 'colour'", http.get("/events?filters=" + filters("{\"colour\":[\"red\"]}")));
        assertError(400, "invalid filter", http.get("/events?filters=" + filters("[1]")));
        assertEquals(200, http.get("/_ping").status(), "the connection goes on");
    }

    @Test
    void aFollowedStreamSendsEachEventAsItComesAndStopsWhenItsClientLeaves() throws Exception {
        var journal = fixture.containers.events();
        try (UnixHttp follower = new UnixHttp(fixture.socket())) {
            follower.write(("GET /v1.51/events?filters=" + filters("{\"type\":[\"container\"]}")
                    + " HTTP/1.1\r\nHost: api\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            UnixHttp.Response head = follower.read(true);
            assertEquals(200, head.status(), "the head comes at once");
            assertEquals("chunked", head.header("Transfer-Encoding"));
            assertTrue(journal.awaitFollowers(1, Duration.ofSeconds(30)));
            assertEquals(1, json(http.get("/info")).get("NEventsListener").asInt());

            http.postJson("/containers/create?name=live", "{\"Image\":\"" + ApiFixture.IMAGE + "\"}");
            String got = follower.readUntil("\n\r\n"); // one event: its line, then its chunk's end
            assertTrue(got.contains("\"Action\":\"create\"") && got.contains("\"name\":\"live\""), got);
            assertTrue(!got.contains("\"Type\":\"network\""), got);
        }
        assertTrue(journal.awaitFollowers(0, Duration.ofSeconds(30)), "a client that left leaves no follower behind");
        assertEquals(0, json(http.get("/info")).get("NEventsListener").asInt());
    }

    @Test
    void malformedHttpIsABadRequestAndEndsTheConnection() throws Exception {
        http.write("NOT-HTTP\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        UnixHttp.Response r = http.read(false);
        assertError(400, "malformed HTTP request", r);
        assertTrue(http.closedByServer());
    }

    @Test
    void createRefusesMalformedJsonAndMakesNothing() throws Exception {
        assertTrue(json(http.postJson("/containers/create", "{\"Image\":")).get("message").asText().startsWith("invalid JSON: "));
        assertError(400, "invalid JSON: got EOF while reading request body", http.postJson("/containers/create", ""));
        assertError(400, "invalid JSON: json: cannot unmarshal array into Go value of type container.CreateRequest",
                http.postJson("/containers/create", "[]"));
        assertError(400, "unsupported Content-Type header (text/plain): must be 'application/json'",
                http.send("POST", "/containers/create", "text/plain", "{\"Image\":\"x\"}"));
        assertEquals("[]", http.get("/containers/json?all=1").body());
    }

    @Test
    void createRefusesFieldsOfTheWrongTypeInGosWords() throws Exception {
        String image = "\"Image\":\"" + ApiFixture.IMAGE + "\"";
        assertError(400, "invalid JSON: json: cannot unmarshal string into Go struct field CreateRequest.Tty of type bool",
                http.postJson("/containers/create", "{" + image + ",\"Tty\":\"yes\"}"));
        assertError(400, "invalid JSON: json: cannot unmarshal number into Go struct field CreateRequest.Cmd of type strslice.StrSlice",
                http.postJson("/containers/create", "{" + image + ",\"Cmd\":5}"));
        assertError(400, "invalid JSON: json: cannot unmarshal number into Go struct field CreateRequest.Env of type string",
                http.postJson("/containers/create", "{" + image + ",\"Env\":[1]}"));
        assertError(400, "invalid JSON: json: cannot unmarshal string into Go struct field CreateRequest.HostConfig of type container.HostConfig",
                http.postJson("/containers/create", "{" + image + ",\"HostConfig\":\"x\"}"));
        assertError(400, "invalid JSON: json: cannot unmarshal number into Go struct field HostConfig.AutoRemove of type bool",
                http.postJson("/containers/create", "{" + image + ",\"HostConfig\":{\"AutoRemove\":1}}"));
        assertError(400, "invalid JSON: json: cannot unmarshal number into Go struct field CreateRequest.Labels of type string",
                http.postJson("/containers/create", "{" + image + ",\"Labels\":{\"a\":1}}"));
        assertError(400, "invalid JSON: json: cannot unmarshal array into Go struct field CreateRequest.Labels of type map[string]string",
                http.postJson("/containers/create", "{" + image + ",\"Labels\":[\"a=b\"]}"));
        assertError(400, "invalid JSON: json: cannot unmarshal string into Go struct field HostConfig.PortBindings of type []nat.PortBinding",
                http.postJson("/containers/create", "{" + image + ",\"HostConfig\":{\"PortBindings\":{\"80/tcp\":\"8080\"}}}"));
        assertEquals("[]", http.get("/containers/json?all=1").body());
    }

    @Test
    void createRefusesWhatVesselDoesNotDoAndBadValues() throws Exception {
        String image = "\"Image\":\"" + ApiFixture.IMAGE + "\"";
        assertError(400, "HostConfig.Privileged is not supported by Vessel (yet): true",
                http.postJson("/containers/create", "{" + image + ",\"HostConfig\":{\"Privileged\":true}}"));
        assertError(400, "Config.StopSignal is not supported by Vessel (yet): \"SIGINT\"",
                http.postJson("/containers/create", "{" + image + ",\"StopSignal\":\"SIGINT\"}"));
        assertError(400, "invalid label '=x': empty name",
                http.postJson("/containers/create", "{" + image + ",\"Labels\":{\"\":\"x\"}}"));
        assertError(400, "invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', "
                + "or 'unless-stopped'", http.postJson("/containers/create", "{" + image
                        + ",\"HostConfig\":{\"RestartPolicy\":{\"Name\":\"sometimes\"}}}"));
        assertError(400, "invalid restart policy: maximum retry count cannot be negative",
                http.postJson("/containers/create", "{" + image
                        + ",\"HostConfig\":{\"RestartPolicy\":{\"Name\":\"on-failure\",\"MaximumRetryCount\":-1}}}"));
        assertError(400, "invalid restart policy: maximum retry count can only be used with 'on-failure'",
                http.postJson("/containers/create", "{" + image
                        + ",\"HostConfig\":{\"RestartPolicy\":{\"Name\":\"always\",\"MaximumRetryCount\":3}}}"));
        assertError(400, "can't create 'AutoRemove' container with restart policy",
                http.postJson("/containers/create", "{" + image
                        + ",\"HostConfig\":{\"AutoRemove\":true,\"RestartPolicy\":{\"Name\":\"unless-stopped\"}}}"));
        assertEquals(400, http.postJson("/containers/create", "{" + image + ",\"HostConfig\":{\"NanoCpus\":1500000000}}").status());
        assertError(400, "Invalid container name (-bad), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed",
                http.postJson("/containers/create?name=-bad", "{" + image + "}"));
        assertError(400, "network host is not supported: every Vessel container is a VM with a kernel and network stack "
                + "of its own (publish ports with -p instead)",
                http.postJson("/containers/create", "{" + image + ",\"HostConfig\":{\"NetworkMode\":\"host\"}}"));
        assertError(404, "No such image: nosuch:latest", http.postJson("/containers/create", "{\"Image\":\"nosuch\"}"));
        assertEquals("[]", http.get("/containers/json?all=1").body());
    }

    @Test
    void createMapsConfigHostConfigAndNetworkingOntoTheContainer() throws Exception {
        UnixHttp.Response net = http.postJson("/v1.50/networks/create",
                "{\"Name\":\"front\",\"IPAM\":{\"Driver\":\"default\",\"Config\":[{\"Subnet\":\"10.88.0.0/24\"}]}}");
        assertEquals(201, net.status(), net.body());
        String body = """
                {"Image":"%s","Cmd":["-c","true"],"Entrypoint":"sh","Env":["A=1"],"WorkingDir":"/srv","User":"1:2",
                 "Hostname":"box","Tty":true,"OpenStdin":true,"AttachStdout":true,"Labels":{},
                 "HostConfig":{"AutoRemove":true,"NetworkMode":"front","Memory":134217728,"NanoCpus":2000000000,
                   "PortBindings":{"80/tcp":[{"HostIp":"127.0.0.1","HostPort":"8080"}]},"RestartPolicy":{"Name":"no"},
                   "MemorySwappiness":-1,"ConsoleSize":[0,0],"Binds":null},
                 "NetworkingConfig":{"EndpointsConfig":{"front":{"Aliases":["db"],"IPAMConfig":{"IPv4Address":"10.88.0.9"}}}}}
                """.formatted(ApiFixture.IMAGE);
        UnixHttp.Response created = http.postJson("/v1.50/containers/create?name=db", body);
        assertEquals(201, created.status(), created.body());
        String id = json(created).get("Id").asText();
        assertEquals("[]", json(created).get("Warnings").toString());

        JsonNode c = json(http.get("/v1.50/containers/db/json"));
        assertEquals(id, c.get("Id").asText());
        assertEquals("sh", c.get("Path").asText());
        assertEquals("[\"-c\",\"true\"]", c.get("Args").toString());
        assertEquals("/srv", c.at("/Config/WorkingDir").asText());
        assertEquals("1:2", c.at("/Config/User").asText());
        assertEquals("box", c.at("/Config/Hostname").asText());
        assertTrue(c.at("/Config/Tty").asBoolean() && c.at("/Config/OpenStdin").asBoolean());
        assertTrue(c.at("/HostConfig/AutoRemove").asBoolean());
        assertEquals("{\"Name\":\"no\",\"MaximumRetryCount\":0}", c.at("/HostConfig/RestartPolicy").toString());
        assertEquals(0, c.get("RestartCount").asInt());
        assertFalse(c.at("/State/Restarting").asBoolean());
        assertEquals(134217728, c.at("/HostConfig/Memory").asLong());
        assertEquals(2000000000L, c.at("/HostConfig/NanoCpus").asLong());
        assertEquals("front", c.at("/HostConfig/NetworkMode").asText());
        assertEquals("{\"80/tcp\":[{\"HostIp\":\"127.0.0.1\",\"HostPort\":\"8080\"}]}", c.at("/HostConfig/PortBindings").toString());
        assertEquals("10.88.0.9", c.at("/NetworkSettings/Networks/front/IPAddress").asText());
        assertEquals("[\"db\"]", c.at("/NetworkSettings/Networks/front/Aliases").toString());

        assertError(409, "Conflict. The container name \"/db\" is already in use by container \"" + id
                + "\". You have to remove (or rename) that container to be able to reuse that name.",
                http.postJson("/containers/create?name=db", "{\"Image\":\"" + ApiFixture.IMAGE + "\"}"));
        assertError(400, "a Vessel container is created on one network: connect it to b with network connect",
                http.postJson("/containers/create", "{\"Image\":\"" + ApiFixture.IMAGE + "\",\"NetworkingConfig\":"
                        + "{\"EndpointsConfig\":{\"front\":{},\"b\":{}}}}"));
        assertEquals(1, json(http.get("/containers/json?all=1")).size());
    }

    @Test
    void restartPolicyIsKeptAndShownAsDockerdShowsIt() throws Exception {
        UnixHttp.Response created = http.postJson("/containers/create?name=flaky", "{\"Image\":\"" + ApiFixture.IMAGE
                + "\",\"HostConfig\":{\"RestartPolicy\":{\"Name\":\"on-failure\",\"MaximumRetryCount\":3}}}");
        assertEquals(201, created.status(), created.body());
        JsonNode c = json(http.get("/containers/flaky/json"));
        assertEquals("{\"Name\":\"on-failure\",\"MaximumRetryCount\":3}", c.at("/HostConfig/RestartPolicy").toString());
        assertEquals("created", c.at("/State/Status").asText());

        // Clients before API 1.44 send an empty name for none.
        assertEquals(201, http.postJson("/containers/create?name=plain", "{\"Image\":\"" + ApiFixture.IMAGE
                + "\",\"HostConfig\":{\"RestartPolicy\":{\"Name\":\"\",\"MaximumRetryCount\":0}}}").status());
        assertEquals("no", json(http.get("/containers/plain/json")).at("/HostConfig/RestartPolicy/Name").asText());
    }

    @Test
    void containerListFiltersAsDockerdDoes() throws Exception {
        String image = "{\"Image\":\"" + ApiFixture.IMAGE + "\"}";
        assertEquals(201, http.postJson("/containers/create?name=alpha", image).status());
        String beta = json(http.postJson("/containers/create?name=beta", image)).get("Id").asText();

        assertEquals("[]", http.get("/containers/json").body(), "none is running");
        assertEquals(2, json(http.get("/containers/json?all=1")).size());
        JsonNode byName = json(http.get("/containers/json?all=1&filters=" + filters("{\"name\":{\"bet\":true}}")));
        assertEquals(1, byName.size());
        assertEquals("/beta", byName.at("/0/Names/0").asText());
        assertEquals(beta, byName.at("/0/Id").asText());
        assertEquals("created", byName.at("/0/State").asText());
        assertEquals(ApiFixture.IMAGE, byName.at("/0/Image").asText());
        assertEquals(1, json(http.get("/containers/json?all=1&filters=" + filters("{\"id\":[\"" + beta.substring(0, 8) + "\"]}"))).size(),
                "the older list form of a filter");
        assertEquals(2, json(http.get("/containers/json?filters=" + filters("{\"status\":{\"created\":true}}"))).size(),
                "a status filter looks at every container");
        assertEquals(2, json(http.get("/containers/json?all=1&filters=" + filters("{\"ancestor\":{\"" + ApiFixture.IMAGE + "\":true}}"))).size());
        assertEquals(0, json(http.get("/containers/json?all=1&filters=" + filters("{\"label\":{\"a=b\":true}}"))).size(),
                "neither has labels");
        assertEquals(1, json(http.get("/containers/json?all=1&limit=1")).size());

        assertError(400, "invalid filter 'foo'", http.get("/containers/json?filters=" + filters("{\"foo\":{\"x\":true}}")));
        assertError(400, "invalid filter 'status=bogus'", http.get("/containers/json?filters=" + filters("{\"status\":[\"bogus\"]}")));
        assertError(400, "invalid filter", http.get("/containers/json?filters=" + filters("{")));
    }

    @Test
    void aHealthcheckIsTakenShownAndFilteredAsDockerdDoes() throws Exception {
        String body = "{\"Image\":\"" + ApiFixture.IMAGE + "\",\"Healthcheck\":{\"Test\":[\"CMD-SHELL\",\"true\"],"
                + "\"Interval\":2000000000,\"Timeout\":0,\"StartPeriod\":null,\"Retries\":4}}";
        String checked = json(http.postJson("/containers/create?name=checked", body)).get("Id").asText();
        assertEquals(201, http.postJson("/containers/create?name=plain", "{\"Image\":\"" + ApiFixture.IMAGE + "\"}").status());
        assertEquals("{\"Test\":[\"CMD-SHELL\",\"true\"],\"Interval\":2000000000,\"Retries\":4}",
                json(http.get("/containers/checked/json")).at("/Config/Healthcheck").toString());

        var c = fixture.containers.require(checked);
        long start = ProcessHandle.current().info().startInstant().orElseThrow().toEpochMilli();
        c.writeState(c.state().running(ProcessHandle.current().pid(), start, false)
                .withHealth(new dev.vessel.container.Health("healthy", 0, List.of())));
        assertEquals("healthy", json(http.get("/containers/checked/json")).at("/State/Health/Status").asText());
        assertEquals("[/checked]", filtered("{\"health\":[\"healthy\"]}"));
        assertEquals("[/plain]", filtered("{\"health\":[\"none\"]}"));
        assertEquals("[]", filtered("{\"health\":[\"starting\"]}"));
        assertEquals("[/checked, /plain]", filtered("{\"health\":[\"healthy\",\"none\"]}"), "any of the values");
        assertTrue(json(http.get("/containers/json")).at("/0/Status").asText().endsWith(" (healthy)"));
        assertError(400, "Unrecognised filter value for health: sick",
                http.get("/containers/json?filters=" + filters("{\"health\":[\"sick\"]}")));

        String image = "\"Image\":\"" + ApiFixture.IMAGE + "\"";
        assertError(400, "Interval in Healthcheck cannot be less than 1ms",
                http.postJson("/containers/create", "{" + image + ",\"Healthcheck\":{\"Interval\":-10000000}}"));
        assertError(400, "Retries in Healthcheck cannot be negative",
                http.postJson("/containers/create", "{" + image + ",\"Healthcheck\":{\"Retries\":-1}}"));
        assertError(400, "invalid JSON: json: cannot unmarshal string into Go struct field HealthConfig.Interval of type int64",
                http.postJson("/containers/create", "{" + image + ",\"Healthcheck\":{\"Interval\":\"5s\"}}"));
        assertError(400, "Healthcheck.Shell is not supported by Vessel (yet): [\"bash\"]",
                http.postJson("/containers/create", "{" + image + ",\"Healthcheck\":{\"Shell\":[\"bash\"]}}"));
        assertEquals(2, json(http.get("/containers/json?all=1")).size(), "nothing made of the bad ones");
    }

    @Test
    void labelsAreKeptShownAndFilteredAsDockerdDoes() throws Exception {
        String image = "\"Image\":\"" + ApiFixture.IMAGE + "\"";
        assertEquals(201, http.postJson("/containers/create?name=web", "{" + image
                + ",\"Labels\":{\"role\":\"web\",\"com.docker.compose.project\":\"demo\",\"empty\":\"\"}}").status());
        assertEquals(201, http.postJson("/containers/create?name=db", "{" + image
                + ",\"Labels\":{\"com.docker.compose.project\":\"demo\",\"role\":\"db\",\"gone\":null}}").status());
        assertEquals(201, http.postJson("/containers/create?name=plain", "{" + image + "}").status());

        String web = "{\"com.docker.compose.project\":\"demo\",\"empty\":\"\",\"role\":\"web\"}";
        assertEquals(web, json(http.get("/containers/web/json")).at("/Config/Labels").toString(), "sorted, as Go writes maps");
        assertEquals("{\"com.docker.compose.project\":\"demo\",\"gone\":\"\",\"role\":\"db\"}",
                json(http.get("/containers/db/json")).at("/Config/Labels").toString(), "null is Go's empty string");
        assertEquals("{}", json(http.get("/containers/plain/json")).at("/Config/Labels").toString());
        for (JsonNode c : json(http.get("/containers/json?all=1"))) {
            assertEquals(json(http.get("/containers/" + c.get("Id").asText() + "/json")).at("/Config/Labels"), c.get("Labels"));
        }

        assertEquals("[/db, /web]", filtered("{\"label\":{\"role\":true}}"), "a key alone: the label is there");
        assertEquals("[/web]", filtered("{\"label\":{\"role=web\":true}}"));
        assertEquals("[/web]", filtered("{\"label\":[\"empty=\"]}"), "KEY= wants the empty value");
        assertEquals("[]", filtered("{\"label\":[\"role=\"]}"));
        assertEquals("[]", filtered("{\"label\":[\"missing\"]}"));
        assertEquals("[/db]", filtered("{\"label\":{\"com.docker.compose.project=demo\":true,\"role=db\":true}}"),
                "every value must hold");
        assertEquals("[]", filtered("{\"label\":{\"role=web\":true,\"role=db\":true}}"));
        assertEquals("[/db]", filtered("{\"label\":[\"role\"],\"name\":[\"d\"]}"), "with the other filters");
    }

    /** The names of the containers a filter lets through, sorted. */
    private String filtered(String filter) throws IOException {
        List<String> names = new ArrayList<>();
        json(http.get("/containers/json?all=1&filters=" + filters(filter))).forEach(c -> names.add(c.at("/Names/0").asText()));
        return names.stream().sorted().toList().toString();
    }

    @Test
    void removeAContainerOrSayThereIsNone() throws Exception {
        assertError(404, "No such container: nosuch", http.send("DELETE", "/containers/nosuch", null, null));
        String id = json(http.postJson("/containers/create", "{\"Image\":\"" + ApiFixture.IMAGE + "\"}")).get("Id").asText();
        assertEquals(204, http.send("DELETE", "/v1.47/containers/" + id.substring(0, 10) + "?force=1", null, null).status());
        assertError(404, "No such container: " + id, http.get("/containers/" + id + "/json"));
    }

    @Test
    void imagesAreTaggedInspectedAndRemovedByNamesWithSlashes() throws Exception {
        assertEquals(201, http.postJson("/images/vessel-test/tiny:1/tag?repo=reg.example:5000/a/b&tag=2", null).status());
        JsonNode img = json(http.get("/images/reg.example:5000/a/b:2/json"));
        assertTrue(img.get("RepoTags").toString().contains("reg.example:5000/a/b:2"), img.toString());
        assertError(404, "No such image: nosuch:latest", http.postJson("/images/nosuch/tag?repo=x", null));
        assertError(400, "repository name must have at least one component", http.postJson("/images/" + ApiFixture.IMAGE + "/tag", null));
        JsonNode list = json(http.get("/images/json"));
        assertEquals(1, list.size(), "one image with two names");
        assertEquals(2, list.at("/0/RepoTags").size());
        assertEquals("[{\"Untagged\":\"reg.example:5000/a/b:2\"}]", http.send("DELETE", "/images/reg.example:5000/a/b:2", null, null).body());
        assertError(404, "No such image: reg.example:5000/a/b:2", http.get("/images/reg.example:5000/a/b:2/json"));
    }

    @Test
    void networkCreateChecksItsBodyAndPruneRemovesUnused() throws Exception {
        assertError(400, "invalid JSON: json: cannot unmarshal number into Go struct field CreateRequest.Name of type string",
                http.postJson("/networks/create", "{\"Name\":5}"));
        assertError(400, "EnableIPv6 is not supported by Vessel (yet): true",
                http.postJson("/networks/create", "{\"Name\":\"n\",\"EnableIPv6\":true}"));
        assertError(400, "a Vessel network has one IPv4 subnet: IPAM.Config has 2",
                http.postJson("/networks/create", "{\"Name\":\"n\",\"IPAM\":{\"Config\":[{\"Subnet\":\"10.1.0.0/24\"},{\"Subnet\":\"10.2.0.0/24\"}]}}"));
        assertError(404, "network nosuch not found", http.get("/networks/nosuch"));
        assertEquals(1, json(http.get("/networks")).size(), "only the default network");

        assertEquals(201, http.postJson("/networks/create", "{\"Name\":\"spare\"}").status());
        assertEquals("spare", json(http.get("/networks?filters=" + filters("{\"name\":{\"spa\":true}}"))).at("/0/Name").asText());
        assertEquals("{\"NetworksDeleted\":[\"spare\"]}", http.postJson("/networks/prune", null).body());
        assertError(403, "bridge is a pre-defined network and cannot be removed", http.send("DELETE", "/networks/bridge", null, null));
    }

    @Test
    void networksAreListedAndPrunedByLabel() throws Exception {
        assertEquals(201, http.postJson("/networks/create",
                "{\"Name\":\"app_default\",\"Labels\":{\"com.docker.compose.project\":\"app\",\"keep\":\"\"}}").status());
        assertEquals(201, http.postJson("/networks/create",
                "{\"Name\":\"other\",\"Labels\":{\"com.docker.compose.project\":\"other\"}}").status());
        assertEquals(201, http.postJson("/networks/create", "{\"Name\":\"bare\"}").status());
        assertEquals("[app_default]", networks("/networks?filters=" + filters("{\"label\":{\"com.docker.compose.project=app\":true}}")));
        assertEquals("[app_default, other]", networks("/networks?filters=" + filters("{\"label\":[\"com.docker.compose.project\"]}")));
        assertEquals("[]", networks("/networks?filters=" + filters("{\"label\":[\"keep\",\"com.docker.compose.project=other\"]}")));
        assertError(400, "invalid filter 'label!'", http.get("/networks?filters=" + filters("{\"label!\":[\"keep\"]}")));

        assertError(400, "network prune --filter until is not supported by Vessel yet",
                http.postJson("/networks/prune?filters=" + filters("{\"until\":[\"24h\"]}"), null));
        assertEquals("{\"NetworksDeleted\":[\"other\"]}", http.postJson("/networks/prune?filters="
                + filters("{\"label\":[\"com.docker.compose.project\"],\"label!\":[\"keep\"]}"), null).body(),
                "label! spares what it matches");
        assertEquals("{\"NetworksDeleted\":[\"app_default\"]}",
                http.postJson("/networks/prune?filters=" + filters("{\"label\":[\"keep=\"]}"), null).body());
        assertEquals("[bare, bridge]", networks("/networks"));
    }

    /** The names of the networks a list answers, sorted. */
    private String networks(String path) throws IOException {
        List<String> names = new ArrayList<>();
        json(http.get(path)).forEach(n -> names.add(n.get("Name").asText()));
        return names.stream().sorted().toList().toString();
    }

    /** Creates a container from the fixture's image: its id. */
    @Test
    void aWaitForRemovedEndsWhenAnotherClientRemovesTheContainer() throws Exception {
        String id = create("waited-away", "{}");
        try (java.nio.channels.SocketChannel waiter = java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            waiter.connect(java.net.UnixDomainSocketAddress.of(fixture.socket()));
            waiter.write(java.nio.ByteBuffer.wrap(("POST /v1.51/containers/" + id + "/wait?condition=removed HTTP/1.1\r\n"
                    + "Host: api\r\nContent-Length: 0\r\n\r\n").getBytes(StandardCharsets.US_ASCII)));
            // The head comes at once: the wait is in place before the removal.
            java.io.InputStream in = java.nio.channels.Channels.newInputStream(waiter);
            StringBuilder got = new StringBuilder();
            while (!got.toString().contains("\r\n\r\n")) {
                int c = in.read();
                assertTrue(c >= 0, "the wait's head never came: " + got);
                got.append((char) c);
            }
            assertTrue(got.toString().startsWith("HTTP/1.1 200"), got.toString());
            assertEquals(204, http.send("DELETE", "/containers/waited-away", null, (String) null).status());
            while (!got.toString().contains("\"Error\":null}")) {
                int c = in.read();
                assertTrue(c >= 0, "the wait ended without a status: " + got);
                got.append((char) c);
            }
            assertTrue(got.toString().contains("{\"StatusCode\":0,\"Error\":null}"), got.toString());
        }
    }

    private String create(String name, String labelsJson) throws IOException {
        UnixHttp.Response r = http.postJson("/containers/create?name=" + name,
                "{\"Image\":\"" + ApiFixture.IMAGE + "\",\"Labels\":" + labelsJson + "}");
        assertEquals(201, r.status(), r.body());
        return json(r).get("Id").asText();
    }

    /** The names of every container, sorted. */
    private String containerNames() throws IOException {
        List<String> names = new ArrayList<>();
        json(http.get("/containers/json?all=1")).forEach(c -> names.add(c.at("/Names/0").asText()));
        return names.stream().sorted().toList().toString();
    }

    @Test
    void renameIs204AndARefusalIsDockerdsAnswerThatChangesNothing() throws Exception {
        String a = create("xa", "{}");
        String b = create("xb", "{}");
        assertEquals(204, http.postJson("/v1.47/containers/xa/rename?name=xc", null).status());
        assertEquals("/xc", json(http.get("/containers/" + a + "/json")).get("Name").asText());
        assertError(404, "No such container: xa", http.get("/containers/xa/json"));

        assertError(409, "Error when allocating new name: Conflict. The container name \"/xb\" is already in use by container \""
                + b + "\". You have to remove (or rename) that container to be able to reuse that name.",
                http.postJson("/containers/xc/rename?name=xb", null));
        assertError(400, "Error when allocating new name: Invalid container name (/x y), only [a-zA-Z0-9][a-zA-Z0-9_.-] are "
                + "allowed", http.postJson("/containers/xc/rename?name=x%20y", null));
        assertError(400, "Neither old nor new names may be empty", http.postJson("/containers/xc/rename", null));
        assertError(400, "Renaming a container with the same name as its current name",
                http.postJson("/containers/xc/rename?name=/xc", null));
        assertError(404, "No such container: nosuch", http.postJson("/containers/nosuch/rename?name=d", null));
        assertError(405, "method GET not allowed on /containers/xc/rename", http.get("/containers/xc/rename?name=d"));
        assertEquals("[/xb, /xc]", containerNames());
    }

    @Test
    void containerPruneRemovesWhatDoesNotRunAndAnswersDockerdsReport() throws Exception {
        assertEquals("{\"ContainersDeleted\":null,\"SpaceReclaimed\":0}", http.postJson("/containers/prune", null).body());
        create("kept", "{\"keep\":\"yes\"}");
        String gone = create("gone", "{}");
        String running = create("running", "{}");
        var c = fixture.containers.require(running);
        c.writeState(c.state().running(ProcessHandle.current().pid(),
                ProcessHandle.current().info().startInstant().orElseThrow().toEpochMilli(), false));

        assertError(400, "invalid filter 'name'", http.postJson("/containers/prune?filters=" + filters("{\"name\":[\"x\"]}"), null));
        assertError(400, "invalid filter", http.postJson("/containers/prune?filters=" + filters("{\"label\":"), null));
        assertError(400, "invalid filter", http.postJson("/containers/prune?filters=" + filters("[\"label\"]"), null));
        assertError(400, "failed to parse value as time or duration: invalid seconds \"soon\": invalid syntax",
                http.postJson("/containers/prune?filters=" + filters("{\"until\":{\"soon\":true}}"), null));
        assertEquals("{\"ContainersDeleted\":null,\"SpaceReclaimed\":0}",
                http.postJson("/containers/prune?filters=" + filters("{\"until\":[\"1h\"]}"), null).body(), "all are newer");
        assertEquals("[/gone, /kept, /running]", containerNames(), "nothing changed");

        JsonNode r = json(http.postJson("/containers/prune?filters=" + filters("{\"label!\":{\"keep=yes\":true}}"), null));
        assertEquals("[\"" + gone + "\"]", r.get("ContainersDeleted").toString());
        assertTrue(r.get("SpaceReclaimed").asLong() > 0, "its writable disk's blocks: " + r);
        assertEquals("[/kept, /running]", containerNames(), "a running one is never pruned");
    }

    @Test
    void imagePruneRemovesDanglingOrUnusedImagesButNeverOneAContainerUses() throws Exception {
        byte[] rootfs = dev.vessel.image.Tars.tar().file("other", "x").bytes();
        var dangling = fixture.images.importRootfs(new java.io.ByteArrayInputStream(rootfs), null, List.of(), null);
        var other = fixture.images.importRootfs(new java.io.ByteArrayInputStream(rootfs), "other:1", List.of("LABEL a=b"), null);
        create("user", "{}");

        assertError(400, "invalid filter 'reference'", http.postJson("/images/prune?filters=" + filters("{\"reference\":[\"x\"]}"), null));
        assertError(400, "invalid filter 'dangling=[maybe]'",
                http.postJson("/images/prune?filters=" + filters("{\"dangling\":[\"maybe\"]}"), null));
        assertError(400, "invalid value for 'until' filter: failed to parse value as time or duration: invalid seconds \"x\": "
                + "invalid syntax", http.postJson("/images/prune?filters=" + filters("{\"until\":[\"x\"]}"), null));
        assertEquals(3, json(http.get("/images/json")).size(), "nothing changed");

        JsonNode r = json(http.postJson("/v1.47/images/prune", null));
        assertEquals("[{\"Deleted\":\"" + dangling.id() + "\"}]", r.get("ImagesDeleted").toString(), "dangling only, by default");
        assertTrue(r.get("SpaceReclaimed").asLong() > 0, r.toString());
        assertEquals("{\"ImagesDeleted\":null,\"SpaceReclaimed\":0}",
                http.postJson("/images/prune?filters=" + filters("{\"dangling\":[\"false\"],\"label!\":[\"a=b\"]}"), null).body());
        JsonNode all = json(http.postJson("/images/prune?filters=" + filters("{\"dangling\":{\"false\":true}}"), null));
        assertEquals("[{\"Untagged\":\"other:1\"},{\"Deleted\":\"" + other.id() + "\"}]", all.get("ImagesDeleted").toString());
        assertEquals(ApiFixture.IMAGE, json(http.get("/images/json")).at("/0/RepoTags/0").asText(), "the container's image stays");
        assertEquals(1, json(http.get("/images/json")).size());
    }

    @Test
    void systemDfHasTheImagesAndContainersWithWhatTheyTakeOnDisk() throws Exception {
        String id = create("sized", "{}");
        JsonNode df = json(http.get("/system/df"));
        assertEquals(List.of("LayersSize", "Images", "Containers", "Volumes", "BuildCache"), fieldNames(df));
        JsonNode img = df.at("/Images/0");
        assertEquals(1, df.get("Images").size());
        assertEquals(fixture.images.resolve(ApiFixture.IMAGE).id().toString(), img.get("Id").asText());
        assertEquals("[\"" + ApiFixture.IMAGE + "\"]", img.get("RepoTags").toString());
        assertEquals(1, img.get("Containers").asInt());
        assertEquals(0, img.get("SharedSize").asLong());
        assertTrue(img.get("Size").asLong() > 0 && img.get("Created").asLong() > 0, img.toString());
        assertEquals(img.get("Size").asLong(), df.get("LayersSize").asLong(), "one image: it is all there is");
        JsonNode c = df.at("/Containers/0");
        assertEquals(id, c.get("Id").asText());
        assertEquals("[\"/sized\"]", c.get("Names").toString());
        assertEquals("created", c.get("State").asText());
        long sizeRw = c.get("SizeRw").asLong();
        assertTrue(sizeRw > 0 && sizeRw < 1L << 30, "the blocks of a sparse disk, not its size: " + sizeRw);
        assertEquals(sizeRw + img.get("Size").asLong(), c.get("SizeRootFs").asLong());
        assertEquals("[]", df.get("Volumes").toString());
        assertEquals("[]", df.get("BuildCache").toString());

        assertEquals(List.of("LayersSize", "Images"), fieldNames(json(http.get("/system/df?type=image"))));
        assertEquals(List.of("Containers", "Volumes"), fieldNames(json(http.get("/system/df?type=container&type=volume"))));
        assertEquals(5, fieldNames(json(http.get("/v1.41/system/df?type=image"))).size(), "type came with API 1.42");
        assertError(400, "unknown object type: layers", http.get("/system/df?type=layers"));
    }

    /** A JSON object's field names, in their order. */
    private static List<String> fieldNames(JsonNode o) {
        return o.properties().stream().map(java.util.Map.Entry::getKey).toList();
    }

    @Test
    void saveStreamsDockersArchiveAndLoadReadsABodyLargerThanAnyOtherAsItArrives() throws Exception {
        var other = dev.vessel.image.ImageStore.open(dir.resolve("other"), dev.vessel.image.UnpackPolicy.defaults());
        byte[] noise = new byte[6 << 20]; // past the 4 MiB a request body is otherwise held to, and incompressible
        new java.util.Random(7).nextBytes(noise);
        var big = other.importRootfs(new java.io.ByteArrayInputStream(dev.vessel.image.Tars.tar().file("noise", noise, 0644, 0, 0)
                .bytes()), "big:1", List.of(), null);
        java.io.ByteArrayOutputStream archive = new java.io.ByteArrayOutputStream();
        try (var w = other.save(List.of("big:1"))) {
            w.write(archive);
        }

        UnixHttp.Response loaded = http.sendBytes("POST", "/v1.47/images/load?quiet=1", "application/x-tar", archive.toByteArray());
        assertEquals(200, loaded.status(), loaded.body());
        assertEquals("application/json", loaded.header("Content-Type"));
        assertEquals("{\"stream\":\"Loaded image: big:1\\n\"}\r\n", loaded.body());
        assertEquals("close", loaded.header("Connection"), "a streamed body's connection is not reused");
        try (UnixHttp again = new UnixHttp(fixture.socket())) {
            assertEquals(big.id().toString(), JSON.readTree(again.get("/images/big:1/json").body()).get("Id").asText());

            UnixHttp.Response saved = again.get("/images/big:1/get");
            assertEquals(200, saved.status());
            assertEquals("application/x-tar", saved.header("Content-Type"));
            assertTrue(java.util.Arrays.equals(archive.toByteArray(), saved.bytes()), "the same image, the same archive");
            UnixHttp.Response both = again.get("/images/get?names=big:1&names=" + ApiFixture.IMAGE);
            var copy = dev.vessel.image.ImageStore.open(dir.resolve("copy"), dev.vessel.image.UnpackPolicy.defaults());
            assertEquals(2, copy.load(new java.io.ByteArrayInputStream(both.bytes()), "saved").size());

            assertError(404, "No such image: nosuch:latest", again.get("/images/get?names=big:1&names=nosuch"));
            assertError(400, "no image names given: names=IMAGE", again.get("/images/get"));
            assertError(400, "platform {\"os\":\"linux\",\"architecture\":\"arm64\"} is not supported: Vessel has "
                    + "linux/amd64 images only", again.get("/images/big:1/get?platform="
                    + filters("{\"os\":\"linux\",\"architecture\":\"arm64\"}")));
        }
        try (UnixHttp third = new UnixHttp(fixture.socket())) {
            UnixHttp.Response bad = third.send("POST", "/images/load", "application/x-tar", "not an archive");
            assertEquals(200, bad.status(), "dockerd's answer has begun: the failure is its last message");
            JsonNode error = JSON.readTree(bad.body());
            assertTrue(error.get("error").asText().startsWith("invalid archive from the request body: "), bad.body());
            assertEquals(error.get("error"), error.at("/errorDetail/message"));
        }
        assertEquals(2, fixture.images.list().size(), "the fixture's image and big:1, nothing of the bad archive");
    }

    @Test
    void theSocketIsForItsOwnerAndGroupAndOnlyAStaleOneIsReplaced() throws Exception {
        assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(fixture.socket())));
        IOException live = assertThrows(IOException.class, () -> ApiServer.start(fixture.socket(), null));
        assertEquals("a server listens on " + fixture.socket() + " already", live.getMessage());

        Path notASocket = Files.writeString(dir.resolve("file.sock"), "x");
        IOException file = assertThrows(IOException.class, () -> ApiServer.start(notASocket, null));
        assertEquals(notASocket + " exists and is not a socket", file.getMessage());
        assertEquals("x", Files.readString(notASocket), "left as it was");
    }

    @Test
    void theServerIsIdleOnceNoRequestIsInFlight() throws Exception {
        assertEquals(200, http.get("/_ping").status());
        assertTrue(fixture.server.awaitIdle(Duration.ofMillis(50)));
        fixture.server.close();
        assertTrue(Files.notExists(fixture.socket()), "the socket file goes with the server");
        assertEquals(false, fixture.server.awaitIdle(Duration.ofSeconds(60)), "a closed server is not waited for");
    }
}
