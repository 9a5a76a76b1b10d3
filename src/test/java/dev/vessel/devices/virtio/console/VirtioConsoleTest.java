package dev.vessel.devices.virtio.console;

import static dev.vessel.devices.virtio.console.ConsoleRig.await;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.devices.virtio.VirtioFeatures;
import dev.vessel.devices.virtio.VirtioStatus;
import dev.vessel.devices.virtio.console.ConsoleRig.DriverQueue;
import dev.vessel.devices.virtio.console.ConsoleRig.Used;
import dev.vessel.devices.virtio.mmio.VirtioMmioRegisters;
import dev.vessel.devices.virtio.mmio.VirtioMmioTransport;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicReference;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The console port without MULTIPORT: output, input, backpressure, configuration space. */
class VirtioConsoleTest {
    static final long ALL = -1L;

    final SyncBytes out = new SyncBytes();
    ConsoleRig rig;

    /** A thread-safe byte sink. */
    static final class SyncBytes extends OutputStream {
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

        @Override
        public synchronized void write(int b) {
            bytes.write(b);
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) {
            bytes.write(b, off, len);
        }

        synchronized byte[] toByteArray() {
            return bytes.toByteArray();
        }

        synchronized int size() {
            return bytes.size();
        }

        String text() {
            return new String(toByteArray(), StandardCharsets.UTF_8);
        }
    }

    @AfterEach
    void tearDown() {
        if (rig != null) {
            rig.close();
        }
    }

    ConsoleRig console() throws IOException {
        rig = new ConsoleRig(new VirtioConsole(out));
        return rig;
    }

    static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    void offersSizeAndEmergencyWriteButNoMultiportForAConsoleAlone() throws IOException {
        console();
        long f = rig.offeredFeatures();
        assertTrue(VirtioFeatures.has(f, VirtioConsole.F_SIZE));
        assertTrue(VirtioFeatures.has(f, VirtioConsole.F_EMERG_WRITE));
        assertFalse(VirtioFeatures.has(f, VirtioConsole.F_MULTIPORT));
        assertEquals(2, rig.device.queueCount());
        assertEquals(12, rig.device.configSize());
        assertEquals(1, rig.configU32(VirtioConsole.CONFIG_MAX_NR_PORTS));
        assertEquals(0, rig.configU16(VirtioConsole.CONFIG_COLS));
    }

    @Test
    void outputReachesTheHostInOrderAcrossChainsAndBuffers() throws Exception {
        console().init(ALL);
        DriverQueue tx = rig.q(1);
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        Random random = new Random(1);
        List<Integer> heads = new ArrayList<>();
        for (int i = 0; i < 40; i++) {
            List<byte[]> parts = new ArrayList<>();
            for (int p = 0; p < 1 + i % 3; p++) { // chains of 1..3 buffers
                byte[] b = new byte[1 + random.nextInt(5000)];
                random.nextBytes(b);
                parts.add(b);
                expected.writeBytes(b);
            }
            heads.add(tx.add(parts, List.of()));
            if (i % 7 == 0) {
                tx.kick();
            }
        }
        tx.kick();
        await("all output", () -> out.size() == expected.size());
        assertArrayEquals(expected.toByteArray(), out.toByteArray());
        List<Used> used = tx.takeUsed();
        assertEquals(heads, used.stream().map(Used::head).toList(), "chains come back in order");
        assertTrue(used.stream().allMatch(u -> u.length() == 0), "the device writes nothing into transmit buffers");
        assertEquals(expected.size(), rig.device.consoleBytesWritten());
    }

