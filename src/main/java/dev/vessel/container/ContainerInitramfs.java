package dev.vessel.container;

import dev.vessel.guest.DebianKernel;
import dev.vessel.guest.Initramfs;
import dev.vessel.guest.agent.AgentBinary;
import dev.vessel.host.PrivateFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;

/**
 * The initramfs of every container VM: vessel-agent as {@code /init} (it mounts the image and the
 * container's disk and serves the host over vsock, see container_init.c) and the kernel modules
 * it loads. Nothing of the image is in it, so one file serves all containers of a kernel; it is
 * cached by kernel and agent build.
 */
public final class ContainerInitramfs {
    private ContainerInitramfs() {}

    /** Load order matters: each module after those it needs. */
    static final List<String> MODULES = List.of("virtio_ring", "virtio", "virtio_mmio", "virtio_blk",
            "failover", "net_failover", "virtio_net", "vsock", "vmw_vsock_virtio_transport_common", "vmw_vsock_virtio_transport", "virtio-rng", "overlay");

    /**
     * Drivers whose devices are probed in the background while the next modules load: virtio_blk
     * reads both disks' partition tables as it probes, the writable one over NBD from the helper
     * machine (0.4 s of a container's boot there, mostly waiting).
     */
    static final java.util.Set<String> ASYNC_PROBE = java.util.Set.of("virtio_blk");

    public static Path ensure(Path cacheDir, DebianKernel.Release kernel) throws IOException {
        if (!AgentBinary.isAvailable()) {
            throw new IOException("this build of Vessel has no vessel-agent (build it on a machine with gcc and libc6-dev)");
        }
        byte[] agent = AgentBinary.bytes();
        StringBuilder order = new StringBuilder();
        for (String m : MODULES) {
            order.append(m).append(ASYNC_PROBE.contains(m) ? " async_probe" : "").append('\n');
        }
        // Named by what is in it, but the kernel's own files: the agent and the load order.
        String key = kernel.name() + "-" + sha256(agent, order.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8))
                .substring(0, 16);
        Path target = cacheDir.resolve("container-initramfs-" + key + ".cpio");
        if (Files.isRegularFile(target)) {
            return target;
        }
        PrivateFiles.createDirectories(cacheDir);
        Path tmp = Files.createTempFile(cacheDir, ".container-initramfs", ".tmp");
        try {
            try (Initramfs cpio = Initramfs.create(tmp)) {
                cpio.directory("dev").charDevice("dev/console", 0600, 5, 1)
                        .directory("proc").directory("sys").directory("run").directory("newroot")
                        .file("init", 0755, agent);
                for (String m : MODULES) {
                    cpio.file("lib/modules/" + m + ".ko", 0644, kernel.module(m));
                }
                cpio.text("lib/modules/load-order", 0644, order.toString());
            }
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        } finally {
            Files.deleteIfExists(tmp);
        }
        return target;
    }

    private static String sha256(byte[]... parts) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (byte[] b : parts) {
                md.update(b);
            }
            return HexFormat.of().formatHex(md.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
