package dev.vessel.cli;

import dev.vessel.container.CreateRequest;
import dev.vessel.container.RestartPolicy;
import dev.vessel.image.HealthConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What `vessel run` asks the container service for: its flags, env files and host values resolved here. */
class RunCommandTest {
    @TempDir
    Path dir;

    private static RunCommand run(String image, String... command) {
        RunCommand r = new RunCommand();
        r.image = image;
        r.command = List.of(command);
        return r;
    }

    @Test
    void flagsBecomeTheRequest() throws Exception {
        RunCommand r = run("busybox", "sh", "-c", "true");
        r.name = "web";
        r.tty = true;
        r.interactive = true;
        r.rm = true;
        r.workdir = "/srv";
        r.user = "nobody";
        r.hostname = "h";
        r.cpus = 2;
        r.memory = "512M";
        r.diskSize = "1G";
        CreateRequest q = r.request(Map.of());
        assertEquals(new CreateRequest("busybox", "web", List.of("sh", "-c", "true"), null, List.of(), "/srv", "nobody", "h",
                true, true, true, 512L << 20, 2, 1L << 30, Map.of(), null, Map.of(), null, null), q);
    }

    @Test
    void healthFlagsAreDockersHealthcheck() throws Exception {
        RunCommand r = run("busybox");
        assertNull(r.request(Map.of()).healthcheck(), "no flag: the image's");
        r.health.cmd = "wget -q localhost || exit 1";
        r.health.interval = "1m30s";
        r.health.timeout = "500ms";
        r.health.startPeriod = "10s";
        r.health.startInterval = "1s";
        r.health.retries = "5";
        assertEquals(new HealthConfig(List.of("CMD-SHELL", "wget -q localhost || exit 1"), 90_000_000_000L, 500_000_000L,
                10_000_000_000L, 1_000_000_000L, 5), r.request(Map.of()).healthcheck());

        RunCommand timing = run("busybox");
        timing.health.interval = "5s";
        assertEquals(new HealthConfig(null, 5_000_000_000L, 0, 0, 0, 0), timing.request(Map.of()).healthcheck(),
                "no command: the image's, at this interval");

        RunCommand off = run("busybox");
        off.health.none = true;
        assertEquals(HealthConfig.NONE, off.request(Map.of()).healthcheck());

        RunCommand parsed = new RunCommand();
        new picocli.CommandLine(parsed).parseArgs("--health-cmd", "true", "--health-retries", "1", "--no-healthcheck",
                "busybox", "sh");
        assertEquals("true", parsed.health.cmd, "run's own flags");
        assertTrue(parsed.health.none);
        assertEquals("1", parsed.health.retries);
    }

    @Test
    void badHealthFlagsAreDockerCliErrors() {
        assertEquals("--no-healthcheck conflicts with --health-* options", healthError(h -> {
            h.none = true;
            h.retries = "2";
        }));
        assertEquals("--health-interval cannot be negative", healthError(h -> h.interval = "-1s"));
        assertEquals("--health-timeout cannot be negative", healthError(h -> h.timeout = "-1s"));
        assertEquals("--health-retries cannot be negative", healthError(h -> h.retries = "-1"));
        assertEquals("--health-start-period cannot be negative", healthError(h -> h.startPeriod = "-1ms"));
        assertEquals("--health-start-interval cannot be negative", healthError(h -> h.startInterval = "-1h"));
        assertEquals("invalid argument \"30\" for \"--health-interval\" flag: time: missing unit in duration \"30\"",
                healthError(h -> h.interval = "30"));
        assertEquals("invalid argument \"x\" for \"--health-retries\" flag: strconv.ParseInt: parsing \"x\": invalid syntax",
                healthError(h -> h.retries = "x"));
    }

    private static String healthError(java.util.function.Consumer<HealthOptions> flags) {
        RunCommand r = run("busybox");
        flags.accept(r.health);
        UserError e = assertThrows(UserError.class, () -> r.request(Map.of()));
        assertEquals(125, e.status());
        return e.getMessage();
    }

    @Test
    void defaultsAreTheCliDefaults() throws Exception {
        CreateRequest q = run("busybox").request(Map.of());
        assertNull(q.name());
        assertNull(q.entrypoint(), "the image's entrypoint");
        assertEquals(256L << 20, q.memoryBytes());
        assertEquals(1, q.cpus());
        assertEquals(2L << 30, q.diskBytes());
    }

    @Test
    void anEmptyEntrypointClearsTheImages() throws Exception {
        RunCommand r = run("busybox", "true");
        r.entrypoint = "";
        assertEquals(List.of(""), r.request(Map.of()).entrypoint());
    }

    @Test
    void envFilesThenFlagsAndANameAloneTakesTheHostsValue() throws Exception {
        Path file = Files.writeString(dir.resolve("env"), "# comment\n\nFROM_FILE=1\n  HOSTVAR  \nABSENT\n");
        RunCommand r = run("busybox");
        r.envFiles = List.of(file);
        r.env = List.of("A=b=c", "HOSTVAR", "NOT_THERE");
        assertEquals(List.of("FROM_FILE=1", "HOSTVAR=from host", "A=b=c", "HOSTVAR=from host"),
                r.request(Map.of("HOSTVAR", "from host")).env());
    }

    @Test
    void badFlagsAreDockerRunsStatus() {
        RunCommand r = run("busybox");
        r.env = List.of("=x");
        UserError e = assertThrows(UserError.class, () -> r.request(Map.of()));
        assertEquals("invalid environment variable: =x", e.getMessage());
        assertEquals(125, e.status());

        RunCommand missing = run("busybox");
        missing.envFiles = List.of(dir.resolve("nope"));
        assertEquals(125, assertThrows(UserError.class, () -> missing.request(Map.of())).status());

        RunCommand size = run("busybox");
        size.memory = "lots";
        UserError s = assertThrows(UserError.class, () -> size.request(Map.of()));
        assertTrue(s.getMessage().startsWith("invalid size: "), s.getMessage());
        assertEquals(125, s.status());
    }

