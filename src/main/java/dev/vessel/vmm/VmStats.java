package dev.vessel.vmm;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * VESSEL_STATS=1: how much work the VM made the VMM and KVM do, printed to stderr when it ends,
 * one line: {@code vessel-stats: vmm_exits=N [kvm_exits=N kvm_io_exits=N ...]}.
 *
 * <ul>
 *   <li>{@code vmm_exits}: KVM_RUN returns the VMM handled, all vCPUs ({@link VirtualMachine#exits()}):
 *   port I/O and MMIO of emulated devices, and the rest that reaches user space. A virtio kick
 *   on an ioeventfd is not one (KVM completes it in the kernel).</li>
 *   <li>{@code kvm_*}: KVM's own per-VM counters from debugfs
 *   ({@code /sys/kernel/debug/kvm/PID-FD/}), when debugfs is mounted and readable: every exit from
 *   the guest, including those the kernel handles itself (ioeventfd kicks, interrupts, HLT).</li>
 * </ul>
 * For benchmarks (bench/console.sh); costs nothing unless the variable is set.
 */
public final class VmStats {
    private VmStats() {}

    /** KVM debugfs counters worth printing, when present. */
    static final List<String> KVM_COUNTERS = List.of("exits", "io_exits", "mmio_exits", "halt_exits",
            "irq_exits", "signal_exits", "irq_injections");

    public static boolean enabled() {
        return System.getenv("VESSEL_STATS") != null;
    }

    /** Prints the line for {@code vm} to {@code out} (after {@link VirtualMachine#awaitExit()}, before it is closed). */
    public static void report(VirtualMachine vm, PrintStream out) {
        out.println(line(vm.exits(), kvmDirectory(Path.of("/sys/kernel/debug/kvm"), threadIds())));
    }

    static String line(long vmmExits, Path kvmDir) {
        StringBuilder sb = new StringBuilder("vessel-stats: vmm_exits=").append(vmmExits);
        if (kvmDir != null) {
            for (String c : KVM_COUNTERS) {
                try {
                    String v = Files.readString(kvmDir.resolve(c)).strip();
                    sb.append(" kvm_").append(c).append('=').append(v);
                } catch (IOException e) {
                    // Not every kernel has every counter.
                }
            }
        }
        return sb.toString();
    }

    /** The ids of this process's threads (/proc/self/task). */
    static java.util.Set<Long> threadIds() {
        java.util.Set<Long> ids = new java.util.HashSet<>();
        ids.add(ProcessHandle.current().pid());
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
            for (Path t : tasks) {
                try {
                    ids.add(Long.parseLong(t.getFileName().toString()));
                } catch (NumberFormatException e) {
                    // not a task
                }
            }
        } catch (IOException e) {
            // no /proc: the pid alone
        }
        return ids;
    }

    /**
     * This process's VM directory in KVM's debugfs, or null. KVM names it {@code ID-FD} after the
     * creating task's id, which for a JVM is the id of the thread that made the VM, not the pid.
     */
    static Path kvmDirectory(Path kvmDebugfs, java.util.Set<Long> taskIds) {
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(kvmDebugfs, "*-*")) {
            for (Path d : dirs) {
                String n = d.getFileName().toString();
                try {
                    if (taskIds.contains(Long.parseLong(n.substring(0, n.indexOf('-'))))) {
                        return d;
                    }
                } catch (NumberFormatException e) {
                    // not a VM folder
                }
            }
        } catch (IOException | SecurityException e) {
            // No debugfs here.
        }
        return null;
    }
}
