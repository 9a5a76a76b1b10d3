package dev.vessel.machine;

import dev.vessel.machine.standby.StandbySlot;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The script that runs Vessel in the helper machine. Beyond its text, it runs here under /bin/sh
 * with stand-ins: a java that logs its arguments (and writes the cache a training names), a
 * vessel-agent whose --vmm-client exits with a chosen status, and date, setsid, renice and timeout
 * that only log (setsid then runs its command in the foreground, so background work is done when
 * the script ends). The folders are temporary ones; the machine's own are in {@link
 * MachineCommandScript.Layout#MACHINE}.
 */
@Timeout(60)
class MachineCommandScriptTest {
    static final String SHA = "abc123";
    static final String JAR = "/var/lib/vessel/host-files/x/vessel.jar";
    static final long NOW = 1_700_000_000L;

    @TempDir
    Path dir;

    MachineCommandScript.Layout layout;
    Path log;
    Path run;
    Path aotDir;
    Path sock;

    @Test
    void theScriptKeepsItsClaimsLockAndBounds() {
        List<String> argv = MachineCommandScript.argv(JAR, SHA, List.of("vm", "run"));
        String script = argv.get(2);
        assertEquals(List.of("/bin/sh", "-c", script, "vessel-machine", "run", script), argv.subList(0, 6));
        StringBuilder socks = new StringBuilder();
        for (int slot = 0; slot < MachineCommandScript.STANDBY_SLOTS; slot++) {
            socks.append(slot == 0 ? "" : " ").append(MachineCommandScript.standbySocket(SHA, slot));
        }
        assertEquals(List.of("/opt/java/bin/java " + String.join(" ", MachineCommandScript.JVM_OPTIONS), JAR, SHA,
                socks.toString(), "/sbin/vessel-agent", "/run/vessel", "/var/lib/vessel/aot",
                Integer.toString(StandbySlot.CLAIM_STALE_MINUTES),
                Integer.toString(MachineCommandScript.AOT_TRAINING_TIMEOUT_S), "--", "vm", "run"),
                argv.subList(7, argv.size()));
        // the slot claim, taken with mkdir before a standby starts; stale ones removed
        assertTrue(script.contains("c=${sock%.sock}.starting"), script);
        assertTrue(script.contains("&& mkdir $c 2>/dev/null; then"), script);
        assertTrue(script.contains("-name ${c##*/} -mmin +$claim_stale -exec rmdir {} \\;"), script);
        // the training: detached, one per build at a time (its lock, stale after the timeout), bounded
        assertTrue(script.contains("if mkdir $training 2>/dev/null; then"), script);
        assertTrue(script.contains("-mmin +$((training_timeout / 60 + 1)) -exec rmdir {} \\;"), script);
        assertTrue(script.contains("timeout $training_timeout env"), script);
        assertTrue(script.contains("setsid setsid sh -c \"$self\" vessel-machine train"), script);
        assertFalse(script.contains("\n#"), "comments are not sent: " + script);
    }