    @Test
    void aSlowHostHoldsTransmitBuffersBackInsteadOfBufferingWithoutBound() throws Exception {
        CountDownLatch release = new CountDownLatch(1);
        SyncBytes sink = new SyncBytes();
        OutputStream slow = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                try {
                    release.await();
                } catch (InterruptedException e) {
                    throw new IOException(e);
                }
                sink.write(b, off, len);
            }
        };
        rig = new ConsoleRig(new VirtioConsole(slow));
        rig.init(ALL);
        DriverQueue tx = rig.q(1);
        int chunk = 32 * 1024;
        int chains = VirtioConsole.OUTPUT_CAPACITY / chunk + 8; // well over what the pump holds
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        for (int i = 0; i < chains; i++) {
            byte[] b = new byte[chunk];
            java.util.Arrays.fill(b, (byte) ('a' + i % 26));
            expected.writeBytes(b);
            tx.send(b);
        }
        tx.kick();
        List<Used> early = tx.takeUsed();
        assertTrue(early.size() < chains, "the device returned every chain although the host took nothing");
        assertTrue(early.size() * chunk <= VirtioConsole.OUTPUT_CAPACITY + chunk,
                early.size() + " chains of " + chunk + " bytes taken while the host was blocked");
        release.countDown();
        await("all output", () -> sink.size() == expected.size());
        assertArrayEquals(expected.toByteArray(), sink.toByteArray());
        await("all chains back", () -> tx.usedIdx() == chains);
    }

    @Test
    void inputWaitsForReceiveBuffersAndArrivesInOrderWithoutLoss() throws Exception {
        console();
        // Typed before the guest even started its driver: held.
        rig.device.console().receiveBlocking(ascii("early "), 0, 6);
        rig.init(ALL);
        DriverQueue rx = rig.q(0);
        DriverQueue tx = rig.q(1);
        rig.device.console().receiveBlocking(ascii("bird"), 0, 4);
        assertEquals(0, rx.takeUsed().size(), "no receive buffers yet, nothing delivered");
        rx.post(4, 3); // tiny buffers: the input spans several
        rx.kick();
        // The console has not written anything yet (hvc not hooked up): nothing is delivered before that.
        assertEquals(0, rx.takeUsed().size());
        tx.send(ascii("login: "));
        tx.kick();
        await("output", () -> out.text().equals("login: "));
        List<Used> got = new ArrayList<>(rx.takeUsed());
        assertEquals(4, got.size(), "all four buffers filled");
        rig.device.console().receiveBlocking(ascii("-and more"), 0, 9);
        rx.post(8, 3);
        rx.kick();
        got.addAll(rx.takeUsed());
        StringBuilder text = new StringBuilder();
        for (Used u : got) {
            assertTrue(u.length() > 0 && u.length() <= 3);
            text.append(new String(u.data(), StandardCharsets.US_ASCII));
        }
        assertEquals("early bird-and more", text.toString());
    }

    @Test
    void withoutOutputInputFlowsAfterTheGracePeriod() throws Exception {
        console().init(ALL);
        DriverQueue rx = rig.q(0);
        rig.device.console().receiveBlocking(ascii("x"), 0, 1);
        rx.post(2, 16);
        rx.kick();
        assertEquals(0, rx.takeUsed().size());
        List<Used> got = new ArrayList<>();
        await("delivery after the grace period", () -> {
            got.addAll(rx.takeUsed());
            return !got.isEmpty();
        });
        assertEquals("x", new String(got.get(0).data(), StandardCharsets.US_ASCII));
        assertTrue(rig.device.console().isGuestConnected());
    }

    @Test
    void backpressureBlocksTheHostAtTheBoundAndLosesNothing() throws Exception {
        console().init(ALL);
        DriverQueue rx = rig.q(0);
        DriverQueue tx = rig.q(1);
        tx.send(ascii("$ "));
        tx.kick(); // the console is live
        byte[] input = new byte[VirtioConsole.INPUT_CAPACITY * 3 + 1234];
        new Random(7).nextBytes(input);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread writer = Thread.ofPlatform().start(() -> {
            try {
                // The way ConsoleInput writes: chunks of up to 4096 bytes.
                for (int off = 0; off < input.length; off += 4096) {
                    rig.device.console().receiveBlocking(input, off, Math.min(4096, input.length - off));
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        await("the writer blocks at the bound", () -> writer.getState() == Thread.State.WAITING);
        assertEquals(VirtioConsole.INPUT_CAPACITY, rig.device.heldInput(0), "exactly the bound is held");
        assertEquals(0, rx.takeUsed().size());
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (got.size() < input.length) {
            assertTrue(System.nanoTime() < deadline, "stalled at " + got.size() + " of " + input.length);
            assertTrue(rig.device.heldInput(0) <= VirtioConsole.INPUT_CAPACITY);
            if (rx.outstandingCount() < 8) {
                rx.post(8 - rx.outstandingCount(), 4096);
                rx.kick();
            }
            for (Used u : rx.takeUsed()) {
                got.writeBytes(u.data());
            }
            Thread.sleep(1);
        }
        writer.join(10_000);
        assertFalse(writer.isAlive());
        assertEquals(null, failure.get());
        assertArrayEquals(input, got.toByteArray());
    }

    @Test
    void heldInputSurvivesADriverResetAndReachesTheNextDriver() throws Exception {
        console().init(ALL);
        rig.device.console().receiveBlocking(ascii("still here"), 0, 10);
        rig.w(dev.vessel.devices.virtio.mmio.VirtioMmioRegisters.STATUS, 0);
        assertEquals(0, rig.status());
        rig.init(ALL);
        DriverQueue rx = rig.q(0);
        rx.post(1, 64);
        rx.kick();
        rig.q(1).send(ascii("#"));
        rig.q(1).kick();
        List<Used> got = rx.takeUsed();
        assertEquals(1, got.size());
        assertEquals("still here", new String(got.get(0).data(), StandardCharsets.US_ASCII));
    }

    @Test
    void resizeUpdatesTheConfigurationAndRaisesAConfigurationChange() throws Exception {
        console().init(ALL);
        rig.q(1).send(ascii("up"));
        rig.q(1).kick();
        int generation = rig.r(dev.vessel.devices.virtio.mmio.VirtioMmioRegisters.CONFIG_GENERATION);
        int irqs = rig.interrupts.get();
        rig.device.resize(132, 43);
        assertEquals(132, rig.configU16(VirtioConsole.CONFIG_COLS));
        assertEquals(43, rig.configU16(VirtioConsole.CONFIG_ROWS));
        assertTrue(rig.r(dev.vessel.devices.virtio.mmio.VirtioMmioRegisters.CONFIG_GENERATION) != generation);
        assertTrue(rig.interrupts.get() > irqs, "configuration-change interrupt");
        assertTrue((rig.r(dev.vessel.devices.virtio.mmio.VirtioMmioRegisters.INTERRUPT_STATUS) & 2) != 0);
    }

    @Test
    void aKnownSizeIsAnnouncedWhenTheConsoleComesUp() throws Exception {
        console();
        rig.device.resize(100, 30);
        rig.init(ALL);
        rig.w(dev.vessel.devices.virtio.mmio.VirtioMmioRegisters.INTERRUPT_ACK, 3);
        rig.q(1).send(ascii("hello"));
        rig.q(1).kick();
        assertTrue((rig.r(dev.vessel.devices.virtio.mmio.VirtioMmioRegisters.INTERRUPT_STATUS) & 2) != 0,
                "a configuration change once hvc is up, so that Linux reads cols and rows");
    }

    @Test
    void emergencyWritesJoinTheConsoleOutput() throws Exception {
        console();
        // Allowed even before the driver set anything up.
        rig.transport.write(dev.vessel.devices.virtio.mmio.VirtioMmioRegisters.CONFIG + VirtioConsole.CONFIG_EMERG_WR, 4, 'O');
        rig.transport.write(dev.vessel.devices.virtio.mmio.VirtioMmioRegisters.CONFIG + VirtioConsole.CONFIG_EMERG_WR, 1, 'K');
        await("emergency output", () -> out.text().equals("OK"));
        rig.init(ALL);
        rig.q(1).send(ascii("!"));
        rig.q(1).kick();
        await("output", () -> out.text().equals("OK!"));
    }

    @Test
    void aBadTransmitChainFailsTheDeviceAsInEveryDevice() throws Exception {
        console().init(ALL);
        DriverQueue tx = rig.q(1);
        tx.send(ascii("one "));
        tx.addBad();
        tx.send(ascii("two"));
        int interrupts = rig.interrupts.get();
        tx.kick();
        assertEquals(VirtioStatus.DEVICE_NEEDS_RESET, rig.status() & VirtioStatus.DEVICE_NEEDS_RESET,
                "a malformed chain fails the device");
        assertTrue(rig.transport.lastError().contains("not guest RAM"), rig.transport.lastError());
        assertEquals(VirtioMmioTransport.INTERRUPT_CONFIG_CHANGE,
                rig.r(VirtioMmioRegisters.INTERRUPT_STATUS) & VirtioMmioTransport.INTERRUPT_CONFIG_CHANGE);
        assertTrue(rig.interrupts.get() > interrupts, "the driver is told");
        assertEquals(1, tx.takeUsed().size(), "the chain before the bad one was handled, nothing after it");
        await("output before the bad chain", () -> out.text().equals("one "));
        tx.send(ascii("three"));
        tx.kick();
        assertEquals("one ", out.text(), "a failed device takes no more work");

        rig.init(ALL); // the driver resets the device and sets it up again
        rig.q(1).send(ascii("again"));
        rig.q(1).kick();
        await("output after the reset", () -> out.text().equals("one again"));
        assertEquals(0, rig.status() & VirtioStatus.DEVICE_NEEDS_RESET);
    }

    @Test
    void receiveBuffersWithoutWritablePartsComeBackEmpty() throws Exception {
        console().init(ALL);
        rig.q(1).send(ascii(">"));
        rig.q(1).kick();
        rig.device.console().receiveBlocking(ascii("abc"), 0, 3);
        DriverQueue rx = rig.q(0);
        rx.send(ascii("a readable buffer in a receiveq"));
        rx.post(8);
        rx.kick();
        List<Used> used = rx.takeUsed();
        assertEquals(2, used.size());
        assertEquals(0, used.get(0).length());
        assertEquals("abc", new String(used.get(1).data(), StandardCharsets.US_ASCII));
    }

    @Test
    void aClosedHostStreamLosesOutputButNeverStallsTheGuest() throws Exception {
        OutputStream broken = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                throw new IOException("closed");
            }
        };
        rig = new ConsoleRig(new VirtioConsole(broken));
        rig.init(ALL);
        DriverQueue tx = rig.q(1);
        for (int i = 0; i < 20; i++) {
            tx.send(new byte[64 * 1024]);
            tx.kick();
            int want = i + 1;
            await("chain " + i + " back", () -> tx.usedIdx() == want);
        }
    }

    @Test
    void portNamesAreChecked() {
        VirtioConsole.checkName("vessel.agent");
        VirtioConsole.checkName("org.qemu.guest_agent.0");
        assertThrows(IllegalArgumentException.class, () -> VirtioConsole.checkName(""));
        assertThrows(IllegalArgumentException.class, () -> VirtioConsole.checkName("a/b"));
        assertThrows(IllegalArgumentException.class, () -> VirtioConsole.checkName("a\nb"));
        assertThrows(IllegalArgumentException.class, () -> VirtioConsole.checkName("x".repeat(256)));
        Map<String, PortBackend> many = new java.util.LinkedHashMap<>();
        for (int i = 0; i <= VirtioConsole.MAX_NAMED_PORTS; i++) {
            many.put("p" + i, new StreamPortBackend(null, OutputStream.nullOutputStream()));
        }
        assertThrows(IllegalArgumentException.class, () -> new VirtioConsole(out, many));
    }

    @Test
    void closeReleasesABlockedHostWriter() throws Exception {
        console().init(ALL);
        Thread writer = Thread.ofPlatform().start(() -> {
            try {
                byte[] big = new byte[VirtioConsole.INPUT_CAPACITY + 1];
                rig.device.console().receiveBlocking(big, 0, big.length);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        await("blocked", () -> writer.getState() == Thread.State.WAITING);
        rig.device.close();
        writer.join(Duration.ofSeconds(5));
        assertFalse(writer.isAlive());
    }
}
