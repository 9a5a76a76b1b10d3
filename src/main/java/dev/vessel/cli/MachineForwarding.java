package dev.vessel.cli;

import dev.vessel.guest.agent.ExecRequest;
import dev.vessel.guest.agent.ExecSession;
import dev.vessel.machine.HelperMachine;
import dev.vessel.machine.MachineConnection;
import dev.vessel.machine.DiskExports;
import dev.vessel.machine.MachineException;
import dev.vessel.machine.SocketRelay;
import dev.vessel.vmm.VmConfig;
import dev.vessel.sys.Terminal;

import java.io.FileDescriptor;
import java.io.FileInputStream;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs Vessel commands inside the helper machine on hosts without hardware virtualization:
 * sends the files the command names, runs the same Vessel jar there, and passes the console,
 * window size, signals and exit status straight through.
 */
final class MachineForwarding {
    private MachineForwarding() {}

    /**
     * JVM options inside the machine: small and quick to start. A 4 MiB young generation: the VMM
     * allocates little once the VM runs, and the default eden is touched whole before the first
     * collection (it cost 10.5 MiB of peak RSS; no slower with 4 MiB: docs/benchmarks.md, issue 2).
     */
    static final List<String> MACHINE_JVM_OPTIONS = List.of("--enable-native-access=ALL-UNNAMED",
            "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k", "-Xmn4m", "-XX:-UsePerfData");

    /**
     * Standby VMMs kept per build. Two let a command that follows another at once find one ready
     * while the first one's successor warms up, but two warm-ups at once beside a cold VM overloaded
     * a fresh helper machine in a CI rehearsal (docs/helper-machine.md): one until warm-ups are
     * staggered (slot claims now stop pile-ups within a slot, not across slots).
     */
    static final int STANDBY_SLOTS = 1;

    /** How long a lost connection waits for QEMU to be gone before blaming something else. */
    static final java.time.Duration MACHINE_EXIT_GRACE = java.time.Duration.ofSeconds(3);

    /** Where the machine's standby VMM for a build of Vessel waits in {@code slot} (see {@link VmStandbyCommand}). */
    static String standbySocket(String jarSha, int slot) {
        return "/run/vessel/vmm-" + jarSha + (slot == 0 ? "" : "." + slot) + ".sock";
    }

    /** Bound on the cache's training run: it normally takes 20-60 s; a stuck one must not hold the build's lock forever. */
    static final int AOT_TRAINING_TIMEOUT_S = 300;

