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

    /** JVM options inside the machine: small and quick to start, with a class-data archive per jar. */
    static List<String> machineJava(String remoteJar, String jarSha) {
        return List.of("/opt/java/bin/java", "--enable-native-access=ALL-UNNAMED",
                "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k", "-XX:-UsePerfData",
                "-XX:+AutoCreateSharedArchive", "-XX:SharedArchiveFile=/var/lib/vessel/cds/" + jarSha + ".jsa",
                "-Xlog:cds=off", "-Xlog:cds+dynamic=off",
                "-jar", remoteJar);
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
        // The machine's clock drifts under software emulation; its VMs take their date from it, so
        // set it from the host's on the way in (no extra round trip: the shell execs the VMM).
        List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c", "date -u -s \"@$0\" >/dev/null; exec \"$@\"",
                Long.toString(java.time.Instant.now().getEpochSecond())));
        argv.addAll(machineJava(machine.sendFile(jar), jarSha(jar)));
        argv.addAll(List.of("vm", "run", "--accel", "kvm",
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