    @Test
    void theScriptIsValidShell() throws Exception {
        Process p = new ProcessBuilder("/bin/sh", "-n", "-c", MachineCommandScript.script()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(20, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
    }

    // ---- run with stand-ins ----

    /** A finished script: its status, stderr, and what the stand-ins logged, one line per call. */
    record Result(int status, String stderr, List<String> calls) {
        List<String> callsOf(String program) {
            return calls.stream().filter(c -> c.startsWith(program + " ")).toList();
        }
    }

    @BeforeEach
    void standIns() throws IOException {
        log = dir.resolve("calls.log");
        run = dir.resolve("run");
        aotDir = dir.resolve("aot");
        Path bin = Files.createDirectories(dir.resolve("bin"));
        // date: above all never the real one, which would set this host's clock as root
        stub(bin.resolve("date"), "echo \"date $*\" >> " + log);
        stub(bin.resolve("renice"), "echo \"renice $*\" >> " + log);
        stub(bin.resolve("setsid"), "echo \"setsid $1\" >> " + log + "\nexec \"$@\"");
        stub(bin.resolve("timeout"), "echo \"timeout $1\" >> " + log + "\nshift\nexec \"$@\"");
        // java: exits 0 as a warm-up or standby, 33 as the command itself
        stub(dir.resolve("java"), """
                echo "java VESSEL_TIMING=${VESSEL_TIMING-unset} $0 $*" >> LOG
                for a in "$@"; do
                  case $a in -XX:AOTCacheOutput=*) : > "${a#-XX:AOTCacheOutput=}" ;; esac
                done
                case " $* " in *" vm warm-up "*|*" vm standby "*) exit 0 ;; esac
                exit 33
                """.replace("LOG", log.toString()));
        // vessel-agent: its client mode (the script checks the binary has one) exits with agent.status
        stub(dir.resolve("vessel-agent"), """
                # vmm-client
                echo "agent $*" >> LOG
                exit $(cat STATUS)
                """.replace("LOG", log.toString()).replace("STATUS", dir.resolve("agent.status").toString()));
        Files.writeString(dir.resolve("agent.status"), "200\n");
        layout = new MachineCommandScript.Layout(dir.resolve("java").toString(), dir.resolve("vessel-agent").toString(),
                run.toString(), aotDir.toString());
        sock = Path.of(layout.standbySocket(SHA, 0));
    }

    static void stub(Path file, String body) throws IOException {
        Files.writeString(file, "#!/bin/sh\n" + body + "\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rwx------"));
    }

    Result runScript() throws Exception {
        return runScript(MachineCommandScript.argv(layout, NOW, JAR, SHA, List.of("vm", "run", "--memory", "64M")));
    }

    /** Runs {@code argv} with the stand-ins first on the PATH; the log holds this run's calls only. */
    Result runScript(List<String> argv) throws Exception {
        Files.deleteIfExists(log);
        ProcessBuilder pb = new ProcessBuilder(argv).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD);
        pb.environment().clear();
        pb.environment().put("PATH", dir.resolve("bin") + ":/usr/sbin:/usr/bin:/sbin:/bin");
        pb.environment().put("VESSEL_TIMING", "1");
        Process p = pb.start();
        CompletableFuture<String> err = CompletableFuture.supplyAsync(() -> {
            try {
                return new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
            } catch (IOException e) {
                return e.toString();
            }
        });
        assertTrue(p.waitFor(30, TimeUnit.SECONDS), "the script did not end");
        List<String> calls = Files.exists(log) ? Files.readAllLines(log) : List.of();
        return new Result(p.exitValue(), err.get(), new ArrayList<>(calls));
    }

    String jvm() {
        return layout.java() + " " + String.join(" ", MachineCommandScript.JVM_OPTIONS);
    }

    String cached() {
        return jvm() + " -XX:AOTCache=" + aotDir.resolve(SHA + ".aot") + " -Xlog:aot=off";
    }

    Path claim() {
        return run.resolve("vmm-" + SHA + ".starting");
    }

    @Test
    void aFirstRunTrainsTheCacheThenStartsAStandbyAndRunsWithoutTheCache() throws Exception {
        Files.createDirectories(aotDir);
        Path oldBuild = Files.writeString(aotDir.resolve("old.aot"), "");
        Files.setLastModifiedTime(oldBuild, FileTime.from(Instant.now().minus(Duration.ofDays(20))));
        Path recentBuild = Files.writeString(aotDir.resolve("recent.aot"), "");

        Result r = runScript();

        assertEquals(33, r.status(), r.toString());
        assertTrue(r.stderr().contains("first run of this build in the helper machine"), r.toString());
        assertEquals("date -u -s @" + NOW, r.calls().get(0), r.toString());
        assertEquals(List.of("timeout " + MachineCommandScript.AOT_TRAINING_TIMEOUT_S), r.callsOf("timeout"), r.toString());
        List<String> java = r.callsOf("java");
        assertEquals(3, java.size(), r.toString());
        assertTrue(java.get(0).matches("java VESSEL_TIMING=unset \\Q" + jvm() + " -XX:AOTCacheOutput=" + aotDir
                + "/" + SHA + ".aot.\\E\\d+ -Xlog:aot=off -jar \\Q" + JAR + "\\E vm warm-up"), java.get(0));
        assertEquals("java VESSEL_TIMING=unset " + cached() + " -jar " + JAR + " vm standby --socket " + sock, java.get(1));
        assertEquals("java VESSEL_TIMING=1 " + jvm() + " -jar " + JAR + " vm run --memory 64M", java.get(2));
        assertTrue(r.callsOf("setsid").size() >= 4, "training and standby detached: " + r);
        assertEquals(2, r.callsOf("renice").size(), "the training and the standby at low priority: " + r);
        assertTrue(r.callsOf("renice").stream().allMatch(c -> c.startsWith("renice 19 -p ")), r.toString());
        assertTrue(Files.isRegularFile(aotDir.resolve(SHA + ".aot")), "the cache is in place");
        assertFalse(Files.exists(run.resolve("aot-" + SHA + ".training")), "the training's lock is released");
        assertTrue(Files.isDirectory(claim()), "the standby's slot is claimed until it is ready");
        assertFalse(Files.exists(oldBuild), "another build's cache untouched for two weeks goes");
        assertTrue(Files.exists(recentBuild), "a recent one stays");
    }

