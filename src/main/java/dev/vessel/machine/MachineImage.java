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
 * Debian cloud kernel and its modules, busybox-static, the agent, a jlinked Java runtime with the
 * glibc it needs, and the network tools (NetworkToolsDisk). Nothing is downloaded except the
 * kernel package (by apt).
 */
final class MachineImage {
    /** Java modules the VMM needs inside the machine. */
    static final List<String> JAVA_MODULES = List.of("java.base", "java.logging", "java.net.http", "jdk.unsupported");

    /**
     * Kernel modules the machine needs to run, in dependency order: disks, network, nested KVM, and
     * the driver that tells QEMU its kernel panicked (QemuCommand.PANIC_DEVICE).
     */
    static final List<String> CORE_MODULES = List.of(
            "virtio_ring", "virtio", "virtio_mmio", "virtio_blk",
            "failover", "net_failover", "virtio_net",
            "irqbypass", "kvm", "kvm-amd", "kvm-intel",
            "pvpanic", "pvpanic-mmio");

    /**
     * Kernel modules for container networks (bridge, TAPs, NAT), in dependency order: each one's
     * {@code modinfo -F depends} names only modules before it. In Debian's cloud kernel the ip,
     * ip6 and inet families of nftables are part of nf_tables.ko, masquerading part of nf_nat.ko,
     * and crc32c (libcrc32c's soft dependency) is built in. Not loaded: br_netfilter, which would
     * make frames bridged between two ports of one bridge pass the IP hooks; the NAT here acts on
     * traffic routed between a bridge and the machine's eth0, which passes them anyway. Nor
     * nft_redir: a published port is DNATed to its container's address, never to the machine.
     */
    static final List<String> NETWORK_MODULES = List.of(
            "tun",
            "llc", "stp", "bridge",
            "nfnetlink", "libcrc32c", "nf_tables",
            "nf_defrag_ipv4", "nf_defrag_ipv6", "nf_conntrack", "nf_nat",
            "nft_chain_nat", "nft_ct", "nft_nat", "nft_masq");

    /** Every module the machine loads at boot, in this order. */
    static final List<String> KERNEL_MODULES = Stream.concat(CORE_MODULES.stream(), NETWORK_MODULES.stream()).toList();

    static final String GUEST_AGENT_PORT = "1024";

    private final MachineDirectory dir;
    /** {@link #glibcForJava()}, once per image build: the initramfs carries it, the tools disk leaves it off. */
    private Set<Path> glibc;

    MachineImage(MachineDirectory dir) {
        this.dir = dir;
    }

    private Set<Path> glibc() throws IOException {
        if (glibc == null) {
            glibc = glibcForJava();
        }
        return glibc;
    }

