package dev.vessel.guest.agent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/** The real vessel-agent binary (built by Maven into the classpath), on 127.0.0.1, driven by the Java client. */
@Timeout(60)
class AgentIntegrationTest {
    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final Map<String, String> PATH = Map.of("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin");

    @TempDir
    static Path dir;

    static AgentProcess agent;

    @BeforeAll
    static void startAgent() throws IOException {
        agent = AgentProcess.start(dir, Map.of("VESSEL_AGENT_TEST_MARKER", "inherited"));
    }

    @AfterAll
    static void stopAgent() {
        if (agent != null) {
            agent.close();
        }
    }

    @AfterEach
    void agentSurvives() {
        assertTrue(agent.process.isAlive(), () -> "vessel-agent died: " + agent.log());
    }

    record Result(int status, String out, String err, Optional<ExecFailure> failure) {}

    static Result run(ExecRequest req, byte[] stdin) throws Exception {
        Capture out = new Capture();
        Capture err = new Capture();
        try (AgentClient c = AgentClient.connect(agent.address(), null)) {
            ExecSession s = c.exec(req, stdin == null ? null : new ByteArrayInputStream(stdin), out, err);
            int status = s.waitFor();
            return new Result(status, out.text(), err.text(), s.failure());
        }
    }

    static Result run(String... argv) throws Exception {
        return run(ExecRequest.of(argv).withEnv(PATH), null);
    }

