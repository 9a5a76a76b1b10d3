package dev.vessel.cli;

import dev.vessel.arch.x86.BootImageException;
import dev.vessel.devices.virtio.net.MacAddress;
import dev.vessel.guest.DebianKernel;
import dev.vessel.guest.DefaultInitramfs;
import dev.vessel.host.HostCapabilities;
import dev.vessel.host.StateRoot;
import dev.vessel.host.Timing;
import dev.vessel.kvm.KvmException;
import dev.vessel.machine.MachineUnavailableException;
import dev.vessel.machine.VmLauncher;
import dev.vessel.vmm.NetConfig;
import dev.vessel.vmm.StdioConsole;
import dev.vessel.vmm.VmConfig;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** `vessel vm run`: boot a kernel with an initrd, console on stdin/stdout. */
@Command(name = "run", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Boot a micro-VM: a Linux kernel and initrd, with the serial console on stdin/stdout.",
                "Without --kernel and --initrd it boots Debian's cloud kernel with Vessel's built-in busybox initramfs.",
                "On a terminal the console is raw: Ctrl-A x stops the VM."},
        footerHeading = "%nExit status:%n",
        footer = {"  0    the guest powered off",
                "  1    VMM error",
                "  2    bad command line or input (missing file, not a kernel, bad size)",
                "  3    the guest rebooted (reset request)",
                "  4    the guest triple-faulted",
                "  5    KVM could not run the guest (entry failure, emulation failure)",
                "  6    the guest reported a crash",
                "  125  Vessel could not start (no KVM, no helper machine)",
                "  130  stopped by Ctrl-A x or SIGINT; 143 by SIGTERM"})
final class VmRunCommand implements Callable<Integer> {
    static final String DEFAULT_CMDLINE = VmConfig.DEFAULT_CMDLINE;

    enum Accel { auto, kvm, machine }

    @ParentCommand
    VmCommand parent;

    @Option(names = "--kernel", paramLabel = "PATH", description = "Kernel to boot: a bzImage, or an ELF vmlinux with a PVH entry (default: Debian's cloud kernel, fetched once).")
    Path kernel;

    @Option(names = "--initrd", paramLabel = "PATH", description = "initrd/initramfs (default: the built-in busybox initramfs).")
    Path initrd;

    @Option(names = "--append", paramLabel = "ARGS", description = "Extra kernel command-line arguments.")
    String append;

    @Option(names = "--cmdline", paramLabel = "CMDLINE", description = "Replace the whole kernel command line (default: \"" + DEFAULT_CMDLINE + "\").")
    String cmdline;

    @Option(names = "--cpus", paramLabel = "N", defaultValue = "1", description = "vCPUs (default: ${DEFAULT-VALUE}).")
    int cpus;

    @Option(names = "--memory", paramLabel = "SIZE", defaultValue = "256M", description = "Guest RAM, e.g. 256M, 2G (default: ${DEFAULT-VALUE}).")
    String memory;

    @Option(names = "--disk", paramLabel = "PATH[,ro]",
            description = "A raw disk image as a virtio-blk disk (vda, vdb, ... in order); ',ro' makes it read-only. Repeatable.")
    List<String> disks = new ArrayList<>();

    @Option(names = "--console", paramLabel = "serial|virtio", defaultValue = "serial",
            description = "Guest console: the emulated 16550 UART (ttyS0, one VM exit per byte) or virtio-console (hvc0). Default: ${DEFAULT-VALUE}.")
    VmConfig.Console console;

    @Option(names = "--vsock", paramLabel = "PATH",
            description = "Give the guest a virtio-vsock device; the host side is this Unix socket (Firecracker's hybrid vsock).")
    Path vsock;

    /** Set by the host side of `--accel machine` (see {@link dev.vessel.machine.SocketRelay}); not for users. */
    @Option(names = "--vsock-uplink", hidden = true, paramLabel = "HOST:PORT/SECRET")
    String vsockUplink;

    @Option(names = "--net", paramLabel = "tap=NAME[,mac=MAC][,bridge=BR]",
            description = "A virtio-net card on the host TAP interface NAME (attached to if it exists, else created). "
                    + "MAC: the card's unicast address (default: a random locally administered one, "
                    + "02:xx:xx:xx:xx:xx). BR: an existing Linux bridge the TAP is plugged into and brought up in; "
                    + "without it Vessel configures nothing on the TAP. Repeatable: eth0, eth1, ... in order.")
    List<String> nets = new ArrayList<>();

    @Option(names = "--rng", description = "Give the guest a virtio-rng device (entropy from the host).")
    boolean rng;