    /**
     * The command that runs Vessel in the machine. It first sets the machine's clock from the
     * host's (it drifts under software emulation, and VMs take their date from it).
     *
     * <p>Fast path: a standby VMM of this jar ({@code vm standby}), started earlier and warmed up,
     * takes the command with this session's stdio through {@code vessel-agent --vmm-client}, which
     * passes INT, TERM and HUP on to it and exits with the VM's status (the shell ignores those
     * signals meanwhile and waits for it). The client exits 200 at once when no standby takes the
     * command (none there, or one that cannot run it as a fresh process would).
     *
     * <p>Cold path: a fresh JVM, with an ahead-of-time cache of the VMM's loaded and linked classes
     * when this jar has one (under emulation it halves the JVM's start-up). For each standby slot
     * with no live standby, it also starts one for the next command.
     *
     * <p>A jar's first command in the machine finds no cache: it runs without one, and starts the
     * cache's training ({@code vm warm-up}, which boots a minimal guest) in the background, at low
     * priority and bounded in time, one per jar at a time; the standbys start when it ends. The
     * training never delays the command that found it missing, and one that gets stuck under the
     * emulation (docs/helper-machine.md) only leaves that jar without a cache until the next try.
     *
     * <p>Background work is detached (its own session, stdio on /dev/null, so this session's output
     * does not wait for it) and runs without the diagnostic VESSEL_* variables.
     */
    static List<String> machineCommand(String remoteJar, String jarSha, List<String> vesselArgs) {
        String javaCommand = "/opt/java/bin/java " + String.join(" ", MACHINE_JVM_OPTIONS);
        String aot = "/var/lib/vessel/aot/" + jarSha + ".aot";
        String training = "/run/vessel/aot-" + jarSha + ".training";
        StringBuilder socks = new StringBuilder();
        for (int slot = 0; slot < STANDBY_SLOTS; slot++) {
            socks.append(slot == 0 ? "" : " ").append(standbySocket(jarSha, slot));
        }
        // No standby while one is alive (busybox's kill takes an empty pid for 0: its own group)
        // or one is starting (its claim, VmStandbyCommand.claimOf: made here with mkdir, which one
        // starter wins; the standby removes it when ready or gone), nor when an old machine's agent
        // has no client mode. `setsid setsid` puts work in the background without `&`, which would
        // start it with SIGINT ignored (and a JVM keeps it so): the first setsid leads a new
        // session, so the second forks, returns at once, and its child starts another session.
        String startStandbys = "java=\"" + javaCommand + " -XX:AOTCache=" + aot + " -Xlog:aot=off\"\n"
                + "for sock in " + socks + "; do\n"
                + "  p=$(cat ${sock%.sock}.pid 2>/dev/null); case \"$p\" in ''|*[!0-9]*) p=none ;; esac\n"
                + "  c=${sock%.sock}.starting\n"
                + "  find /run/vessel -maxdepth 1 -name ${c##*/} -mmin +" + VmStandbyCommand.CLAIM_STALE_MINUTES
                + " -exec rmdir {} \\; 2>/dev/null\n"
                + "  if [ -f " + aot + " ] && ! kill -0 \"$p\" 2>/dev/null && grep -q vmm-client /sbin/vessel-agent"
                + " && mkdir $c 2>/dev/null; then\n"
                + "    setsid setsid sh -c 'renice 19 -p $$ >/dev/null 2>&1;"
                + " exec env -u VESSEL_TIMING -u VESSEL_DEBUG -u VESSEL_TRACE_IO \"$@\"' sh $java -jar " + remoteJar
                + " vm standby --socket $sock </dev/null >/dev/null 2>&1\n"
                + "  fi\n"
                + "done\n";
        // The training: the cache lands under its name only when complete (rename). Other builds'
        // caches (~14 MiB each) would pile up on the machine's disk: a new build drops those
        // untouched for two weeks (one in use again is simply rebuilt).
        String train = "renice 19 -p $$ >/dev/null 2>&1\n"
                + "mkdir -p /var/lib/vessel/aot\n"
                + "timeout " + AOT_TRAINING_TIMEOUT_S + " env -u VESSEL_TIMING -u VESSEL_DEBUG -u VESSEL_TRACE_IO "
                + javaCommand + " -XX:AOTCacheOutput=" + aot + ".$$ -Xlog:aot=off -jar " + remoteJar
                + " vm warm-up >/dev/null 2>&1 && mv " + aot + ".$$ " + aot + "\n"
                + "rm -f " + aot + ".$$ " + aot + ".$$.config\n"
                + "find /var/lib/vessel/aot -type f ! -name " + jarSha + ".aot -mtime +14 -exec rm -f {} \\; 2>/dev/null\n"
                + "rmdir " + training + "\n"
                + startStandbys;
        String script = "date -u -s \"@$0\" >/dev/null\n"
                + "for sock in " + socks + "; do\n"
                + "  [ -S $sock ] || continue\n"
                + "  trap '' INT TERM HUP\n"
                + "  /sbin/vessel-agent --vmm-client $sock -- \"$@\"\n"
                + "  st=$?\n"
                + "  [ $st -eq 200 ] || exit $st\n"
                + "  trap - INT TERM HUP\n"
                + "done\n"
                + "mkdir -p /run/vessel\n"
                + "if [ -f " + aot + " ]; then\n"
                + startStandbys.indent(2)
                + "  exec $java -jar " + remoteJar + " \"$@\"\n"
                + "fi\n"
                // A training whose shell was killed leaves its lock: older than the timeout, it is stale.
                + "find /run/vessel -maxdepth 1 -name aot-" + jarSha + ".training -mmin +"
                + (AOT_TRAINING_TIMEOUT_S / 60 + 1) + " -exec rmdir {} \\; 2>/dev/null\n"
                + "if mkdir " + training + " 2>/dev/null; then\n"
                + "  echo 'vessel: first run of this build in the helper machine: its start-up cache is made in the background' >&2\n"
                + "  setsid setsid sh -c " + shellQuote(train) + " </dev/null >/dev/null 2>&1\n"
                + "fi\n"
                + "exec " + javaCommand + " -jar " + remoteJar + " \"$@\"";
        List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c", script,
                Long.toString(java.time.Instant.now().getEpochSecond())));
        argv.addAll(vesselArgs);
        return argv;
    }

    /** One shell word holding {@code s} literally. */
    static String shellQuote(String s) {
        return "'" + s.replace("'", "'\\''") + "'";
    }

    static int runVm(Main main, VmRunCommand run, long memoryBytes) throws Exception {
        if (run.accel == VmRunCommand.Accel.auto) {
            System.err.println("vessel: no hardware virtualization here (no vmx/svm); running the VM in the helper machine (slow path)");
        }
        boolean interactive = run.interactive();
        Path kernel = run.resolveKernel();
        Path initrd = run.resolveInitrd();
        String cmdline = run.resolveCmdline(interactive);
        Path jar = MachineSupport.ownJar();
        HelperMachine.Endpoint ep = MachineSupport.ensureRunning(main);
        MachineConnection machine = MachineConnection.open(ep);
        Timing.mark("machine: connected");
        List<VmConfig.Disk> disks = run.parseDisks();
        List<Path> toSend = new ArrayList<>(List.of(jar, kernel, initrd));
        for (VmConfig.Disk d : disks) {
            if (!d.isNbd() && d.readOnly()) {
                toSend.add(d.path());
            }
        }
        List<String> sent;
        try {
            sent = machine.sendFiles(toSend);
        } catch (dev.vessel.guest.agent.AgentTimeoutException e) {
            // A hung machine would fail every command from now on: replace it, once.
            machine = MachineConnection.open(MachineSupport.restartUnresponsive(main));
            sent = machine.sendFiles(toSend);
        }
        Timing.mark("machine: files sent");
        List<String> vmArgs = new ArrayList<>(List.of("vm", "run", "--accel", "kvm",
                "--kernel", sent.get(1),
                "--initrd", sent.get(2),
                "--cmdline", cmdline,
                "--cpus", Integer.toString(run.cpus),
                "--memory", memoryBytes + "b",
                "--console", run.console.name().toLowerCase(java.util.Locale.ROOT)));
        if (run.rng) {
            vmArgs.add("--rng");
        }
        if (run.balloon) {
            vmArgs.add("--balloon");
        }
        // The VM's sockets live in the machine; the host paths are relays to them.
        String sockets = "/run/vessel/vm-" + java.util.HexFormat.of().formatHex(randomBytes());
        List<AutoCloseable> relays = new ArrayList<>();
        try (DiskExports exports = new DiskExports()) {
            int nextSent = 3;
            for (VmConfig.Disk d : disks) {
                vmArgs.add("--disk");
                String where;
                if (d.isNbd()) {
                    where = d.location() + (d.readOnly() ? ",ro" : "");
                } else if (d.readOnly()) {
                    // Nothing flows back from a read-only disk: a copy in the machine (sent once,
                    // kept by content hash) serves reads locally instead of over NBD.
                    where = sent.get(nextSent++) + ",ro";
                } else {
                    where = exports.export(d.path(), false);
                }
                vmArgs.add(where);
            }
            if (run.vsock != null) {
                SocketRelay r = SocketRelay.start(run.vsock, sockets + "/vsock.sock", machine, true);
                relays.add(r);
                vmArgs.addAll(List.of("--vsock", sockets + "/vsock.sock", "--vsock-uplink", r.uplink()));
            }
            if (run.apiSocket != null) {
                relays.add(SocketRelay.start(run.apiSocket, sockets + "/api.sock", machine, false));
                vmArgs.addAll(List.of("--api-socket", sockets + "/api.sock"));
            }
            Timing.mark("machine: disks exported, relays up");
            if (!relays.isEmpty()) {
                machine.runQuietly(List.of("mkdir", "-p", sockets));
                Timing.mark("machine: socket folder made");
            }
            List<String> argv = machineCommand(sent.get(0), jarSha(jar), vmArgs);
            return forward(MachineSupport.machine(main), machine, argv, interactive);
        } finally {
            for (AutoCloseable r : relays) {
                try {
                    r.close();
                } catch (Exception e) {
                    // the VM is over; a relay that does not close cleanly loses nothing
                }
            }
            if (!relays.isEmpty()) {
                try {
                    machine.runQuietly(List.of("rm", "-rf", sockets));
                } catch (IOException | MachineException e) {
                    // the machine's /run is a tmpfs: gone at its next start anyway
                }
            }
        }
    }

    private static byte[] randomBytes() {
        byte[] b = new byte[8];
        new java.security.SecureRandom().nextBytes(b);
        return b;
    }

    /** A short content hash of the jar: names its class-data archive in the machine. */
    static String jarSha(Path jar) throws IOException {
        return dev.vessel.machine.FileHashes.sha256(jar).substring(0, 16);
    }

    /**
     * Runs {@code argv} in the machine with this process's stdio; returns its exit status. When
     * the connection breaks because the machine itself died, says so, with its kernel's last words.
     */
    static int forward(HelperMachine helper, MachineConnection machine, List<String> argv, boolean interactive)
            throws Exception {
        Map<String, String> env = new LinkedHashMap<>(Map.of(
                "PATH", "/sbin:/bin:/usr/sbin:/usr/bin", "HOME", "/root", "VESSEL_ROOT", "/var/lib/vessel"));
        for (String pass : List.of("TERM", "VESSEL_STATS", "VESSEL_TIMING", "VESSEL_DEBUG", "VESSEL_TRACE_IO")) {
            String v = System.getenv(pass);
            if (v != null) {
                env.put(pass, v);
            }
        }
        ExecRequest request = ExecRequest.of(argv).withEnv(env);
        int[] size = interactive ? Terminal.windowSize(1) : null;
        if (interactive) {
            request = request.withTty(size != null ? size[0] : 24, size != null ? size[1] : 80);
        }
        OutputStream out = new FileOutputStream(FileDescriptor.out);
        OutputStream err = new FileOutputStream(FileDescriptor.err);
        Terminal raw = interactive ? Terminal.makeRaw(0) : null;
        Thread restore = new Thread(() -> {
            if (raw != null) {
                raw.close();
            }
        });
        Runtime.getRuntime().addShutdownHook(restore);
        try (ExecSession session = machine.start(request, new FileInputStream(FileDescriptor.in), out, err)) {
            Signals.forward(session, interactive);
            int status = session.waitFor();
            if (session.failure().isPresent()) {
                err.write(("vessel: cannot run Vessel in the helper machine: " + session.failure().get().message() + "\n")
                        .getBytes(java.nio.charset.StandardCharsets.UTF_8));
                return 125;
            }
            return status;
        } catch (IOException e) {
            // QEMU closes the connection as it exits: give it a moment to be gone.
            throw new MachineException(helper.stoppedUnder(machine.endpoint(), MACHINE_EXIT_GRACE)
                    .orElse("lost the connection to the helper machine: " + e.getMessage()), e);
        } finally {
            if (raw != null) {
                raw.close();
            }
        }
    }
}