    /** Polls an observable condition (bounded), e.g. a process disappearing from /proc. */
    static void awaitCondition(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + WAIT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out waiting until " + what);
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(5));
        }
    }

    static boolean gone(long pid) {
        return !Files.exists(Path.of("/proc", Long.toString(pid)));
    }

    @Test
    void echoHi() throws Exception {
        assertEquals(new Result(0, "hi\n", "", Optional.empty()), run("echo", "hi"));
    }

    @Test
    void exitCode() throws Exception {
        assertEquals(7, run("sh", "-c", "exit 7").status());
        assertEquals(255, run("sh", "-c", "exit 255").status());
    }

    @Test
    void processStartsWithOnlyStdioAndDefaultSignals() throws Exception {
        Result r = run("sh", "-c", "ls /proc/$$/fd; grep -E '^Sig(Blk|Ign)' /proc/self/status; yes | head -n 1");
        assertEquals("0\n1\n2\nSigBlk:\t0000000000000000\nSigIgn:\t0000000000000000\ny\n", r.out(),
                "no inherited descriptors, nothing blocked or ignored (so SIGPIPE ends 'yes' quietly)");
        assertEquals("", r.err());
    }

    @Test
    void userByNameAndGroupResolveInThePasswdAndGroupFiles() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(ProcessHandle.current().info().user().orElse("").equals("root"),
                "switching users needs root");
        ExecRequest byName = ExecRequest.of("sh", "-c", "id -u; id -g").withEnv(PATH).withUserSpec("nobody");
        assertEquals("65534\n65534\n", run(byName, null).out());
        ExecRequest withGroup = ExecRequest.of("sh", "-c", "id -u; id -g").withEnv(PATH).withUserSpec("nobody:0");
        assertEquals("65534\n0\n", run(withGroup, null).out());
        ExecRequest numeric = ExecRequest.of("sh", "-c", "id -u; id -g").withEnv(PATH).withUserSpec("4321");
        assertEquals("4321\n0\n", run(numeric, null).out(), "an unknown uid runs with group 0, as in docker");
        Result unknown = run(ExecRequest.of("true").withEnv(PATH).withUserSpec("no-such-user"), null);
        assertTrue(unknown.failure().isPresent(), unknown.toString());
        assertTrue(unknown.failure().get().message().contains("unable to find user no-such-user"), unknown.toString());
    }

    @Test
    void stdoutAndStderrStayApart() throws Exception {
        Result r = run("sh", "-c", "echo out; echo err >&2; echo out2");
        assertEquals("out\nout2\n", r.out());
        assertEquals("err\n", r.err());
    }

    @Test
    void stdinReachesCatAndEofEndsIt() throws Exception {
        Result r = run(ExecRequest.of("cat").withEnv(PATH), "hello\nworld".getBytes(StandardCharsets.UTF_8));
        assertEquals(new Result(0, "hello\nworld", "", Optional.empty()), r);
        // no stdin at all, then EOF by hand
        Capture out = new Capture();
        try (AgentClient c = AgentClient.connect(agent.address(), null)) {
            ExecSession s = c.exec(ExecRequest.of("cat").withEnv(PATH), null, out, out);
            s.writeStdin("part1 ".getBytes(StandardCharsets.UTF_8));
            out.awaitContains("part1 ", WAIT);
            s.writeStdin("part2".getBytes(StandardCharsets.UTF_8));
            s.closeStdin();
            assertEquals(0, s.waitFor());
            assertEquals("part1 part2", out.text());
        }
    }

    @Test
    void bulkDataBothWaysKeepsEveryByte() throws Exception {
        byte[] data = new byte[5 * 1024 * 1024 + 123];
        new Random(42).nextBytes(data);
        Capture out = new Capture();
        try (AgentClient c = AgentClient.connect(agent.address(), null)) {
            ExecSession s = c.exec(ExecRequest.of("cat").withEnv(PATH), new ByteArrayInputStream(data), out,
                    OutputStream.nullOutputStream());
            assertEquals(0, s.waitFor());
        }
        assertArrayEquals(data, out.bytes());
        // all output is forwarded before the exit status
        Result r = run("sh", "-c", "head -c 3000000 /dev/zero; echo end >&2; exit 3");
        assertEquals(3, r.status());
        assertEquals(3_000_000, r.out().length());
        assertEquals("end\n", r.err());
    }

    @Test
    void outputStillInThePipeAtExitIsForwardedBeforeTheStatus() throws Exception {
        // Grow the stdout pipe to 1 MiB (F_SETPIPE_SZ = 1031), fill it without blocking and exit at once: the
        // agent sees the exit while most of the output is still in the pipe, and must drain it before 'X'.
        for (int i = 0; i < 3; i++) {
            Result r = run("perl", "-e",
                    "fcntl(STDOUT, 1031, 1048576) or die qq(F_SETPIPE_SZ: $!); $| = 1; print qq(x) x 1000000;"
                            + " print STDERR qq(bye); exit 5");
            assertEquals("bye", r.err());
            assertEquals(5, r.status());
            assertEquals(1_000_000, r.out().length());
        }
    }

    @Test
    void missingCommandGives127AndAMessage() throws Exception {
        Result r = run("no-such-command-for-vessel");
        assertEquals(127, r.status());
        ExecFailure f = r.failure().orElseThrow();
        assertEquals(AgentProtocol.ENOENT, f.errno());
        assertTrue(f.message().contains("no-such-command-for-vessel"), f.message());
        assertEquals(127, run("/nonexistent/bin/thing").status());
        Result cwd = run(ExecRequest.of("pwd").withEnv(PATH).withCwd("/nonexistent-dir"), null);
        assertTrue(cwd.failure().orElseThrow().message().contains("chdir /nonexistent-dir"), cwd.toString());
    }

    @Test
    void nonExecutableFileGives126() throws Exception {
        Path script = dir.resolve("not-executable.sh");
        Files.writeString(script, "#!/bin/sh\necho should not run\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rw-r--r--"));
        Result r = run(script.toString());
        assertEquals(126, r.status());
        assertEquals(AgentProtocol.EACCES, r.failure().orElseThrow().errno());
        assertEquals("", r.out());
        assertEquals(126, run(dir.toString()).status(), "a directory");
    }

    private static int signalled(int signo) throws Exception {
        Capture out = new Capture();
        try (AgentClient c = AgentClient.connect(agent.address(), null)) {
            ExecSession s = c.exec(ExecRequest.of("sh", "-c", "echo ready; exec sleep 1000").withEnv(PATH), null, out,
                    out);
            out.awaitContains("ready", WAIT);
            s.signal(signo);
            return s.waitFor();
        }
    }

    @Test
    void signalsKill() throws Exception {
        assertEquals(128 + 15, signalled(15));
        assertEquals(128 + 9, signalled(9));
        assertEquals(128 + 9, run("sh", "-c", "kill -9 $$").status());
    }

    @Test
    void ttyIsAPseudoTerminal() throws Exception {
        Result r = run(ExecRequest.of("tty").withEnv(PATH).withTty(24, 80), null);
        assertEquals(0, r.status());
        assertTrue(r.out().matches("/dev/pts/\\d+\r\n"), r.out());
        assertEquals("", r.err());
        Result both = run(ExecRequest.of("sh", "-c", "echo out; echo err >&2").withEnv(PATH).withTty(24, 80), null);
        assertEquals("out\r\nerr\r\n", both.out(), "in tty mode everything arrives as stdout");
        assertEquals("", both.err());
    }

    @Test
    void ttySizeAndResize() throws Exception {
        Capture out = new Capture();
        try (AgentClient c = AgentClient.connect(agent.address(), null)) {
            ExecSession s = c.exec(
                    ExecRequest.of("sh", "-c", "stty size; read x; stty size").withEnv(PATH).withTty(33, 101), null,
                    out, out);
            out.awaitContains("33 101", WAIT);
            s.resize(40, 120);
            s.writeStdin("\n".getBytes(StandardCharsets.US_ASCII));
            assertEquals(0, s.waitFor());
        }
        String text = out.text();
        assertTrue(text.indexOf("33 101") < text.indexOf("40 120"), text);
    }

    @Test
    void ttyStdinEof() throws Exception {
        // EOF at the start of a line ends cat
        Result r = run(ExecRequest.of("cat").withEnv(PATH).withTty(24, 80), "line\n".getBytes(StandardCharsets.UTF_8));
        assertEquals(0, r.status());
        assertTrue(r.out().contains("line"), r.out());
        // EOF after a partial line: the first ^D flushes the line, the second ends cat
        Result partial = run(ExecRequest.of("sh", "-c", "cat; echo done").withEnv(PATH).withTty(24, 80),
                "abc".getBytes(StandardCharsets.UTF_8));
        assertEquals(0, partial.status());
        assertTrue(partial.out().endsWith("done\r\n"), partial.out());
    }

    @Test
    void environmentIsExactlyTheRequestedOne() throws Exception {
        Map<String, String> env = new LinkedHashMap<>();
        env.put("A", "1");
        env.put("B", "x y=z");
        Result r = run(ExecRequest.of("/usr/bin/env").withEnv(env), null);
        assertEquals("A=1\nB=x y=z\n", r.out());
        Result inherited = run(ExecRequest.of("/usr/bin/env").withEnv(Map.of("A", "1")).withInheritEnv(true), null);
        assertTrue(inherited.out().contains("VESSEL_AGENT_TEST_MARKER=inherited\n"), inherited.out());
        Result overridden = run(ExecRequest.of("/usr/bin/env").withEnv(Map.of("VESSEL_AGENT_TEST_MARKER", "mine"))
                .withInheritEnv(true), null);
        assertTrue(overridden.out().contains("VESSEL_AGENT_TEST_MARKER=mine\n"), overridden.out());
        assertTrue(!overridden.out().contains("=inherited"), overridden.out());
        assertEquals("/tmp\n", run(ExecRequest.of("pwd").withEnv(PATH).withCwd("/tmp"), null).out());
    }

    @Test
    void runsAsAnotherUser() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to switch users");
        Result r = run(ExecRequest.of("sh", "-c", "id -u; id -g; id -G").withEnv(PATH).withUser(65534, 65534),
                null);
        assertEquals(new Result(0, "65534\n65534\n65534\n", "", Optional.empty()), r);
    }

    @Test
    void droppedConnectionKillsTheProcessGroup() throws Exception {
        Capture out = new Capture();
        AgentClient c = AgentClient.connect(agent.address(), null);
        ExecSession s = c.exec(ExecRequest.of("sh", "-c", "sleep 1000 & echo $$ $!; wait").withEnv(PATH), null, out,
                out);
        String line = out.awaitContains("\n", WAIT).trim();
        String[] pids = line.split(" ");
        long shell = Long.parseLong(pids[0]);
        long sleeper = Long.parseLong(pids[1]);
        assertTrue(!gone(shell) && !gone(sleeper), "processes run before the drop");
        c.close();
        assertThrows(IOException.class, s::waitFor);
        awaitCondition("the shell is killed and reaped", () -> gone(shell));
        awaitCondition("the background sleep is killed and reaped", () -> gone(sleeper));
    }

    @Test
    void backgroundProcessHoldingThePipesDoesNotDelayTheExit() throws Exception {
        Capture out = new Capture();
        try (AgentClient c = AgentClient.connect(agent.address(), null)) {
            ExecSession s = c.exec(ExecRequest.of("sh", "-c", "sleep 1000 & echo $!").withEnv(PATH), null, out, out);
            Optional<Integer> status = s.waitFor(WAIT);
            long sleeper = Long.parseLong(out.text().trim());
            ProcessHandle.of(sleeper).ifPresent(ProcessHandle::destroyForcibly);
            assertEquals(Optional.of(0), status);
            awaitCondition("the orphaned sleep is reaped by the agent", () -> gone(sleeper));
        }
    }

    @Test
    void manyConcurrentSessions() throws Exception {
        try (ExecutorService pool = Executors.newVirtualThreadPerTaskExecutor()) {
            List<Future<Result>> results = new ArrayList<>();
            for (int i = 0; i < 24; i++) {
                String word = "n" + i;
                results.add(pool.submit(() -> run("sh", "-c", "echo " + word + "; exit " + (word.length()))));
            }
            for (int i = 0; i < results.size(); i++) {
                Result r = results.get(i).get(30, TimeUnit.SECONDS);
                assertEquals("n" + i + "\n", r.out());
                assertEquals(("n" + i).length(), r.status());
            }
        }
    }

    // ---- raw protocol against the real agent ----

    private static SocketChannel raw() throws IOException {
        return SocketChannel.open(agent.address());
    }

    private static AgentProtocol.Frame rawHello(SocketChannel ch) throws IOException {
        AgentProtocol.write(ch, AgentProtocol.HELLO, new byte[0]);
        return AgentProtocol.read(ch, AgentProtocol.AGENT_TYPES);
    }

    @Test
    void helloAnswersTheVersion() throws Exception {
        try (SocketChannel ch = raw()) {
            AgentProtocol.Frame f = rawHello(ch);
            assertEquals(AgentProtocol.HELLO_REPLY, f.type());
            assertEquals(AgentProtocol.PROTOCOL_VERSION, new String(f.payload(), StandardCharsets.US_ASCII));
        }
    }

    @Test
    void invalidExecRequestsAreRejected() throws Exception {
        String[] bad = {"arg=true\0bogus=1\0", "arg=true\0tty=yes\0", "env=A=1\0", "arg=true", "arg=x\0cwd=rel\0"};
        for (String payload : bad) {
            try (SocketChannel ch = raw()) {
                rawHello(ch);
                AgentProtocol.write(ch, AgentProtocol.EXEC, payload.getBytes(StandardCharsets.UTF_8));
                AgentProtocol.Frame f = AgentProtocol.read(ch, AgentProtocol.AGENT_TYPES);
                assertEquals(AgentProtocol.FAILURE, f.type(), payload);
                assertEquals(AgentProtocol.EINVAL, AgentProtocol.decodeFailure(f.payload()).errno(), payload);
                assertNull(AgentProtocol.read(ch, AgentProtocol.AGENT_TYPES), "closed after 'F'");
            }
        }
        try (SocketChannel ch = raw()) {
            rawHello(ch);
            AgentProtocol.write(ch, AgentProtocol.EXEC, "arg=true\0bogus=1\0".getBytes(StandardCharsets.UTF_8));
            ExecFailure f = AgentProtocol.decodeFailure(AgentProtocol.read(ch, AgentProtocol.AGENT_TYPES).payload());
            assertTrue(f.message().contains("unknown key 'bogus'"), f.message());
        }
    }

    @Test
    void malformedFramesCloseTheConnection() throws Exception {
        // oversized hello
        try (SocketChannel ch = raw()) {
            ch.write(ByteBuffer.allocate(5).put(AgentProtocol.HELLO).putInt(AgentProtocol.MAX_PAYLOAD + 1).flip());
            AgentProtocol.Frame f = AgentProtocol.read(ch, AgentProtocol.AGENT_TYPES);
            assertEquals(AgentProtocol.EPROTO, AgentProtocol.decodeFailure(f.payload()).errno());
            assertNull(AgentProtocol.read(ch, AgentProtocol.AGENT_TYPES));
        }
        // something other than hello first
        try (SocketChannel ch = raw()) {
            AgentProtocol.write(ch, AgentProtocol.EXEC, "arg=true\0".getBytes(StandardCharsets.UTF_8));
            AgentProtocol.Frame f = AgentProtocol.read(ch, AgentProtocol.AGENT_TYPES);
            assertEquals(AgentProtocol.EPROTO, AgentProtocol.decodeFailure(f.payload()).errno());
        }
        // truncated hello, then gone: the agent just drops it
        try (SocketChannel ch = raw()) {
            ch.write(ByteBuffer.wrap(new byte[] {'H', 0, 0, 0, 9, 'x'}));
        }
        // an oversized frame while the process runs: dropped like a lost connection, process killed
        for (byte[] evil : List.of(
                ByteBuffer.allocate(5).put(AgentProtocol.STDIN).putInt(-1).array(),
                ByteBuffer.allocate(5).put((byte) 'Z').putInt(0).array(),
                ByteBuffer.allocate(6).put(AgentProtocol.SIGNAL).putInt(1).put((byte) 0).array(),
                ByteBuffer.allocate(8).put(AgentProtocol.RESIZE).putInt(3).array())) {
            try (SocketChannel ch = raw()) {
                rawHello(ch);
                AgentProtocol.write(ch, AgentProtocol.EXEC,
                        "arg=sh\0arg=-c\0arg=echo $$; exec cat\0".getBytes(StandardCharsets.UTF_8));
                AgentProtocol.Frame pidFrame = AgentProtocol.read(ch, AgentProtocol.AGENT_TYPES);
                assertEquals(AgentProtocol.STDOUT, pidFrame.type());
                long pid = Long.parseLong(new String(pidFrame.payload(), StandardCharsets.US_ASCII).trim());
                ch.write(ByteBuffer.wrap(evil));
                assertNull(AgentProtocol.read(ch, AgentProtocol.AGENT_TYPES), "connection closed without 'X'");
                awaitCondition("the process is killed", () -> gone(pid));
            }
        }
        assertEquals("hi\n", run("echo", "hi").out(), "the agent still serves");
    }

    @Test
    void tokenIsRequired() throws Exception {
        Path tokenFile = dir.resolve("token");
        Files.writeString(tokenFile, "s3cret-token\n");
        try (AgentProcess guarded = AgentProcess.start(dir, Map.of(), "--token-file", tokenFile.toString())) {
            String[] wrongTokens = {"", "s3cret-tokeN", "s3cret-token\n", "s3cret", "s3cret-token-longer"};
            for (String wrong : wrongTokens) {
                AgentRejectedException e = assertThrows(AgentRejectedException.class,
                        () -> AgentClient.connect(guarded.address(), wrong.getBytes(StandardCharsets.UTF_8)),
                        "token '" + wrong + "'");
                assertEquals(AgentProtocol.EACCES, e.failure().errno());
            }
            Capture out = new Capture();
            try (AgentClient c = AgentClient.connect(guarded.address(),
                    "s3cret-token".getBytes(StandardCharsets.UTF_8))) {
                ExecSession s = c.exec(ExecRequest.of("echo", "welcome"), null, out, out);
                assertEquals(0, s.waitFor());
            }
            assertEquals("welcome\n", out.text());
            assertTrue(guarded.process.isAlive());
        }
    }

    @Test
    void helpAndBadArguments() throws Exception {
        Path bin = AgentBinary.extractTo(dir.resolve("bin"));
        Process help = new ProcessBuilder(bin.toString(), "--help").redirectErrorStream(true).start();
        String text = new String(help.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, help.waitFor());
        assertTrue(text.contains("--listen") && text.contains("--token-file") && text.contains("vsock:PORT"), text);
        List<List<String>> badArgs = List.of(List.of(), List.of("--listen", "udp:1"), List.of("--listen", "tcp:99999"),
                List.of("--listen", "tcp:1.2.3.4.5:80"), List.of("--bogus"),
                List.of("--listen", "tcp:127.0.0.1:0", "--token-file", dir.resolve("missing").toString()));
        for (List<String> args : badArgs) {
            List<String> cmd = new ArrayList<>(List.of(bin.toString()));
            cmd.addAll(args);
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            InputStream in = p.getInputStream();
            String msg = new String(in.readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(10, TimeUnit.SECONDS));
            assertEquals(2, p.exitValue(), args + ": " + msg);
        }
    }

    @Test
    void pidsAreNotLeftAsZombies() throws Exception {
        // many short-lived sessions; none may linger as a zombie child of the agent
        for (int i = 0; i < 10; i++) {
            run("true");
        }
        long agentPid = agent.process.pid();
        awaitCondition("no zombie children of the agent", () -> agent.process.toHandle().children()
                .allMatch(ch -> !isZombie(ch.pid())));
        Matcher m = Pattern.compile("^State:\\s+(\\S)", Pattern.MULTILINE)
                .matcher(Files.readString(Path.of("/proc", Long.toString(agentPid), "status")));
        assertTrue(m.find() && !m.group(1).equals("Z"));
    }

    private static boolean isZombie(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
            return stat.substring(stat.lastIndexOf(')') + 2).startsWith("Z");
        } catch (IOException e) {
            return false; // gone
        }
    }
}