    @Option(names = "--balloon", description = "Give the guest a virtio-balloon device.")
    boolean balloon;

    @Option(names = "--api-socket", paramLabel = "PATH",
            description = "Unix socket on which the running VM takes requests (see `vessel vm balloon`).")
    Path apiSocket;

    @Option(names = "--no-seccomp",
            description = "Do not sandbox the VMM (by default, once the VM is built, a seccomp filter refuses it "
                    + "execve, ptrace, mount, module loading and other calls a VMM never needs).")
    boolean noSeccomp;

    @Option(names = "--accel", paramLabel = "MODE", defaultValue = "auto",
            description = "kvm: this host's KVM; machine: inside the helper machine; auto: kvm where the CPU has VMX/SVM, else machine.")
    Accel accel;

    @Override
    public Integer call() throws Exception {
        long memoryBytes;
        try {
            memoryBytes = SizeParser.parse(memory);
        } catch (IllegalArgumentException e) {
            throw new UserError("--memory: " + e.getMessage());
        }
        memoryBytes = (memoryBytes + (1 << 20) - 1) & ~((1L << 20) - 1);
        long hostMemory = HostCapabilities.totalMemory();
        if (memoryBytes > hostMemory) {
            throw new UserError("--memory " + memory + " is more than this host has (" + (hostMemory >> 20) + " MiB)");
        }
        if (cpus < 1 || cpus > 255) {
            throw new UserError("--cpus must be between 1 and 255");
        }
        for (Path p : new Path[] {kernel, initrd}) {
            if (p != null && !Files.isRegularFile(p)) {
                throw new UserError(p + ": no such file");
            }
        }
        if (kernel != null) {
            checkKernel(kernel);
        }
        parseDisks();
        parseNets();
        VmLauncher.Accel where = switch (accel) {
            case auto -> VmLauncher.Accel.auto();
            case kvm -> VmLauncher.Accel.KVM;
            case machine -> VmLauncher.Accel.MACHINE;
        };
        if (where == VmLauncher.Accel.MACHINE && accel == Accel.auto) {
            System.err.println("vessel: no hardware virtualization here (no vmx/svm); running the VM in the helper machine (slow path)");
        }
        // The VMM's own milestones, in the process that runs the VM (tests tell a fresh VMM by them).
        boolean here = where == VmLauncher.Accel.KVM;
        if (here) {
            Timing.mark("vm run: start");
        }
        boolean interactive = StdioConsole.interactive();
        VmConfig config = toConfig(memoryBytes, interactive);
        if (here) {
            Timing.mark("vm run: kernel and initrd resolved");
        }
        try {
            return VmLauncher.run(stateRoot(), config, where, interactive,
                    noSeccomp ? VmLauncher.Sandbox.OFF : VmLauncher.Sandbox.ON, System.err);
        } catch (BootImageException e) {
            throw new UserError(e.getMessage());
        } catch (KvmException | MachineUnavailableException e) {
            throw new UserError(e.getMessage(), 125);
        }
    }

