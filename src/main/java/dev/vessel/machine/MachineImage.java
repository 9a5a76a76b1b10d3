package dev.vessel.machine;

import dev.vessel.guest.Busybox;
import dev.vessel.guest.DebianKernel;
import dev.vessel.guest.Initramfs;
import dev.vessel.host.HostCommand;
import dev.vessel.host.PrivateFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The helper machine's disks and initramfs, built on the host from what is already here: the
 * Debian cloud kernel and its modules, busybox-static, the agent, and a jlinked Java runtime
 * with the glibc it needs. Nothing is downloaded except the kernel package (by apt).
 */
final class MachineImage {
    /** Java modules the VMM needs inside the machine. */
    static final List<String> JAVA_MODULES = List.of("java.base", "java.logging", "java.net.http", "jdk.unsupported");

    /**
     * Kernel modules the machine loads, in dependency order: disks, network, TAP devices (for the
     * VMs' virtio-net cards, `vm run --net`), nested KVM, and the driver that tells QEMU its kernel
     * panicked (QemuCommand.PANIC_DEVICE).
     */
    static final List<String> KERNEL_MODULES = List.of(
            "virtio_ring", "virtio", "virtio_mmio", "virtio_blk",
            "failover", "net_failover", "virtio_net", "tun",
            "irqbypass", "kvm", "kvm-amd", "kvm-intel",
            "pvpanic", "pvpanic-mmio");

    static final String GUEST_AGENT_PORT = "1024";

    private final MachineDirectory dir;

    MachineImage(MachineDirectory dir) {
        this.dir = dir;
    }

    /** A jlinked runtime of the running JDK on an ext4 image, rebuilt when the JDK changes. */
    Path javaRuntimeDisk() throws IOException {
        String javaHome = System.getProperty("java.home");
        String key = (Runtime.version() + "-cds-" + String.join(",", JAVA_MODULES)).replaceAll("[^A-Za-z0-9.+,-]", "_");
        Path image = dir.path().resolve("java-" + Integer.toHexString(key.hashCode()) + ".img");
        if (Files.isRegularFile(image)) {
            return image;
        }
        Path jlink = Path.of(javaHome, "bin", "jlink");
        if (!Files.isExecutable(jlink)) {
            throw new IOException("the helper machine needs jlink, and " + javaHome + " has none: run Vessel on a full JDK 25");
        }
        Path work = Files.createTempDirectory(dir.path(), ".java-");
        try {
            Path runtime = work.resolve("root");
            HostCommand.run(null, List.of(jlink.toString(), "--add-modules", String.join(",", JAVA_MODULES),
                    "--strip-debug", "--no-man-pages", "--no-header-files", "--generate-cds-archive",
                    "--output", runtime.toString()));
            Path tmp = work.resolve("java.img");
            long size = du(runtime) * 5 / 4 + (32L << 20);
            HostCommand.run(null, List.of("mkfs.ext4", "-q", "-F", "-L", "vessel-java", "-d", runtime.toString(),
                    tmp.toString(), (size >> 20) + "M"));
            PrivateFiles.restrict(tmp);
            Files.move(tmp, image, StandardCopyOption.ATOMIC_MOVE);
            return image;
        } finally {
            deleteTree(work);
        }
    }

    /** The machine's persistent disk (sparse), holding its state and the files sent from the host. */
    Path dataDisk(long sizeBytes) throws IOException {
        Path image = dir.path().resolve("data.img");
        if (!Files.isRegularFile(image)) {
            Path tmp = dir.path().resolve("data.img.tmp");
            HostCommand.run(null, List.of("mkfs.ext4", "-q", "-F", "-L", "vessel-data", tmp.toString(),
                    (sizeBytes >> 20) + "M"));
            PrivateFiles.restrict(tmp);
            Files.move(tmp, image, StandardCopyOption.ATOMIC_MOVE);
        }
        return image;
    }

