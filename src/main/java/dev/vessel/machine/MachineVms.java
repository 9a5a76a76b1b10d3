package dev.vessel.machine;

import dev.vessel.guest.agent.AgentTimeoutException;
import dev.vessel.host.Timing;
import dev.vessel.host.VesselJar;
import dev.vessel.vmm.NetConfig;
import dev.vessel.vmm.VmConfig;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;

/**
 * Runs a VM in the helper machine, for hosts without hardware virtualization: the same Vessel jar
 * runs `vm run` there, with the host's files, disks and sockets reachable from it, and this
 * process's console, terminal, signals and exit status passed straight through.
 */
public final class MachineVms {
    private MachineVms() {}

    /**
     * Runs {@code config}'s VM in {@code helper} (started if needed, progress on {@code log}) and
     * returns the VM's exit status, as `vm run` on the machine's KVM gives it. Its kernel, initrd
     * and read-only disks are sent into the machine (once: they are kept by content hash), writable
     * disks are served from the host over NBD so the guest's writes land in the host files, and its
     * vsock and API sockets are relayed to the host paths. Network devices name TAP interfaces of
     * the machine (not of this host). {@code config.vsockUplink()} is not used: it is what this side
     * gives the VMM in the machine.
     *
     * @param interactive the console on a terminal: raw, with a pseudo-terminal in the machine
     * @throws MachineUnavailableException when the machine cannot start or this Vessel cannot run in
     *     it (not run from its jar)
     * @throws MachineException when the machine fails the command (files not sent, connection lost)
     */
    public static int run(HelperMachine helper, VmConfig config, boolean interactive, VmLauncher.Sandbox sandbox,
                          PrintStream log)
            throws IOException, MachineException, InterruptedException {
        Path jar = vesselJar();
        MachineConnection machine = MachineConnection.open(helper.ensureRunning(log));
        Timing.mark("machine: connected");
        List<Path> toSend = new ArrayList<>(List.of(jar, config.kernel(), config.initrd()));
        for (VmConfig.Disk d : config.disks()) {
            if (!d.isNbd() && d.readOnly()) {
                toSend.add(d.path());
            }
        }
        List<String> sent;
        try {
            sent = machine.sendFiles(toSend);
        } catch (AgentTimeoutException e) {
            // A hung machine would fail every command from now on: replace it, once.
            machine = MachineConnection.open(helper.restartUnresponsive(log));
            sent = machine.sendFiles(toSend);
        }
        Timing.mark("machine: files sent");
        // The VM's sockets live in the machine; the host paths are relays to them.
        String sockets = "/run/vessel/vm-" + HexFormat.of().formatHex(randomBytes());
        List<AutoCloseable> relays = new ArrayList<>();
        try (DiskExports exports = new DiskExports()) {
            List<String> disks = new ArrayList<>();
            int nextSent = 3;
            for (VmConfig.Disk d : config.disks()) {
                if (d.isNbd()) {
                    disks.add(d.location() + (d.readOnly() ? ",ro" : ""));
                } else if (d.readOnly()) {
                    // Nothing flows back from a read-only disk: a copy in the machine (sent once,
                    // kept by content hash) serves reads locally instead of over NBD.
                    disks.add(sent.get(nextSent++) + ",ro");
                } else {
                    disks.add(exports.export(d.path(), false));
                }
            }
            String vsock = null;
            String uplink = null;
            String api = null;
            if (config.vsockSocket() != null) {
                vsock = sockets + "/vsock.sock";
                SocketRelay r = SocketRelay.start(config.vsockSocket(), vsock, machine, true);
                relays.add(r);
                uplink = r.uplink();
            }
            if (config.apiSocket() != null) {
                api = sockets + "/api.sock";
                relays.add(SocketRelay.start(config.apiSocket(), api, machine, false));
            }
            Timing.mark("machine: disks exported, relays up");
            if (!relays.isEmpty()) {
                machine.runQuietly(List.of("mkdir", "-p", sockets));
                Timing.mark("machine: socket folder made");
            }
            List<String> vmArgs = vmRunArgs(config, sent.get(1), sent.get(2), disks, vsock, uplink, api);
            if (sandbox == VmLauncher.Sandbox.OFF) {
                vmArgs.add("--no-seccomp");
            }
            List<String> argv = MachineCommandScript.argv(sent.get(0), jarSha(jar), vmArgs);
            return MachineForwarder.forward(helper, machine, argv, interactive);
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

    /**
     * The `vm run` command line for the VMM in the machine: {@code config} with the machine's paths
     * of its kernel, initrd, disks ({@code disks}: the `--disk` values in order) and sockets (null:
     * none), and the uplink of its vsock relay.
     */
    static List<String> vmRunArgs(VmConfig config, String kernel, String initrd, List<String> disks, String vsock,
                                  String vsockUplink, String apiSocket) {
        List<String> args = new ArrayList<>(List.of("vm", "run", "--accel", "kvm",
                "--kernel", kernel,
                "--initrd", initrd,
                "--cmdline", config.cmdline(),
                "--cpus", Integer.toString(config.cpus()),
                "--memory", config.memoryBytes() + "b",
                "--console", config.console().name().toLowerCase(Locale.ROOT)));
        if (config.rng()) {
            args.add("--rng");
        }
        if (config.balloon()) {
            args.add("--balloon");
        }
        for (String d : disks) {
            args.addAll(List.of("--disk", d));
        }
        if (vsock != null) {
            args.addAll(List.of("--vsock", vsock, "--vsock-uplink", vsockUplink));
        }
        if (apiSocket != null) {
            args.addAll(List.of("--api-socket", apiSocket));
        }
        for (NetConfig n : config.nets()) {
            // The TAP is the machine's: the VM's card is plugged in there, with the MAC chosen here.
            args.addAll(List.of("--net", "tap=" + n.tap() + ",mac=" + n.mac() + (n.bridge() == null ? "" : ",bridge=" + n.bridge())));
        }
        return args;
    }

    /** The jar the machine runs: this one, so that both sides are the same build. */
    private static Path vesselJar() throws MachineUnavailableException {
        try {
            return VesselJar.require("the helper machine");
        } catch (IOException e) {
            throw new MachineUnavailableException(e.getMessage(), e);
        }
    }

    /** A short content hash of the jar: names its start-up cache and standby sockets in the machine. */
    static String jarSha(Path jar) throws IOException {
        return FileHashes.sha256(jar).substring(0, 16);
    }

    private static byte[] randomBytes() {
        byte[] b = new byte[8];
        new SecureRandom().nextBytes(b);
        return b;
    }
}