    @Test
    void logOptionsAreDockersKeyValuePairs() throws Exception {
        RunCommand r = run("busybox");
        r.logOpts = List.of("max-size=10m", "max-file=3");
        assertEquals(Map.of("max-size", "10m", "max-file", "3"), r.request(Map.of()).logOptions());
        assertEquals(Map.of(), run("busybox").request(Map.of()).logOptions(), "the local driver's defaults");
        RunCommand bad = run("busybox");
        bad.logOpts = List.of("max-size");
        UserError e = assertThrows(UserError.class, () -> bad.request(Map.of()));
        assertEquals("invalid log option 'max-size': expected KEY=VALUE", e.getMessage());
        assertEquals(125, e.status());
    }

    @Test
    void restartPoliciesAsDockersCliReadsThem() throws Exception {
        assertEquals(RestartPolicy.NONE, run("busybox").request(Map.of()).restartPolicy(), "none by default");
        assertEquals(new RestartPolicy("always", 0), restart("always", false));
        assertEquals(new RestartPolicy("unless-stopped", 0), restart("unless-stopped", false));
        assertEquals(new RestartPolicy("on-failure", 0), restart("on-failure", false), "no limit");
        assertEquals(new RestartPolicy("on-failure", 5), restart("on-failure:5", false));
        assertEquals(RestartPolicy.NONE, restart("no", true), "no goes with --rm");
    }

    @Test
    void badRestartPoliciesAreRefusedInDockersWords() {
        assertRestartRefused("Conflicting options: --restart and --rm", "always", true);
        assertRestartRefused("Conflicting options: --restart and --rm", "on-failure:2", true);
        assertRestartRefused("invalid restart policy: unknown policy 'sometimes'; use one of 'no', 'always', 'on-failure', "
                + "or 'unless-stopped'", "sometimes", false);
        assertRestartRefused("invalid restart policy: maximum retry count cannot be negative", "on-failure:-1", false);
        assertRestartRefused("invalid restart policy: maximum retry count can only be used with 'on-failure'", "always:3", false);
        assertRestartRefused("invalid restart policy: maximum retry count can only be used with 'on-failure' and cannot be "
                + "negative", "unless-stopped:-2", false);
        assertRestartRefused("invalid restart policy format: maximum retry count must be an integer", "on-failure:x", false);
        assertRestartRefused("invalid restart policy format: maximum retry count must be an integer", "on-failure:1:2", false);
        assertRestartRefused("invalid restart policy format: no policy provided before colon", ":3", false);
    }

    private static RestartPolicy restart(String flag, boolean rm) throws UserError {
        RunCommand r = run("busybox");
        r.restart = flag;
        r.rm = rm;
        return r.request(Map.of()).restartPolicy();
    }

    private static void assertRestartRefused(String message, String flag, boolean rm) {
        UserError e = assertThrows(UserError.class, () -> restart(flag, rm));
        assertEquals(message, e.getMessage());
        assertEquals(125, e.status(), "docker run's status for a bad flag");
    }

    @Test
    void labelFilesThenFlagsAsDockersCliReadsThem() throws Exception {
        Path file = Files.writeString(dir.resolve("labels"),
                "\uFEFF# comment\n\n  com.example.team=core\nbare\nquoted=\"a b\" \nover=file\n");
        RunCommand r = run("busybox");
        r.labelFiles = List.of(file);
        r.labels = List.of("over=flag", "a=b=c", "c");
        Map<String, String> labels = r.request(Map.of()).labels();
        assertEquals(List.of("com.example.team", "bare", "quoted", "over", "a", "c"), List.copyOf(labels.keySet()));
        assertEquals(Map.of("com.example.team", "core", "bare", "", "quoted", "\"a b\" ", "over", "flag", "a", "b=c", "c", ""),
                labels, "values as written; a key alone is an empty value; the flags' over the files'");
        assertEquals(Map.of(), run("busybox").request(Map.of()).labels());
    }

    @Test
    void aLabelNeedsANameWithoutBlanks() throws Exception {
        assertLabelRefused("invalid label '=x': empty name", List.of("=x"), null);
        assertLabelRefused("invalid label ' =x': empty name", List.of(" =x"), null);
        assertLabelRefused("label 'a b' contains whitespaces", List.of("a b=c"), null);
        Path file = Files.writeString(dir.resolve("labels"), "ok=1\n=x\n");
        assertLabelRefused("invalid label '=x' in " + file + ": empty name", List.of(), file);
        Path blank = Files.writeString(dir.resolve("blank"), "a\tb=1\n");
        assertLabelRefused("label 'a\tb' in " + blank + " contains whitespaces", List.of(), blank);
        assertLabelRefused("open " + dir.resolve("nope") + ": no such file or directory", List.of(), dir.resolve("nope"));
        Path binary = Files.write(dir.resolve("binary"), new byte[] {'a', '=', (byte) 0xff, '\n'});
        assertLabelRefused(binary + " is not UTF-8 text", List.of(), binary);
    }

    private static void assertLabelRefused(String message, List<String> labels, Path file) {
        RunCommand r = run("busybox");
        r.labels = labels;
        r.labelFiles = file == null ? List.of() : List.of(file);
        UserError e = assertThrows(UserError.class, () -> r.request(Map.of()));
        assertEquals(message, e.getMessage());
        assertEquals(125, e.status(), "docker run's status for a bad flag");
    }
}
