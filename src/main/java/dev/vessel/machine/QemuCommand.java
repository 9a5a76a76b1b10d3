package dev.vessel.machine;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The QEMU command line of the helper machine: software emulation (TCG) of a CPU with SVM, so the
 * machine's own KVM can run Vessel's guests; microvm with virtio-mmio disks and network; user-mode
 * networking that only forwards one host loopback port in. Flags measured to work in
 * docs/environment notes (QEMU 7.2).
 */
record QemuCommand(Path kernel, Path initramfs, Path javaDisk, Path dataDisk, Path toolsDisk, Path pidFile, Path consoleLog,
                   int cpus, long memoryBytes, int agentHostPort, int notifyPort) {

    static final String BINARY = "qemu-system-x86_64";

    /**
     * A soft lockup of the machine's kernel (a CPU stuck in the kernel: seen under the emulation,
     * never recovering) panics it, which ends QEMU ({@link #PANIC_DEVICE}), so the command in
     * flight fails at once instead of waiting out its timeout. The threshold is raised from 20 s to
     * 60 s so that a CPU merely starved by a busy host is not taken for a stuck one
     * (docs/helper-machine.md, "When the machine itself dies").
     */
    static final String LOCKUP_PANIC = "softlockup_panic=1 watchdog_thresh=30 ";

    /**
     * The machine's kernel tells QEMU when it panics (pvpanic, found through ACPI), and QEMU then
     * exits at once. Without it QEMU ended only when the kernel's reboot after the panic
     * ({@code panic=-1}, {@code -no-reboot}) got through, which once it did not (docs/helper-machine.md).
     */
    static final List<String> PANIC_DEVICE = List.of("-device", "pvpanic", "-action", "panic=exit-failure");

    /**
     * Under TCG the guest's TSC runs at the host's TSC rate, but calibrating it against the
     * emulated PIT fails on a busy host, and the machine's kernel sometimes stalls after that.
     * Where the host's TSC is constant and its frequency known, pass it instead of calibrating.
     */
    static String tscHint() {
        try {
            String cpuinfo = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/cpuinfo"));
            java.util.regex.Matcher flags = java.util.regex.Pattern.compile("(?m)^flags\\s*:(.*)$").matcher(cpuinfo);
            java.util.regex.Matcher mhz = java.util.regex.Pattern.compile("(?m)^cpu MHz\\s*:\\s*([0-9.]+)").matcher(cpuinfo);
            if (flags.find() && mhz.find()) {
                String f = " " + flags.group(1) + " ";
                if (f.contains(" constant_tsc ") && f.contains(" tsc_known_freq ")) {
                    long khz = Math.round(Double.parseDouble(mhz.group(1)) * 1000);
                    return "tsc_early_khz=" + khz + " ";
                }
            }
        } catch (java.io.IOException | NumberFormatException e) {
            // Fall back to the kernel's own calibration.
        }
        return "";
    }

    List<String> argv() {
        List<String> a = new ArrayList<>();
        a.add(BINARY);
        a.addAll(List.of("-accel", "tcg", "-cpu", "max"));
        a.addAll(List.of("-M", "microvm,x-option-roms=off,rtc=on,acpi=on"));
        a.addAll(List.of("-smp", Integer.toString(cpus), "-m", (memoryBytes >> 20) + "M"));
        a.addAll(List.of("-nodefaults", "-no-user-config", "-no-reboot", "-display", "none", "-monitor", "none"));
        a.addAll(List.of("-serial", "file:" + consoleLog));
        a.addAll(PANIC_DEVICE);
        a.addAll(List.of("-kernel", kernel.toString(), "-initrd", initramfs.toString()));
        a.addAll(List.of("-append", "console=ttyS0 panic=-1 " + LOCKUP_PANIC + tscHint() + "vessel.notify=10.0.2.2:" + notifyPort));
        a.addAll(List.of("-drive", "id=java,file=" + javaDisk + ",format=raw,if=none,readonly=on",
                "-device", "virtio-blk-device,drive=java"));
        a.addAll(List.of("-drive", "id=data,file=" + dataDisk + ",format=raw,if=none,cache=writeback",
                "-device", "virtio-blk-device,drive=data"));
        // The disks are vda, vdb and vdc in this order (the machine's init mounts them by these names).
        a.addAll(List.of("-drive", "id=tools,file=" + toolsDisk + ",format=raw,if=none,readonly=on",
                "-device", "virtio-blk-device,drive=tools"));
        // User-mode networking: the host reaches the agent through one loopback port; the machine reaches
        // the host's loopback services (readiness notice, test registries) at 10.0.2.2.
        a.addAll(List.of("-netdev", "user,id=net0,hostfwd=tcp:127.0.0.1:" + agentHostPort + "-:"
                        + MachineImage.GUEST_AGENT_PORT,
                "-device", "virtio-net-device,netdev=net0"));
        a.addAll(List.of("-pidfile", pidFile.toString(), "-daemonize"));
        return a;
    }
}
