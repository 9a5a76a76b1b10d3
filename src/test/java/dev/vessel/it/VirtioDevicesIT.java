package dev.vessel.it;

import dev.vessel.guest.Busybox;
import dev.vessel.guest.DebianKernel;
import dev.vessel.guest.DefaultInitramfs;
import dev.vessel.guest.agent.AgentBinary;
import dev.vessel.guest.agent.AgentClient;
import dev.vessel.guest.agent.ExecRequest;
import dev.vessel.guest.agent.ExecSession;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The stock kernel drives every virtio device with its own drivers: each test boots the built-in
 * initramfs with a script, and asserts on what the guest did (bytes on the host's disk image,
 * data that crossed vsock, the guest's own view of its devices).
 */
@ExtendWith(HelperMachineExtension.class)
class VirtioDevicesIT {
    private static DebianKernel.Release kernel;
    private static Path agent;

    @TempDir
    static Path work;

    @BeforeAll
    static void kernelAndAgent() throws IOException {
        kernel = new DebianKernel(VesselCli.root().resolve("kernels")).cached();
        assertTrue(kernel != null, "no cached kernel under " + VesselCli.root() + " (the machine start fetches it)");
        assertTrue(AgentBinary.isAvailable(), "this build has no vessel-agent (needs gcc and libc6-dev)");
        agent = AgentBinary.extractTo(Files.createDirectories(work.resolve("agent")));
    }

    /** An initramfs that runs {@code script} (with vessel-agent in /sbin) and powers off. */
    private static Path initrd(String name, String script) throws IOException {
        Path p = work.resolve(name + ".cpio");
        DefaultInitramfs.writeWithScript(p, Busybox.find(), kernel, script, Map.of("sbin/vessel-agent", agent));
        return p;
    }

    private static Path ext4(String name, Map<String, String> files) throws Exception {
        Path dir = Files.createDirectories(work.resolve(name + ".d"));
        for (var e : files.entrySet()) {
            Files.writeString(dir.resolve(e.getKey()), e.getValue());
        }
        Path img = work.resolve(name + ".img");
        run(List.of("mkfs.ext4", "-q", "-F", "-d", dir.toString(), img.toString(), "64M"));
        return img;
    }

    private static String run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), cmd + " hung");
        assertEquals(0, p.exitValue(), cmd + ": " + out);
        return out;
    }

    private static String value(VesselCli.Result r, String key) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(key) + "=(.*?)\\r?$").matcher(r.stdout());
        assertTrue(m.find(), "the guest did not print " + key + "\n" + r);
        return m.group(1);
    }

    private static void scriptSucceeded(VesselCli.Result r) {
        assertEquals(0, r.status(), r.toString());
        assertTrue(r.stdout().contains("vessel-run-status: 0"), "the guest's script failed\n" + r);
    }

    @Test
    void blockDisksAreReadWrittenAndSyncedToTheHostFileAndReadOnlyRefusesWrites() throws Exception {
        Path rw = ext4("rw", Map.of("hello.txt", "hello from the host\n"));
        Path ro = ext4("ro", Map.of("hello.txt", "read-only hello\n"));
        byte[] roBefore = Files.readAllBytes(ro);
        String script = """
                set -e
                mkdir -p /mnt/a /mnt/b
                mount -t ext4 /dev/vda /mnt/a
                echo "rw-hello=$(cat /mnt/a/hello.txt)"
                i=0; while [ $i -lt 3000 ]; do echo "line $i written by the guest"; i=$((i+1)); done > /mnt/a/guest.txt
                sync
                echo "vda-serial=$(cat /sys/block/vda/serial)"
                echo "vdb-ro=$(cat /sys/block/vdb/ro)"
                if dd if=/dev/zero of=/dev/vdb bs=4096 count=1 oflag=direct 2>/dev/null; then echo ro-write=accepted; else echo ro-write=refused; fi
                mount -t ext4 -o ro /dev/vdb /mnt/b
                echo "ro-hello=$(cat /mnt/b/hello.txt)"
                umount /mnt/b
                umount /mnt/a
                """;
        VesselCli.Result r = VesselCli.run("vm", "run", "--initrd", initrd("blk", script).toString(),
                "--disk", rw.toString(), "--disk", ro + ",ro");
        scriptSucceeded(r);
        assertEquals("hello from the host", value(r, "rw-hello"));
        assertEquals("read-only hello", value(r, "ro-hello"));
        assertEquals("1", value(r, "vdb-ro"));
        assertEquals("refused", value(r, "ro-write"));
        assertTrue(!value(r, "vda-serial").isBlank(), "vda has no serial\n" + r);

        StringBuilder expected = new StringBuilder();
        for (int i = 0; i < 3000; i++) {
            expected.append("line ").append(i).append(" written by the guest\n");
        }
        String onHost = run(List.of("debugfs", "-R", "cat /guest.txt", rw.toString()))
                .replaceFirst("^debugfs [^\n]*\n", "");
        assertEquals(expected.toString(), onHost, "the guest's file is not on the host's image");
        assertArrayEquals(roBefore, Files.readAllBytes(ro), "the read-only image changed");
    }

    @Test
    void theConsoleOnHvc0CarriesOutputAndInput() throws Exception {
        String script = """
                echo "console=$(cat /sys/class/tty/console/active)"
                read -r line
                echo "guest-got=$line"
                """;
        VesselCli.Result r = VesselCli.run(Duration.ofMinutes(3), "ping over virtio\n".getBytes(StandardCharsets.UTF_8),
                "vm", "run", "--console", "virtio", "--initrd", initrd("console", script).toString());
        scriptSucceeded(r);
        assertTrue(value(r, "console").contains("hvc0"), r.toString());
        assertEquals("ping over virtio", value(r, "guest-got"));
        assertTrue(r.stdout().contains("Vessel micro-VM: Linux 6."), "the init's banner did not reach hvc0\n" + r);
    }

    @Test
    void rngGivesTheGuestBytes() throws Exception {
        String script = """
                echo "rng=$(cat /sys/class/misc/hw_random/rng_current)"
                echo "bytes=$(dd if=/dev/hwrng bs=64 count=1 2>/dev/null | od -An -tx1 | tr -d ' \\n')"
                """;
        VesselCli.Result r = VesselCli.run("vm", "run", "--rng", "--initrd", initrd("rng", script).toString());
        scriptSucceeded(r);
        assertTrue(value(r, "rng").startsWith("virtio_rng"), r.toString());
        String hex = value(r, "bytes");
        assertEquals(128, hex.length(), r.toString());
        assertTrue(!hex.matches("0+"), "64 zero bytes from the host's SecureRandom\n" + r);
    }

    @Test
    void theBalloonInflatesOnRequestAndReportsStatistics() throws Exception {
        Path api = work.resolve("api.sock");
        String script = """
                echo balloon-ready
                read -r go
                echo "after=$(sed -n 's/^MemTotal: *\\([0-9]*\\) kB/\\1/p' /proc/meminfo)"
                """;
        Process vm = VesselCli.start(List.of("vm", "run", "--memory", "256M", "--balloon", "--api-socket", api.toString(),
                "--initrd", initrd("balloon", script).toString()));
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        VesselCli.pump(vm.getErrorStream(), err);
        StringBuilder out = new StringBuilder();
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(vm.getInputStream(), StandardCharsets.UTF_8));
             OutputStream stdin = vm.getOutputStream()) {
            String line;
            while ((line = lines.readLine()) != null && !line.contains("balloon-ready")) {
                out.append(line).append('\n');
            }
            assertTrue(line != null, "the guest never got ready\n" + out + err);
            VesselCli.Result b = VesselCli.run(Duration.ofMinutes(3), null,
                    "vm", "balloon", "--api-socket", api.toString(), "--target", "64M", "--wait", "--timeout", "120");
            assertEquals(0, b.status(), b.toString());
            VesselCli.Result s = VesselCli.run(Duration.ofMinutes(1), null,
                    "vm", "stats", "--api-socket", api.toString(), "--json");
            assertEquals(0, s.status(), s.toString());
            assertTrue(s.stdout().contains("\"actual_mib\":64"), s.toString());
            stdin.write("go\n".getBytes(StandardCharsets.UTF_8));
            stdin.flush();
            while ((line = lines.readLine()) != null) {
                out.append(line).append('\n');
            }
        }
        assertTrue(vm.waitFor(2, TimeUnit.MINUTES), "the VM did not power off\n" + out);
        assertEquals(0, vm.exitValue(), out + "\n" + err);
        assertTrue(out.toString().contains("vessel-run-status: 0"), out.toString());
    }

    @Test
    void vsockCarriesAMebibyteEachWayIntact() throws Exception {
        Path sock = work.resolve("v.sock");
        String script = """
                set -e
                mkfifo /tmp/agent.ready
                vessel-agent --listen vsock:1024 > /tmp/agent.ready &
                read -r port < /tmp/agent.ready
                echo vsock-ready
                read -r go
                dd if=/dev/urandom of=/tmp/data bs=1024 count=1024 2>/dev/null
                echo "guest-sent=$(sha256sum < /tmp/data | cut -d' ' -f1)"
                vessel-agent --connect-vsock 2:5000 < /tmp/data > /tmp/back
                echo "guest-back=$(sha256sum < /tmp/back | cut -d' ' -f1)"
                """;
        // Guest to host: an echo server on PATH_5000, as Firecracker's hybrid vsock defines it.
        ServerSocketChannel echo = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        echo.bind(UnixDomainSocketAddress.of(sock + "_5000"));
        MessageDigest hostReceived = MessageDigest.getInstance("SHA-256");
        CompletableFuture<Long> echoed = Background.run("vsock-echo", () -> {
            try (echo; SocketChannel c = echo.accept()) {
                ByteBuffer buf = ByteBuffer.allocate(65536);
                long total = 0;
                while (c.read(buf) >= 0) {
                    buf.flip();
                    hostReceived.update(buf.duplicate());
                    total += buf.remaining();
                    while (buf.hasRemaining()) {
                        c.write(buf);
                    }
                    buf.clear();
                }
                return total;
            }
        });
        try {
            vsockRoundTrip(sock, script, hostReceived, echoed);
        } finally {
            echo.close(); // a guest that never connected leaves accept() waiting: end it
        }
    }

    private void vsockRoundTrip(Path sock, String script, MessageDigest hostReceived, CompletableFuture<Long> echoed)
            throws Exception {

        Process vm = VesselCli.start(List.of("vm", "run", "--vsock", sock.toString(),
                "--initrd", initrd("vsock", script).toString()));
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        VesselCli.pump(vm.getErrorStream(), err);
        StringBuilder out = new StringBuilder();
        try (BufferedReader lines = new BufferedReader(new InputStreamReader(vm.getInputStream(), StandardCharsets.UTF_8));
             OutputStream stdin = vm.getOutputStream()) {
            String line;
            while ((line = lines.readLine()) != null && !line.contains("vsock-ready")) {
                out.append(line).append('\n');
            }
            assertTrue(line != null, "the guest never got ready\n" + out + err);

            // Host to guest: CONNECT to the agent on port 1024, which runs cat on 1 MiB of data.
            byte[] data = new byte[1 << 20];
            new Random(42).nextBytes(data);
            SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            ch.connect(UnixDomainSocketAddress.of(sock));
            ch.write(ByteBuffer.wrap("CONNECT 1024\n".getBytes(StandardCharsets.US_ASCII)));
            String ok = readLine(Channels.newInputStream(ch));
            assertTrue(ok.matches("OK \\d+"), "hybrid vsock answered '" + ok + "'");
            ByteArrayOutputStream back = new ByteArrayOutputStream();
            try (AgentClient client = new AgentClient(ch)) {
                client.hello(null);
                try (ExecSession cat = client.exec(ExecRequest.of("/bin/cat"), new ByteArrayInputStream(data), back,
                        OutputStream.nullOutputStream())) {
                    assertEquals(0, cat.waitFor());
                }
            }
            assertArrayEquals(data, back.toByteArray(), "1 MiB through vsock came back changed");

            stdin.write("go\n".getBytes(StandardCharsets.UTF_8));
            stdin.flush();
            while ((line = lines.readLine()) != null) {
                out.append(line).append('\n');
            }
        }
        assertTrue(vm.waitFor(2, TimeUnit.MINUTES), "the VM did not power off\n" + out);
        String o = out.toString();
        assertEquals(0, vm.exitValue(), o + "\n" + err);
        assertTrue(o.contains("vessel-run-status: 0"), o);
        assertEquals(1L << 20, echoed.get(1, TimeUnit.MINUTES), o);
        String sent = field(o, "guest-sent");
        assertEquals(sent, HexFormat.of().formatHex(hostReceived.digest()), "the host got other bytes than the guest sent");
        assertEquals(sent, field(o, "guest-back"), "the guest got other bytes back than it sent");
    }

    private static String field(String out, String key) {
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(key) + "=([0-9a-f]{64})").matcher(out);
        assertTrue(m.find(), "no " + key + " in\n" + out);
        return m.group(1);
    }

    private static String readLine(InputStream in) throws IOException {
        List<Byte> b = new ArrayList<>();
        int c;
        while ((c = in.read()) >= 0 && c != '\n') {
            b.add((byte) c);
        }
        byte[] a = new byte[b.size()];
        for (int i = 0; i < a.length; i++) {
            a[i] = b.get(i);
        }
        return new String(a, StandardCharsets.US_ASCII);
    }
}
