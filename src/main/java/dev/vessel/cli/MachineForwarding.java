package dev.vessel.cli;

import dev.vessel.guest.agent.ExecRequest;
import dev.vessel.guest.agent.ExecSession;
import dev.vessel.host.Timing;
import dev.vessel.machine.DiskExports;
import dev.vessel.machine.HelperMachine;
import dev.vessel.machine.MachineConnection;
import dev.vessel.machine.MachineException;
import dev.vessel.machine.SocketRelay;
import dev.vessel.sys.Terminal;
import dev.vessel.vmm.VmConfig;

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
            List<String> argv = dev.vessel.machine.MachineCommandScript.argv(sent.get(0), jarSha(jar), vmArgs);
            return forward(machine, argv, interactive);
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

    /** Runs {@code argv} in the machine with this process's stdio; returns its exit status. */
    static int forward(MachineConnection machine, List<String> argv, boolean interactive) throws Exception {
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
            dev.vessel.guest.agent.SessionSignals.forward(session, interactive);
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
