package dev.vessel.vmm.control;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.devices.virtio.balloon.BalloonStats;
import dev.vessel.devices.virtio.balloon.DriverBench;
import dev.vessel.devices.virtio.balloon.DriverBench.Buf;
import dev.vessel.devices.virtio.balloon.VirtioBalloon;
import dev.vessel.vmm.VmConfig;
import dev.vessel.devices.virtio.mmio.VirtioMmioTransport;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ControlServerTest {
    static final long RAM = 256L << 20;

    final VirtioBalloon balloon = new VirtioBalloon(RAM, VirtioBalloon.DEFAULT_FEATURES, (m, gpa, len) -> {});
    final FakeVm vm = new FakeVm(balloon);
    final ControlServer api = new ControlServer(vm);
    DriverBench bench;
    ControlServer server;

    @TempDir
    Path dir;

    @AfterEach
    void close() {
        if (server != null) {
            server.close();
        }
        if (bench != null) {
            bench.close();
        }
    }

    static Map<String, Object> reply(String json) throws IOException {
        return ControlClient.parseReply(json);
    }

    Map<String, Object> ok(String request) throws IOException {
        Map<String, Object> r = reply(api.handle(request));
        assertEquals(Boolean.TRUE, r.get("ok"), request + " -> " + r);
        return r;
    }

    String error(String request) throws IOException {
        Map<String, Object> r = reply(api.handle(request));
        assertEquals(Boolean.FALSE, r.get("ok"), request + " -> " + r);
        assertTrue(r.get("error") instanceof String s && !s.isBlank(), r.toString());
        return (String) r.get("error");
    }

    @Test
    void balloonMibSetsTheTargetAndRaisesAConfigChange() throws Exception {
        bench = new DriverBench(balloon, RAM);
        assertTrue(bench.init(VirtioBalloon.DEFAULT_FEATURES, 4, 128));
        bench.ack(3);
        Map<String, Object> r = ok("{\"balloon_mib\": 128}");
        assertEquals(32768L, r.get("target_pages"));
        assertEquals(128L, r.get("target_mib"));
        assertEquals(0L, r.get("actual_pages"));
        assertEquals(256L, r.get("memory_mib"));
        assertFalse(r.containsKey("reached"));
        assertEquals(32768, bench.readConfig(VirtioBalloon.CONFIG_NUM_PAGES, 4));
        assertTrue((bench.interruptStatus() & VirtioMmioTransport.INTERRUPT_CONFIG_CHANGE) != 0);
        assertEquals(0L, ok("{\"balloon_mib\":0}").get("target_pages"));
        assertEquals(255L * 256, ok(" {\"balloon_mib\":255} ").get("target_pages"));
    }

    @Test
    void absurdOrMistypedSizesAreRefused() throws Exception {
        assertTrue(error("{\"balloon_mib\": 256}").contains("not below the VM's memory (256 MiB)"));
        error("{\"balloon_mib\": 1000000}");
        error("{\"balloon_mib\": 9223372036854775807}");
        error("{\"balloon_mib\": 99999999999999999999999}");
        error("{\"balloon_mib\": -1}");
        error("{\"balloon_mib\": 1.5}");
        error("{\"balloon_mib\": \"128\"}");
        error("{\"balloon_mib\": null}");
        error("{\"balloon_mib\": [128]}");
        error("{\"balloon_mib\": {\"n\": 1}}");
        error("{\"balloon_mib\": 1, \"wait_ms\": -5}");
        error("{\"balloon_mib\": 1, \"wait_ms\": 99999999}");
        assertEquals(0, balloon.targetPages(), "nothing refused changed the target");
    }

    /** The VM side of the socket: records what it was asked. */
    static final class FakeVm implements ControlledVm {
        final VirtioBalloon balloon;
        final List<String> calls = new ArrayList<>();
        String state = "running";
        Exception pauseFailure;
        List<dev.vessel.devices.virtio.net.VirtioNet> nets = List.of();

        FakeVm(VirtioBalloon balloon) {
            this.balloon = balloon;
        }

        @Override
        public void pause() throws Exception {
            calls.add("pause");
            if (pauseFailure != null) {
                throw pauseFailure;
            }
            state = "paused";
        }

        @Override
        public void resume() {
            calls.add("resume");
            state = "running";
        }

        @Override
        public void stop() {
            calls.add("stop");
            state = "exited";
        }

        @Override
        public String state() {
            return state;
        }

        @Override
        public VmConfig config() {
            return VmConfig.builder().kernel(Path.of("/k/vmlinuz")).initrd(Path.of("/k/initrd")).cpus(2)
                    .memory(RAM).disk(Path.of("/d/a.img"), true).disk(Path.of("/d/b.img"), false)
                    .vsock(Path.of("/run/v.sock")).balloon(balloon != null).build();
        }

        @Override
        public long exits() {
            return 42;
        }

        @Override
        public VirtioBalloon balloon() {
            return balloon;
        }

        @Override
        public List<dev.vessel.devices.virtio.net.VirtioNet> nets() {
            return nets;
        }
    }

    @Test
    void pauseResumeAndStopReachTheVmAndAnswerWithItsState() throws Exception {
        assertEquals("paused", ok("{\"pause\": true}").get("state"));
        assertEquals("running", ok("{\"resume\":true}").get("state"));
        assertEquals("exited", ok("{\"stop\": true}").get("state"));
        assertEquals(List.of("pause", "resume", "stop"), vm.calls);
        vm.pauseFailure = new java.util.concurrent.TimeoutException("1 vCPU(s) did not leave the guest within 10 s");
        assertTrue(error("{\"pause\": true}").contains("did not leave the guest"));
        error("{\"pause\": true, \"stop\": true}");
        error("{\"stop\": false}");
        error("{\"pause\": true, \"timeout_ms\": 5}");
        assertEquals(4, vm.calls.size(), "refused requests do nothing: " + vm.calls);
    }

    @Test
    @SuppressWarnings("unchecked")
    void describeTellsWhatTheVmIs() throws Exception {
        Map<String, Object> r = ok("{\"describe\": true}");
        assertEquals("running", r.get("state"));
        assertEquals(2L, r.get("cpus"));
        assertEquals(256L, r.get("memory_mib"));
        assertEquals("/k/vmlinuz", r.get("kernel"));
        assertEquals("/k/initrd", r.get("initrd"));
        assertEquals("serial", r.get("console"));
        assertEquals("/run/v.sock", r.get("vsock"));
        assertEquals(Boolean.TRUE, r.get("balloon"));
        assertEquals(42L, r.get("exits"));
        List<Object> disks = (List<Object>) r.get("disks");
        assertEquals(2, disks.size());
        assertEquals(Map.of("path", "/d/a.img", "read_only", true), disks.get(0));
        assertEquals(Map.of("path", "/d/b.img", "read_only", false), disks.get(1));
    }

    @Test
    @SuppressWarnings("unchecked")
    void describeListsTheNetworkCardsWithTheirCounters() throws Exception {
        dev.vessel.devices.FdReadiness idle = (fd, onReady) -> new dev.vessel.devices.FdReadiness.Registration() {
            @Override
            public void arm(int events) {}

            @Override
            public void close() {}
        };
        dev.vessel.devices.virtio.net.NetBackend nowhere = new dev.vessel.devices.virtio.net.NetBackend() {
            @Override
            public int fd() {
                return -1;
            }

            @Override
            public void setOffload(int tunFlags) {}

            @Override
            public String name() {
                return "tap7";
            }

            @Override
            public void close() {}
        };
        dev.vessel.devices.virtio.net.VirtioNet net = new dev.vessel.devices.virtio.net.VirtioNet(nowhere,
                dev.vessel.devices.virtio.net.MacAddress.parse("02:00:00:00:00:07"), idle);
        FakeVm withNet = new FakeVm(null);
        withNet.nets = List.of(net);
        Map<String, Object> r = reply(new ControlServer(withNet).handle("{\"describe\": true}"));
        List<Object> nets = (List<Object>) r.get("nets");
        assertEquals(1, nets.size());
        Map<String, Object> n = (Map<String, Object>) nets.get(0);
        assertEquals("tap7", n.get("tap"));
        assertEquals("02:00:00:00:00:07", n.get("mac"));
        assertEquals(Boolean.TRUE, n.get("link_up"));
        for (String counter : List.of("rx_frames", "rx_bytes", "rx_dropped", "rx_bad_buffers", "tx_frames", "tx_bytes",
                "tx_dropped")) {
            assertEquals(0L, n.get(counter), counter);
        }
        assertEquals(List.of(), ok("{\"describe\": true}").get("nets"), "no cards: an empty list");
    }

    @Test
    void balloonRequestsNeedABalloonDevice() throws Exception {
        ControlServer without = new ControlServer(new FakeVm(null));
        for (String request : List.of("{\"balloon_mib\": 1}", "{\"stats\": true}")) {
            Map<String, Object> r = reply(without.handle(request));
            assertEquals(Boolean.FALSE, r.get("ok"));
            assertTrue(String.valueOf(r.get("error")).contains("no balloon device"), r.toString());
        }
        assertEquals(Boolean.TRUE, reply(without.handle("{\"describe\": true}")).get("ok"));
    }

    @Test
    void malformedRequestsGetAnErrorReply() throws Exception {
        assertTrue(error("{\"balloon_mib\": ").startsWith("malformed JSON"));
        error("not json");
        error("");
        error("[]");
        error("128");
        error("{}");
        assertTrue(error("{\"balloon\": 128}").contains("unknown key"));
        error("{\"balloon_mib\": 1, \"stats\": true}");
        error("{\"balloon_mib\": 1, \"balloon_mib\": 2}");
        error("{\"balloon_mib\": 1} {\"balloon_mib\": 2}");
        error("{\"stats\": false}");
        error("{\"stats\": 1}");
        error("{\"wait_ms\": 10}");
        error("{\"stats\": true, \"wait_ms\": 10}");
        error("{\"balloon_mib\": 1, \"timeout_ms\": 10}");
        error("{\"a\": {\"b\": {\"c\": {\"d\": {\"e\": 1}}}}}");
        error("{\"" + "k".repeat(10_000) + "\": 1}");
        error("\u0000\uFFFF");
    }

    @Test
    void waitMsWaitsForTheGuestToReachTheTarget() throws Exception {
        bench = new DriverBench(balloon, RAM);
        assertTrue(bench.init(VirtioBalloon.DEFAULT_FEATURES, 4, 128));
        assertEquals(Boolean.FALSE, ok("{\"balloon_mib\": 1, \"wait_ms\": 10}").get("reached"));
        CompletableFuture<String> waiting = CompletableFuture.supplyAsync(
                () -> api.handle("{\"balloon_mib\": 2, \"wait_ms\": 60000}"));
        // The "driver" inflates, in steps, as Linux does (256 pages a time), writing actual after each.
        for (int actual = 256; actual <= 512; actual += 256) {
            bench.writeConfig(VirtioBalloon.CONFIG_ACTUAL, 4, actual);
        }
        Map<String, Object> r = reply(waiting.get(1, TimeUnit.MINUTES));
        assertEquals(Boolean.TRUE, r.get("reached"), r.toString());
        assertEquals(512L, r.get("actual_pages"));
        assertEquals(2L, r.get("actual_mib"));
    }

    @Test
    void statsRepliesCarryTheGuestsNumbersAndTheHostCounters() throws Exception {
        Map<String, Object> none = ok("{\"stats\": true}");
        assertEquals(Boolean.FALSE, none.get("stats_available"));
        assertTrue(none.containsKey("stats_age_ms"));
        assertNull(none.get("stats_age_ms"));
        assertEquals(Map.of(), none.get("stats"));

        bench = new DriverBench(balloon, RAM);
        assertTrue(bench.init(VirtioBalloon.DEFAULT_FEATURES, 4, 128));
        long gpa = bench.alloc(20);
        bench.write(gpa, statsBuffer(BalloonStats.FREE_MEMORY, 100L << 20, BalloonStats.TOTAL_MEMORY, -1L));
        bench.submit(2, Buf.in(gpa, 20));
        long pfns = bench.alloc(8);
        bench.write(pfns, new byte[] {1, 0, 0, 0, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF, (byte) 0xFF});
        bench.submit(VirtioBalloon.INFLATEQ, Buf.in(pfns, 8));

        // timeout 0: the latest snapshot at once (the buffer went back to the "driver" all the same).
        Map<String, Object> r = ok("{\"stats\": true, \"timeout_ms\": 0}");
        assertEquals(Boolean.TRUE, r.get("stats_available"));
        assertTrue(r.get("stats_age_ms") instanceof Long age && age >= 0, r.toString());
        @SuppressWarnings("unchecked")
        Map<String, Object> stats = (Map<String, Object>) r.get("stats");
        assertEquals(100L << 20, stats.get("free_bytes"));
        assertEquals(new java.math.BigInteger("18446744073709551615"), stats.get("total_bytes"), "u64 values stay unsigned");
        @SuppressWarnings("unchecked")
        Map<String, Object> host = (Map<String, Object>) r.get("host");
        assertEquals(1L, host.get("inflated_pages"));
        assertEquals(1L, host.get("invalid_pfns"));
        assertEquals(4096L, host.get("released_bytes"));
        assertEquals(1, bench.used(2).size());

        // With time to answer: the request hands the buffer back, the "driver" sends fresh numbers, the reply has them.
        long gpa2 = bench.alloc(10);
        bench.write(gpa2, statsBuffer(BalloonStats.FREE_MEMORY, 41));
        bench.submit(2, Buf.in(gpa2, 10));
        CompletableFuture<String> asking = CompletableFuture.supplyAsync(() -> api.handle("{\"stats\": true, \"timeout_ms\": 60000}"));
        assertEquals(1, bench.awaitUsed(2).size());
        long gpa3 = bench.alloc(10);
        bench.write(gpa3, statsBuffer(BalloonStats.FREE_MEMORY, 42));
        bench.submit(2, Buf.in(gpa3, 10));
        Map<String, Object> fresh = reply(asking.get(1, TimeUnit.MINUTES));
        @SuppressWarnings("unchecked")
        Map<String, Object> freshStats = (Map<String, Object>) fresh.get("stats");
        assertEquals(42L, freshStats.get("free_bytes"), fresh.toString());
    }

    static byte[] statsBuffer(long... tagValue) {
        return DriverBench.statsBuffer(tagValue);
    }

    // ---------------------------------------------------------------------------------------------
    // Over the socket

    @Test
    void servesOverAPrivateUnixSocketAndCleansUp() throws Exception {
        Path sock = dir.resolve("vm.sock");
        server = ControlServer.start(sock, vm);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(sock)));
        Map<String, Object> r = reply(ControlClient.call(sock, "{\"balloon_mib\":64}", Duration.ofSeconds(30)));
        assertEquals(16384L, r.get("target_pages"));
        assertEquals(16384, balloon.targetPages());
        // Another VM cannot take a live socket.
        FileAlreadyExistsException e = assertThrows(FileAlreadyExistsException.class, () -> ControlServer.start(sock, vm));
        assertTrue(e.getMessage().contains("another process"), e.getMessage());
        server.close();
        assertFalse(Files.exists(sock), "close removes the socket");
        assertThrows(IOException.class, () -> ControlClient.call(sock, "{\"stats\":true}", Duration.ofSeconds(5)));
    }

    @Test
    void aStaleSocketIsReplacedAndOtherFilesAreLeftAlone() throws Exception {
        Path sock = dir.resolve("stale.sock");
        try (ServerSocketChannel old = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            old.bind(UnixDomainSocketAddress.of(sock));
        }
        assertTrue(Files.exists(sock), "a socket file nobody listens on");
        server = ControlServer.start(sock, vm);
        assertEquals(Boolean.TRUE, reply(ControlClient.call(sock, "{\"stats\":true,\"timeout_ms\":0}",
                Duration.ofSeconds(30))).get("ok"));

        Path file = Files.writeString(dir.resolve("notes.txt"), "keep me");
        assertThrows(FileAlreadyExistsException.class, () -> ControlServer.start(file, vm));
        assertEquals("keep me", Files.readString(file));
        assertThrows(IOException.class, () -> ControlServer.start(dir.resolve("missing/dir.sock"), vm));
    }

    @Test
    void oneConnectionTakesManyRequestsAndSurvivesBadOnes() throws Exception {
        Path sock = dir.resolve("api.sock");
        server = ControlServer.start(sock, vm);
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(sock))) {
            send(ch, "{\"balloon_mib\":1}\nnonsense\n{\"balloon_mib\":2}\n{\"balloon_mib\":3}");
            ch.shutdownOutput(); // the last request has no newline: EOF ends it
            List<String> lines = readLines(ch);
            assertEquals(4, lines.size(), lines.toString());
            assertEquals(256L, reply(lines.get(0)).get("target_pages"));
            assertEquals(Boolean.FALSE, reply(lines.get(1)).get("ok"));
            assertEquals(768L, reply(lines.get(3)).get("target_pages"));
        }
    }

    @Test
    void anOverlongLineIsRefusedAndTheConnectionClosed() throws Exception {
        Path sock = dir.resolve("api.sock");
        server = ControlServer.start(sock, vm);
        try (SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(sock))) {
            send(ch, "{\"balloon_mib\":" + " ".repeat(ControlServer.MAX_LINE_BYTES + 10) + "1}\n");
            // One reply, then the server closes (the unread rest of the line may turn that into a reset).
            assertTrue(((String) reply(readLine(ch)).get("error")).contains("longer than"));
        }
        assertEquals(0, balloon.targetPages());
        // The server still serves.
        assertEquals(Boolean.TRUE, reply(ControlClient.call(sock, "{\"balloon_mib\":5}", Duration.ofSeconds(30))).get("ok"));
    }

    @Test
    void connectionsBeyondTheLimitAreTurnedAway() throws Exception {
        Path sock = dir.resolve("api.sock");
        server = ControlServer.start(sock, vm);
        List<SocketChannel> idle = new ArrayList<>();
        try {
            for (int i = 0; i < ControlServer.MAX_CLIENTS; i++) {
                SocketChannel ch = SocketChannel.open(UnixDomainSocketAddress.of(sock));
                idle.add(ch);
                // A request answered proves the server registered this connection.
                send(ch, "{\"stats\":true,\"timeout_ms\":0}\n");
                assertTrue(readLine(ch).contains("\"ok\":true"));
            }
            String refused = ControlClient.call(sock, "{\"balloon_mib\":1}", Duration.ofSeconds(30));
            assertTrue(refused.contains("too many connections"), refused);
            idle.remove(0).close();
            // Once one went away, a new client gets in (the server notices the close asynchronously).
            long deadline = System.nanoTime() + TimeUnit.MINUTES.toNanos(1);
            String r;
            while ((r = ControlClient.call(sock, "{\"balloon_mib\":1}", Duration.ofSeconds(30))).contains("too many")) {
                assertTrue(System.nanoTime() < deadline, r);
                Thread.onSpinWait();
            }
            assertEquals(Boolean.TRUE, reply(r).get("ok"));
        } finally {
            for (SocketChannel ch : idle) {
                ch.close();
            }
        }
    }

    static void send(SocketChannel ch, String s) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(s.getBytes(StandardCharsets.UTF_8));
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /** Reads until EOF. */
    static List<String> readLines(SocketChannel ch) throws IOException {
        StringBuilder all = new StringBuilder();
        ByteBuffer b = ByteBuffer.allocate(4096);
        while (ch.read(b) >= 0) {
            b.flip();
            all.append(StandardCharsets.UTF_8.decode(b));
            b.clear();
        }
        return all.toString().lines().toList();
    }

    static String readLine(SocketChannel ch) throws IOException {
        StringBuilder line = new StringBuilder();
        ByteBuffer b = ByteBuffer.allocate(1);
        while (ch.read(b) > 0) {
            b.flip();
            char c = (char) b.get();
            b.clear();
            if (c == '\n') {
                return line.toString();
            }
            line.append(c);
        }
        return line.toString();
    }
}
