package dev.vessel.guest;

import dev.vessel.guest.agent.AgentBinary;
import dev.vessel.host.PrivateFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The built-in guest root: busybox, vessel-agent and an init that reports what the VM looks like
 * from the inside (CPUs, memory, date), then powers off, reboots, gives a shell, or serves the
 * host over vsock with vessel-agent, as the kernel command line's {@code vessel.action=} says
 * (default: the image's own, {@code /etc/vessel/action}, else power-off).
 */
public final class DefaultInitramfs {
    private DefaultInitramfs() {}

    /** Bumped whenever the init script or layout changes, so cached images are rebuilt. */
    static final int FORMAT = 6;

    /**
     * Kernel modules for Vessel's paravirtual devices, in load order. Debian builds them as
     * modules, so the initramfs carries them and its init loads them.
     */
    public static final List<String> VIRTIO_MODULES = List.of(
            "virtio_ring", "virtio", "virtio_mmio", "virtio_blk",
            "failover", "net_failover", "virtio_net", "virtio_console",
            "vsock", "vmw_vsock_virtio_transport_common", "vmw_vsock_virtio_transport",
            "virtio-rng", "virtio_balloon");

    static final String INIT = """
            #!/bin/busybox sh
            /bin/busybox mkdir -p /proc /sys /dev /tmp /root /usr/bin /usr/sbin /sbin
            /bin/busybox --install -s
            mount -t proc proc /proc
            mount -t sysfs sysfs /sys
            mount -t devtmpfs devtmpfs /dev 2>/dev/null
            mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
            if [ -f /lib/modules/load-order ]; then
              for m in $(cat /lib/modules/load-order); do insmod /lib/modules/$m.ko 2>/dev/null; done
            fi
            # With console=hvc0 the console's driver is a module: only now can init's stdio reach it.
            if grep -q 'console=hvc0' /proc/cmdline && [ -c /dev/hvc0 ]; then
              exec 0<>/dev/hvc0 1>&0 2>&0
            fi
            hostname vessel
            ip link set lo up 2>/dev/null
            action=$(cat /etc/vessel/action 2>/dev/null || echo poweroff)
            for arg in $(cat /proc/cmdline); do
              case "$arg" in vessel.action=*) action="${arg#vessel.action=}" ;; esac
            done
            cpus=$(grep -c '^processor' /proc/cpuinfo)
            mem_kb=$(sed -n 's/^MemTotal: *\\([0-9]*\\) kB/\\1/p' /proc/meminfo)
            echo "Vessel micro-VM: Linux $(uname -r), $cpus vCPU(s), $((mem_kb / 1024)) MiB RAM, $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
            echo "vessel-facts: nproc=$cpus memtotal_kb=$mem_kb epoch=$(date -u +%s) uptime=$(cut -d' ' -f1 /proc/uptime) virt=$(grep -c -w -e vmx -e svm /proc/cpuinfo)"
            if [ -x /etc/vessel/run ]; then
              # An image built with a script (DefaultInitramfs.writeWithScript) runs it, then powers off.
              /etc/vessel/run
              echo "vessel-run-status: $?"
              sync
              poweroff -f
            fi
            case "$action" in
              shell)
                echo "Type 'exit' or press Ctrl-D to power off."
                setsid cttyhack sh -l
                poweroff -f ;;
              reboot) reboot -f ;;
              agent)
                # The host connects to vsock port 1024 (AgentClient); it learns the agent is up
                # from "READY" on its vsock port 1025.
                /sbin/vessel-agent --listen vsock:1024 --notify-ready >/dev/null
                poweroff -f ;;
              *) poweroff -f ;;
            esac
            """;

    /**
     * Writes the initramfs to {@code target}, using the busybox at {@code busybox}, with the virtio
     * modules of {@code kernel} (null: none, e.g. for a kernel whose modules Vessel does not have).
     */
    public static void write(Path target, Path busybox, DebianKernel.Release kernel) throws IOException {
        writeWithScript(target, busybox, kernel, null);
    }

    /** The actions the init knows, for {@code vessel.action=} and an image's default. */
    public static final List<String> ACTIONS = List.of("poweroff", "reboot", "shell", "agent");

    /**
     * The built-in image plus a shell script that the init runs after its usual set-up (mounts,
     * modules, banner) instead of the action; it prints {@code vessel-run-status: N} with the
     * script's exit status, syncs and powers off. For tests and benchmarks that drive the guest.
     */
    public static void writeWithScript(Path target, Path busybox, DebianKernel.Release kernel, String script)
            throws IOException {
        writeWithScript(target, busybox, kernel, script, java.util.Map.of());
    }

    /** As {@link #writeWithScript(Path, Path, DebianKernel.Release, String)}, plus executables (path in the image to host file). */
    public static void writeWithScript(Path target, Path busybox, DebianKernel.Release kernel, String script,
            java.util.Map<String, Path> executables) throws IOException {
        try (Initramfs cpio = Initramfs.create(target)) {
            for (var e : new java.util.TreeMap<>(executables).entrySet()) {
                cpio.file(e.getKey(), 0755, e.getValue());
            }
            if (script != null) {
                cpio.text("etc/vessel/run", 0755, script.startsWith("#!") ? script : "#!/bin/sh\n" + script);
            }
            writeBase(cpio, busybox, kernel);
        }
    }

    /** What every variant holds: busybox, the init, and the kernel's virtio modules. */
    private static void writeBase(Initramfs cpio, Path busybox, DebianKernel.Release kernel) throws IOException {
        cpio.directory("dev").charDevice("dev/console", 0600, 5, 1)
                .directory("proc").directory("sys").directory("tmp").directory("root")
                .file("bin/busybox", 0755, busybox)
                .symlink("bin/sh", "busybox")
                .text("init", 0755, INIT)
                .text("etc/passwd", 0644, "root:x:0:0:root:/root:/bin/sh\n")
                .text("etc/group", 0644, "root:x:0:\n");
        if (kernel != null) {
            List<String> order = new ArrayList<>();
            for (String m : VIRTIO_MODULES) {
                cpio.file("lib/modules/" + m + ".ko", 0644, kernel.module(m));
                order.add(m);
            }
            cpio.text("lib/modules/load-order", 0644, String.join("\n", order) + "\n");
        }
    }

    /** The cached built-in initramfs for {@code kernel} (may be null) under {@code cacheDir}, built on first use. */
    public static Path ensure(Path cacheDir, DebianKernel.Release kernel) throws IOException {
        return ensure(cacheDir, kernel, "poweroff");
    }

    /**
     * The cached built-in initramfs whose init does {@code defaultAction} (one of {@link #ACTIONS})
     * unless the command line says otherwise; with vessel-agent when this build has it.
     */
    public static Path ensure(Path cacheDir, DebianKernel.Release kernel, String defaultAction) throws IOException {
        if (!ACTIONS.contains(defaultAction)) {
            throw new IllegalArgumentException("unknown action " + defaultAction + " (" + String.join(", ", ACTIONS) + ")");
        }
        Path busybox = Busybox.find();
        boolean agent = AgentBinary.isAvailable();
        if (!agent && defaultAction.equals("agent")) {
            throw new IOException("this build of Vessel has no vessel-agent (build it on a machine with gcc and libc6-dev)");
        }
        String key = FORMAT + "-" + Files.size(busybox) + "-" + Files.getLastModifiedTime(busybox).toMillis()
                + "-" + (kernel == null ? "none" : kernel.name()) + "-" + defaultAction + "-"
                + (agent ? AgentBinary.fingerprint() : "no-agent");
        Path target = cacheDir.resolve("initramfs-busybox-" + Integer.toHexString(key.hashCode()) + ".cpio");
        if (!Files.isRegularFile(target)) {
            PrivateFiles.createDirectories(cacheDir);
            Path tmp = Files.createTempFile(cacheDir, ".initramfs", ".tmp");
            try {
                try (Initramfs cpio = Initramfs.create(tmp)) {
                    if (agent) {
                        cpio.file("sbin/vessel-agent", 0755, AgentBinary.bytes());
                    }
                    cpio.text("etc/vessel/action", 0644, defaultAction + "\n");
                    writeBase(cpio, busybox, kernel);
                }
                Files.move(tmp, target, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                        java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
        return target;
    }
}
