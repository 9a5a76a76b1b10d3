package dev.vessel.machine;

import dev.vessel.devices.block.FileBackend;
import dev.vessel.devices.block.nbd.NbdServer;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;

/**
 * Host disk images for a VM that runs in the helper machine: each is served over NBD on a host
 * loopback port for the life of the command, which the machine reaches at 10.0.2.2 (QEMU's
 * user-mode network turns that into a host loopback connection). The guest's writes, flushes
 * and discards land in the host file itself, so a guest `sync` reaches it as on a KVM host.
 */
public final class DiskExports implements AutoCloseable {
    /** The host's loopback as seen from the machine. */
    static final String HOST_FROM_MACHINE = "10.0.2.2";

    private final List<NbdServer> servers = new ArrayList<>();
    private final List<FileBackend> files = new ArrayList<>();

    /** Exports {@code image}; returns the `--disk` value the VMM in the machine should use. */
    public String export(Path image, boolean readOnly) throws IOException {
        FileBackend file = FileBackend.open(image, readOnly);
        files.add(file);
        byte[] secret = new byte[16];
        new SecureRandom().nextBytes(secret);
        String name = HexFormat.of().formatHex(secret);
        NbdServer server = new NbdServer(file, new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), name).start();
        servers.add(server);
        return "nbd://" + HOST_FROM_MACHINE + ":" + server.port() + "/" + name + (readOnly ? ",ro" : "");
    }

    @Override
    public void close() throws IOException {
        for (NbdServer s : servers) {
            s.close();
        }
        for (FileBackend f : files) {
            f.close();
        }
    }
}