    @Test
    void withTheCacheAColdRunUsesItAndFillsTheSlot() throws Exception {
        Files.createDirectories(aotDir);
        Files.writeString(aotDir.resolve(SHA + ".aot"), "");

        Result r = runScript();

        assertEquals(33, r.status(), r.toString());
        assertFalse(r.stderr().contains("first run"), r.toString());
        assertEquals(List.of(), r.callsOf("timeout"));
        assertEquals(List.of("java VESSEL_TIMING=unset " + cached() + " -jar " + JAR + " vm standby --socket " + sock,
                "java VESSEL_TIMING=1 " + cached() + " -jar " + JAR + " vm run --memory 64M"), r.callsOf("java"));
        assertTrue(Files.isDirectory(claim()));
    }

    @Test
    void noStandbyStartsWhileOneStartsOrWaitsUnlessItsClaimIsStale() throws Exception {
        Files.createDirectories(aotDir);
        Files.writeString(aotDir.resolve(SHA + ".aot"), "");
        Files.createDirectories(claim());
        assertEquals(1, runScript().callsOf("java").size(), "a claim held: only the command runs");

        Files.setLastModifiedTime(claim(), FileTime.from(Instant.now().minus(Duration.ofMinutes(60))));
        assertEquals(2, runScript().callsOf("java").size(), "a stale claim is taken over");

        Files.delete(claim());
        Files.writeString(run.resolve("vmm-" + SHA + ".pid"), ProcessHandle.current().pid() + "\n");
        assertEquals(1, runScript().callsOf("java").size(), "a live standby's pid: only the command runs");
        assertFalse(Files.exists(claim()));

        Files.writeString(run.resolve("vmm-" + SHA + ".pid"), "\n");
        assertEquals(2, runScript().callsOf("java").size(), "an empty pid file names no live standby");
    }

    @Test
    void aTrainingUnderWayIsNotStartedAgainUnlessItsLockIsStale() throws Exception {
        Path lock = Files.createDirectories(run.resolve("aot-" + SHA + ".training"));
        Result r = runScript();
        assertEquals(33, r.status(), r.toString());
        assertFalse(r.stderr().contains("first run"), r.toString());
        assertEquals(List.of("java VESSEL_TIMING=1 " + jvm() + " -jar " + JAR + " vm run --memory 64M"), r.callsOf("java"));

        Files.setLastModifiedTime(lock, FileTime.from(Instant.now().minus(Duration.ofMinutes(60))));
        r = runScript();
        assertTrue(r.stderr().contains("first run"), r.toString());
        assertEquals(3, r.callsOf("java").size(), r.toString());
    }

    @Test
    void aStandbyThatTakesTheCommandGivesItsStatusAndNothingElseRuns() throws Exception {
        Files.createDirectories(run);
        try (ServerSocketChannel standby = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            standby.bind(UnixDomainSocketAddress.of(sock));
            Files.writeString(dir.resolve("agent.status"), "7\n");
            Result r = runScript();
            assertEquals(7, r.status(), r.toString());
            assertEquals(List.of("agent --vmm-client " + sock + " -- vm run --memory 64M"), r.callsOf("agent"));
            assertEquals(List.of(), r.callsOf("java"));

            // 200: no standby took it; the script runs it itself
            Files.writeString(dir.resolve("agent.status"), "200\n");
            r = runScript();
            assertEquals(33, r.status(), r.toString());
            assertEquals(1, r.callsOf("agent").size());
            assertEquals("java VESSEL_TIMING=1 " + jvm() + " -jar " + JAR + " vm run --memory 64M",
                    r.callsOf("java").getLast(), r.toString());
        }
    }

    @Test
    void wrongParametersAreRefusedBeforeAnythingRuns() throws Exception {
        List<String> argv = new ArrayList<>(MachineCommandScript.argv(layout, NOW, JAR, SHA, List.of("vm", "run")));
        argv.remove("--");
        Result r = runScript(argv);
        assertEquals(125, r.status(), r.toString());
        assertEquals(List.of(), r.calls());
    }
}