    /** The disk of network tools (NetworkToolsDisk), rebuilt when a file on it changes on the host. */
    Path networkToolsDisk() throws IOException {
        return new NetworkToolsDisk(dir.path()).ensure(glibc());
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

    /**
     * What the machine this build starts is made of, as a hash: its init, kernel modules, Java
     * runtime, network tools' layout, kernel release and agent. A machine that booted from another
     * signature lacks what this build may need of it (a module, a tool).
     */
    static String signature(String kernelRelease, String agentFingerprint) {
        String parts = String.join("\n", initScript(), String.join(",", KERNEL_MODULES), String.join(",", JAVA_MODULES),
                Runtime.version().toString(), NetworkToolsDisk.LAYOUT, kernelRelease, agentFingerprint);
        try {
            byte[] d = java.security.MessageDigest.getInstance("SHA-256").digest(parts.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return java.util.HexFormat.of().formatHex(d, 0, 16);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The machine's initramfs: busybox, glibc for the JVM and the network tools, kernel modules, agent, token, init. */
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
                    // nobody: the user dnsmasq drops to; without it, it refuses to start.
                    .text("etc/passwd", 0644, "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n")
                    .text("etc/group", 0644, "root:x:0:\nnogroup:x:65534:\n")
                    .text("etc/hosts", 0644, "127.0.0.1 localhost\n10.0.2.2 host\n")
                    // QEMU's user-mode network resolves names at .3: the networks' resolvers forward there.
                    .text("etc/resolv.conf", 0644, "nameserver 10.0.2.3\n")
                    .text("init", 0755, initScript());
            List<String> loaded = new ArrayList<>();
            for (String m : KERNEL_MODULES) {
                cpio.file("lib/modules/" + m + ".ko", 0644, kernel.module(m));
                loaded.add(m);
            }
            cpio.text("etc/vessel/modules", 0644, String.join("\n", loaded) + "\n");
            for (Path lib : glibc()) {
                cpio.file(lib.toString(), 0755, lib.toRealPath());
            }
            cpio.symlink("lib64/ld-linux-x86-64.so.2", "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
        }
        return target;
    }

    /** The shared libraries the JVM loads, as `ldd` on this host's java reports them. */
    static Set<Path> glibcForJava() throws IOException {
        Path home = Path.of(System.getProperty("java.home"));
        List<String> files = new ArrayList<>(List.of(home.resolve("bin/java").toString(),
                home.resolve("lib/server/libjvm.so").toString()));
        for (String lib : List.of("libjava.so", "libnet.so", "libnio.so", "libzip.so", "libjli.so", "libsyslookup.so")) {
            Path p = home.resolve("lib").resolve(lib);
            if (Files.exists(p)) {
                files.add(p.toString());
            }
        }
        Set<Path> libs = sharedLibraries(files).found();
        libs.removeIf(p -> p.startsWith(home));
        Path loader = Path.of("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2");
        if (Files.exists(loader)) {
            libs.add(loader);
        }
        libs.removeIf(p -> p.toString().startsWith("/lib64/"));
        return libs;
    }

    /**
     * The shared libraries that {@code files} load, all the way down, as the host's dynamic loader
     * finds them ({@code ldd}), by the path it found them at.
     */
    static Libraries sharedLibraries(List<String> files) throws IOException {
        List<String> cmd = new ArrayList<>(List.of("ldd"));
        cmd.addAll(files);
        return parseLdd(HostCommand.run(null, cmd));
    }

    /**
     * What {@code ldd} reported: the libraries found, and the names it found nowhere (a JDK's
     * libnet.so names libjvm.so, which the JVM has loaded before it; a program's missing library
     * is an error).
     */
    record Libraries(Set<Path> found, Set<String> missing) {}

    /** {@code ldd}'s output: per file a "FILE:" line, then "name => /path (address)" or "/path (address)" lines. */
    static Libraries parseLdd(String out) {
        Set<Path> found = new LinkedHashSet<>();
        Set<String> missing = new LinkedHashSet<>();
        for (String line : out.split("\n")) {
            String l = line.strip();
            if (l.endsWith(":")) {
                continue; // the file the lines below are about
            }
            int arrow = l.indexOf("=> ");
            String path = arrow >= 0 ? l.substring(arrow + 3) : l;
            if (arrow >= 0 && path.startsWith("not found")) {
                missing.add(l.substring(0, arrow).strip());
                continue;
            }
            int paren = path.indexOf(" (");
            if (paren >= 0) {
                path = path.substring(0, paren);
            }
            if (path.startsWith("/")) {
                found.add(Path.of(path));
            }
        }
        return new Libraries(found, missing);
    }

    static String initScript() {
        return """
                #!/bin/busybox sh
                # Vessel helper machine: nested KVM host for Vessel's VMs, reached through vessel-agent.
                /bin/busybox --install -s /bin
                # As for the agent's commands (MachineConnection): /sbin first, where the network tools' links go.
                export PATH=/sbin:/bin:/usr/sbin:/usr/bin
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
                # Keep the VMs' RAM where it is. Moving a page (khugepaged's collapses, proactive
                # compaction) makes KVM unmap it from the nested page tables while the VM runs, the path
                # on which a traced VM triple fault pointed at the emulation (docs/helper-machine.md).
                # Huge pages at first touch stay: they move nothing.
                echo 0 > /proc/sys/vm/compaction_proactiveness
                echo 4294967295 > /sys/kernel/mm/transparent_hugepage/khugepaged/scan_sleep_millisecs
                hostname vessel-machine
                ip link set lo up
                ip addr add 10.0.2.15/24 dev eth0 && ip link set eth0 up && ip route add default via 10.0.2.2
                mkdir -p /opt/java /var/lib/vessel
                mount -o ro /dev/vda /opt/java || echo "vessel-machine: no Java runtime disk"
                mount -o noatime /dev/vdb /var/lib/vessel || echo "vessel-machine: no data disk"
                # ip, nft and dnsmasq from Debian packages, with their libraries in /usr/lib where the loader
                # looks (NetworkToolsDisk). Linked into /sbin, first in PATH for programs; busybox's sh runs
                # its own ip applet for the bare name, so its scripts call /usr/sbin/ip.
                mkdir -p /usr
                if mount -o ro /dev/vdc /usr; then ln -s /usr/sbin/* /sbin/; else echo "vessel-machine: no network tools disk"; fi
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