    /**
     * A `vm run` command line a standby VMM took (the options after "vm run"): parsed as this
     * command parses its own, and run on this host's KVM; its exit status. Errors are reported as
     * `vessel vm run` reports them.
     */
    static int runReceived(List<String> options) {
        VmRunCommand run = new VmRunCommand();
        CommandLine cl = new CommandLine(run).setCaseInsensitiveEnumValuesAllowed(true);
        try {
            cl.parseArgs(options.toArray(String[]::new));
        } catch (CommandLine.ParameterException e) {
            System.err.println("vessel: " + e.getMessage());
            return 2;
        }
        try {
            return run.call();
        } catch (UserError e) {
            System.err.println("vessel: " + e.getMessage());
            return e.status();
        } catch (Exception e) {
            System.err.println("vessel: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            return 1;
        }
    }

    private StateRoot stateRoot() {
        return parent != null ? parent.main.stateRoot() : StateRoot.resolve(null);
    }

    /** `--disk PATH[,ro]` options as disks; every image must exist. */
    List<VmConfig.Disk> parseDisks() throws UserError {
        List<VmConfig.Disk> out = new ArrayList<>();
        for (String d : disks) {
            boolean ro = false;
            String path = d;
            int comma = d.lastIndexOf(',');
            if (comma >= 0) {
                String opt = d.substring(comma + 1);
                if (!opt.equals("ro") && !opt.equals("rw")) {
                    throw new UserError("--disk " + d + ": unknown option '" + opt + "' (use PATH or PATH,ro)");
                }
                ro = opt.equals("ro");
                path = d.substring(0, comma);
            }
            if (path.startsWith("nbd://")) {
                out.add(new VmConfig.Disk(path, ro));
                continue;
            }
            Path p = Path.of(path);
            if (!Files.isRegularFile(p)) {
                throw new UserError("--disk " + path + ": no such file");
            }
            out.add(new VmConfig.Disk(p, ro));
        }
        return out;
    }

    /** `--net` options as network devices, a random MAC chosen for each that names none. */
    List<NetConfig> parseNets() throws UserError {
        List<NetConfig> out = new ArrayList<>();
        for (String n : nets) {
            out.add(parseNet(n));
        }
        return out;
    }

    /** One `--net tap=NAME[,mac=MAC][,bridge=BR]` value. */
    static NetConfig parseNet(String value) throws UserError {
        String tap = null;
        String bridge = null;
        MacAddress mac = null;
        for (String part : value.split(",", -1)) {
            int eq = part.indexOf('=');
            String key = eq < 0 ? part : part.substring(0, eq);
            String v = eq < 0 ? null : part.substring(eq + 1);
            if (v == null || v.isEmpty()) {
                throw new UserError("--net " + value + ": expected tap=NAME[,mac=MAC][,bridge=BR]");
            }
            switch (key) {
                case "tap" -> {
                    if (tap != null) {
                        throw new UserError("--net " + value + ": tap= given twice");
                    }
                    tap = v;
                }
                case "bridge" -> {
                    if (bridge != null) {
                        throw new UserError("--net " + value + ": bridge= given twice");
                    }
                    bridge = v;
                }
                case "mac" -> {
                    if (mac != null) {
                        throw new UserError("--net " + value + ": mac= given twice");
                    }
                    try {
                        mac = MacAddress.parse(v);
                    } catch (IllegalArgumentException e) {
                        throw new UserError("--net " + value + ": " + e.getMessage());
                    }
                }
                default -> throw new UserError("--net " + value + ": unknown option '" + key + "' (use tap=NAME[,mac=MAC][,bridge=BR])");
            }
        }
        if (tap == null) {
            throw new UserError("--net " + value + ": tap=NAME is missing");
        }
        try {
            return new NetConfig(tap, mac == null ? MacAddress.randomLocal() : mac, bridge);
        } catch (IllegalArgumentException e) {
            throw new UserError("--net " + value + ": " + e.getMessage());
        }
    }

    /** Rejects what cannot be a kernel here, before anything is sent to a helper machine. */
    static void checkKernel(Path kernel) throws UserError, IOException {
        byte[] head;
        try (var in = Files.newInputStream(kernel)) {
            head = in.readNBytes(256 * 512);
        }
        boolean elf = head.length > 4 && head[0] == 0x7f && head[1] == 'E' && head[2] == 'L' && head[3] == 'F';
        if (!elf) {
            try {
                dev.vessel.arch.x86.SetupHeader.parse(head);
            } catch (BootImageException e) {
                throw new UserError(kernel + ": " + e.getMessage());
            }
        }
    }

    Path resolveKernel() throws IOException {
        return kernel != null ? kernel : defaultKernel().vmlinuz();
    }

    private DebianKernel.Release defaultKernel() throws IOException {
        return new DebianKernel(stateRoot().dir("kernels")).ensure(System.err);
    }

    /** The built-in initramfs carries the default kernel's virtio modules, so only with that kernel. */
    Path resolveInitrd() throws IOException {
        if (initrd != null) {
            return initrd;
        }
        return DefaultInitramfs.ensure(stateRoot().dir("cache"), kernel == null ? defaultKernel() : null);
    }

    String resolveCmdline(boolean interactive) {
        if (cmdline != null) {
            return cmdline;
        }
        String c = console == VmConfig.Console.VIRTIO ? DEFAULT_CMDLINE.replace("console=ttyS0", "console=hvc0") : DEFAULT_CMDLINE;
        if (initrd == null) {
            c += " vessel.action=" + (interactive ? "shell" : "poweroff");
        }
        return append == null || append.isBlank() ? c : c + " " + append.strip();
    }

    /** The VM these options describe, with the default kernel and initrd resolved (host paths). */
    VmConfig toConfig(long memoryBytes, boolean interactive) throws IOException, UserError {
        try {
            return new VmConfig(resolveKernel(), resolveInitrd(), resolveCmdline(interactive), cpus, memoryBytes,
                    parseDisks(), console, vsock, vsockUplink, rng, balloon, apiSocket, parseNets());
        } catch (IllegalArgumentException e) {
            throw new UserError(e.getMessage());
        }
    }
}
