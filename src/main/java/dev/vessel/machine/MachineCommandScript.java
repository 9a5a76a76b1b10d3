package dev.vessel.machine;

import dev.vessel.machine.standby.StandbySlot;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;

/**
 * The command that runs Vessel in the helper machine: a shell script (resource
 * machine-command.sh, which explains the fast path through a standby VMM, the cold path with the
 * start-up cache, and the cache's background training) and the parameters it takes, the host's
 * time among them (the machine's clock drifts under emulation).
 */
public final class MachineCommandScript {
    private MachineCommandScript() {}

    /**
     * JVM options inside the machine: small and quick to start. A 4 MiB young generation: the VMM
     * allocates little once the VM runs, and the default eden is touched whole before the first
     * collection (it cost 10.5 MiB of peak RSS; no slower with 4 MiB: docs/benchmarks.md, issue 2).
     */
    public static final List<String> JVM_OPTIONS = List.of("--enable-native-access=ALL-UNNAMED",
            "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k", "-Xmn4m", "-XX:-UsePerfData");

    /**
     * Standby VMMs kept per build. Two let a command that follows another at once find one ready
     * while the first one's successor warms up, but two warm-ups at once beside a cold VM overloaded
     * a fresh helper machine in a CI rehearsal (docs/helper-machine.md): one until warm-ups are
     * staggered (slot claims now stop pile-ups within a slot, not across slots).
     */
    public static final int STANDBY_SLOTS = 1;

    /** Bound on the cache's training run: it normally takes 20-60 s; a stuck one must not hold the build's lock forever. */
    public static final int AOT_TRAINING_TIMEOUT_S = 300;

    /**
     * Where the script finds things in the machine: the Java runtime, vessel-agent, the folder of
     * standby sockets and locks (a tmpfs), and the folder of start-up caches (the data disk).
     */
    record Layout(String java, String agent, String runDir, String aotDir) {
        static final Layout MACHINE = new Layout("/opt/java/bin/java", "/sbin/vessel-agent", "/run/vessel",
                "/var/lib/vessel/aot");

        /** Where the standby VMM for a build of Vessel waits in {@code slot} (see dev.vessel.machine.standby). */
        String standbySocket(String jarSha, int slot) {
            return runDir + "/vmm-" + jarSha + (slot == 0 ? "" : "." + slot) + ".sock";
        }
    }

    private static final String SCRIPT = load();

    /** Where the machine's standby VMM for a build of Vessel waits in {@code slot}. */
    public static String standbySocket(String jarSha, int slot) {
        return Layout.MACHINE.standbySocket(jarSha, slot);
    }

    /** The argv that runs Vessel's {@code vesselArgs} in the machine with the jar at {@code remoteJar}, whose short hash is {@code jarSha}. */
    public static List<String> argv(String remoteJar, String jarSha, List<String> vesselArgs) {
        return argv(Layout.MACHINE, Instant.now().getEpochSecond(), remoteJar, jarSha, vesselArgs);
    }

    static List<String> argv(Layout layout, long nowEpochSeconds, String remoteJar, String jarSha, List<String> vesselArgs) {
        List<String> sockets = new ArrayList<>();
        for (int slot = 0; slot < STANDBY_SLOTS; slot++) {
            sockets.add(layout.standbySocket(jarSha, slot));
        }
        List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c", SCRIPT, "vessel-machine",
                "run",
                SCRIPT,
                Long.toString(nowEpochSeconds),
                layout.java() + " " + String.join(" ", JVM_OPTIONS),
                remoteJar,
                jarSha,
                String.join(" ", sockets),
                layout.agent(),
                layout.runDir(),
                layout.aotDir(),
                Integer.toString(StandbySlot.CLAIM_STALE_MINUTES),
                Integer.toString(AOT_TRAINING_TIMEOUT_S),
                "--"));
        argv.addAll(vesselArgs);
        return argv;
    }

    /** The script as sent. */
    static String script() {
        return SCRIPT;
    }

    /** The resource without its comment lines and blank lines, which every command would carry (twice). */
    private static String load() {
        try (InputStream in = MachineCommandScript.class.getResourceAsStream("machine-command.sh")) {
            if (in == null) {
                throw new IllegalStateException("machine-command.sh is missing from Vessel's jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8).lines()
                    .filter(l -> !l.isBlank() && !l.stripLeading().startsWith("#"))
                    .collect(Collectors.joining("\n", "", "\n"));
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
