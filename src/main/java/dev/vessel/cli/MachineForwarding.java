package dev.vessel.cli;

import dev.vessel.guest.agent.ExecRequest;
import dev.vessel.guest.agent.ExecSession;
import dev.vessel.machine.HelperMachine;
import dev.vessel.machine.MachineConnection;
import dev.vessel.machine.MachineException;
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

    /** JVM options inside the machine: small and quick to start. */
    static final List<String> MACHINE_JVM_OPTIONS = List.of("--enable-native-access=ALL-UNNAMED",
            "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k", "-XX:-UsePerfData");

    /**
     * The command that runs Vessel in the machine. It first sets the machine's clock from the
     * host's (it drifts under software emulation, and VMs take their date from it). The JVM uses an
     * ahead-of-time cache of the VMM's loaded and linked classes, trained once per jar by booting a
     * minimal guest ({@code vm warm-up}); under emulation that halves the JVM's start-up.
     */
    static List<String> machineCommand(String remoteJar, String jarSha, List<String> vesselArgs) {
        String javaCommand = "/opt/java/bin/java " + String.join(" ", MACHINE_JVM_OPTIONS);
        String aot = "/var/lib/vessel/aot/" + jarSha + ".aot";
        String script = "date -u -s \"@$0\" >/dev/null\n"
                + "if [ ! -f " + aot + " ]; then\n"
                + "  echo 'vessel: preparing the VMM for fast start in the helper machine (once per build)' >&2\n"
                + "  mkdir -p /var/lib/vessel/aot\n"
                + "  " + javaCommand + " -XX:AOTCacheOutput=" + aot + ".$$ -Xlog:aot=off -jar " + remoteJar
                + " vm warm-up >/dev/null 2>&1 && mv " + aot + ".$$ " + aot + "\n"
                + "  rm -f " + aot + ".$$ " + aot + ".$$.config\n"
                + "fi\n"
                + "[ -f " + aot + " ] && set -- -XX:AOTCache=" + aot + " -Xlog:aot=off \"$@\"\n"
                + "exec " + javaCommand + " \"$@\"";
        List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c", script,
                Long.toString(java.time.Instant.now().getEpochSecond())));
        argv.add("-jar");
        argv.add(remoteJar);
        argv.addAll(vesselArgs);
        return argv;
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
        List<String> argv = machineCommand(machine.sendFile(jar), jarSha(jar), List.of("vm", "run", "--accel", "kvm",
                "--kernel", machine.sendFile(kernel),
                "--initrd", machine.sendFile(initrd),
                "--cmdline", cmdline,
                "--cpus", Integer.toString(run.cpus),
                "--memory", memoryBytes + "b"));
        return forward(machine, argv, interactive);
    }

    /** A short content hash of the jar: names its class-data archive in the machine. */
    static String jarSha(Path jar) throws IOException {
        return dev.vessel.machine.FileHashes.sha256(jar).substring(0, 16);
    }

    /** Runs {@code argv} in the machine with this process's stdio; returns its exit status. */
    static int forward(MachineConnection machine, List<String> argv, boolean interactive) throws Exception {
        Map<String, String> env = new LinkedHashMap<>(Map.of(
                "PATH", "/sbin:/bin:/usr/sbin:/usr/bin", "HOME", "/root", "VESSEL_ROOT", "/var/lib/vessel"));
        for (String pass : List.of("TERM", "VESSEL_TIMING", "VESSEL_DEBUG", "VESSEL_TRACE_IO")) {
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
            throw new MachineException("lost the connection to the helper machine: " + e.getMessage(), e);
        } finally {
            if (raw != null) {
                raw.close();
            }
        }
    }
}