    /** The machine's initramfs: busybox, glibc for the JVM, kernel modules, agent, token, init. */
    Path initramfs(DebianKernel.Release kernel, Path agent, String token) throws IOException {
        Path target = dir.path().resolve("initramfs.cpio");
        Path busybox = Busybox.find();
        try (Initramfs cpio = Initramfs.create(target)) {
            cpio.directory("dev").charDevice("dev/console", 0600, 5, 1)
                    .directory("proc").directory("sys").directory("tmp").directory("run").directory("root")
                    .file("bin/busybox", 0755, busybox)
                    .symlink("bin/sh", "busybox")
                    .file("sbin/vessel-agent", 0755, agent)
                    .text("etc/vessel/token", 0600, token)
                    .text("etc/passwd", 0644, "root:x:0:0:root:/root:/bin/sh\n")
                    .text("etc/group", 0644, "root:x:0:\n")
                    .text("etc/hosts", 0644, "127.0.0.1 localhost\n10.0.2.2 host\n")
                    .text("init", 0755, initScript());
            List<String> loaded = new ArrayList<>();
            for (String m : KERNEL_MODULES) {
                cpio.file("lib/modules/" + m + ".ko", 0644, kernel.module(m));
                loaded.add(m);
            }
            cpio.text("etc/vessel/modules", 0644, String.join("\n", loaded) + "\n");
            for (Path lib : glibcForJava()) {
                cpio.file(lib.toString(), 0755, lib.toRealPath());
            }
            cpio.symlink("lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
        }
        return target;
    }

    /** The shared libraries the JVM loads, as `ldd` on this host's java reports them. */
    static Set<Path> glibcForJava() throws IOException {
        Path home = Path.of(System.getProperty("java.home"));
        List<String> cmd = new ArrayList<>(List.of("ldd", home.resolve("bin/java").toString(),
                home.resolve("lib/server/libjvm.so").toString()));
        for (String lib : List.of("libjava.so", "libnet.so", "libnio.so", "libzip.so", "libjli.so", "libsyslookup.so")) {
            Path p = home.resolve("lib").resolve(lib);
            if (Files.exists(p)) {
                cmd.add(p.toString());
            }
        }
        String out = HostCommand.run(null, cmd);
        Set<Path> libs = new LinkedHashSet<>();
        for (String line : out.split("\n")) {
            String l = line.strip();
            int arrow = l.indexOf("=> ");
            String path = arrow >= 0 ? l.substring(arrow + 3) : l;
            int paren = path.indexOf(" (");
            if (paren >= 0) {
                path = path.substring(0, paren);
            }
            if (path.startsWith("/") && !path.startsWith(home.toString())) {
                libs.add(Path.of(path));
            }
        }
        Path loader = Path.of("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
        if (Files.exists(loader)) {
            libs.add(loader);
        }
        libs.removeIf(p -> p.toString().startsWith("/lib64/"));
        return libs;
    }

    static String initScript() {
        return """
                #!/bin/busybox sh
                # Vessel helper machine: nested KVM host for Vessel's VMs, reached through vessel-agent.
                /bin/busybox --install -s /bin
                export PATH=/bin:/sbin
                mount -t proc proc /proc
                mount -t sysfs sysfs /sys
                mount -t devtmpfs devtmpfs /dev
                mkdir -p /dev/pts /dev/shm && mount -t devpts -o ptmxmode=0666 devpts /dev/pts && mount -t tmpfs tmpfs /dev/shm
                mount -t tmpfs tmpfs /tmp
                mount -t tmpfs tmpfs /run
                # TCG's "max" CPU is AMD-like (SVM); load only the KVM vendor module that matches.
                vendor=kvm-amd; grep -qw vmx /proc/cpuinfo && vendor=kvm-intel
                # kvm-amd without virtual GIF: KVM then never hands the guest's GIF to TCG's emulation
                # of it; tried against rare lost interrupts in VMs, not a proven fix (docs/helper-machine.md).
                for m in $(cat /etc/vessel/modules); do
                  case "$m" in kvm-amd|kvm-intel) [ "$m" = "$vendor" ] || continue ;; esac
                  params=; [ "$m" = kvm-amd ] && params=vgif=0
                  insmod /lib/modules/$m.ko $params || echo "vessel-machine: cannot load $m"
                done
                hostname vessel-machine
                ip link set lo up
                ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up && ip route add default via 10.0.2.2
                mkdir -p /opt/java /var/lib/vessel
                mount -o ro /dev/vda /opt/java || echo "vessel-machine: no Java runtime disk"
                mount -o noatime /dev/vdb /var/lib/vessel || echo "vessel-machine: no data disk"
                notify=
                for arg in $(cat /proc/cmdline); do
                  case "$arg" in vessel.notify=*) notify="${arg#vessel.notify=}" ;; esac
                done
                [ -e /dev/kvm ] || echo "vessel-machine: /dev/kvm is missing (no nested virtualization)"
                # The agent prints its port once it listens; only then tell the host we are ready.
                mkfifo /run/agent.ready
                /sbin/vessel-agent --listen tcp:0.0.0.0:@PORT@ --token-file /etc/vessel/token >/run/agent.ready &
                agent=$!
                read -r port < /run/agent.ready
                [ -n "$notify" ] && echo "ready $port" | nc "${notify%:*}" "${notify#*:}"
                # The agent is a child subreaper: sessions' orphans go to it, not to this shell.
                wait $agent
                echo "vessel-machine: the agent exited; powering off"
                sync
                poweroff -f
                """.replace("@PORT@", GUEST_AGENT_PORT);
    }

    static long du(Path root) throws IOException {
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(Files::isRegularFile).mapToLong(p -> {
                try {
                    return (Files.size(p) + 4095) & ~4095L;
                } catch (IOException e) {
                    return 0;
                }
            }).sum();
        }
    }

    static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
