package dev.vessel.devices.legacy.serial;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.devices.Bus;
import dev.vessel.devices.InterruptLine;
import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class Uart16550Test {
    // Register offsets, named as in Linux's serial_reg.h.
    static final int RX = 0;
    static final int TX = 0;
    static final int DLL = 0;
    static final int DLM = 1;
    static final int IER = 1;
    static final int IIR = 2;
    static final int FCR = 2;
    static final int EFR = 2;
    static final int LCR = 3;
    static final int MCR = 4;
    static final int LSR = 5;
    static final int MSR = 6;
    static final int SCR = 7;

    static final class CountingLine implements InterruptLine {
        final AtomicInteger edges = new AtomicInteger();

        @Override
        public void trigger() {
            edges.incrementAndGet();
        }

        @Override
        public void setLevel(boolean high) {
            throw new AssertionError("the UART is edge-triggered");
        }

        int edges() {
            return edges.get();
        }
    }

    private final CountingLine irq = new CountingLine();
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final Uart16550 uart = new Uart16550(irq, out, false);

    @AfterEach
    void closeUart() {
        uart.close();
    }

    private int in(int reg) {
        return (int) uart.read(reg, 1);
    }

    private void out(int reg, int value) {
        uart.write(reg, 1, value);
    }

    /** What Linux 6.1's serial8250 autoconfig() and autoconfig_16550a() do, reduced to the port type they decide. */
    static String linuxAutoconfig(Uart16550 uart) {
        IntReg r = new IntReg(uart);
        int scratch = r.in(IER);
        r.out(IER, 0);
        int scratch2 = r.in(IER) & 0x0f;
        r.out(IER, 0x0f);
        int scratch3 = r.in(IER) & 0x0f;
        r.out(IER, scratch);
        if (scratch2 != 0 || scratch3 != 0x0f) {
            return "none (IER test)";
        }
        int saveMcr = r.in(MCR);
        int saveLcr = r.in(LCR);
        r.out(MCR, 0x10 | 0x0a);
        int status1 = r.in(MSR) & 0xf0;
        r.out(MCR, saveMcr);
        if (status1 != 0x90) {
            return "none (loopback test)";
        }
        r.out(LCR, 0xbf);
        r.out(EFR, 0);
        r.out(LCR, 0);
        r.out(FCR, 0x01);
        String type = switch (r.in(IIR) >> 6) {
            case 0 -> "8250/16450";
            case 1 -> "unknown";
            case 2 -> "16550";
            default -> autoconfig16550a(r);
        };
        r.out(LCR, saveLcr);
        // Reset the UART as autoconfig does once it knows the type.
        r.out(MCR, saveMcr);
        r.out(FCR, 0x01);
        r.out(FCR, 0x01 | 0x02 | 0x04);
        r.out(FCR, 0);
        r.in(RX);
        r.out(IER, 0);
        return type;
    }

    /** The probes CONFIG_SERIAL_8250_16550A_VARIANTS adds; a plain 16550A must fail all of them. */
    private static String autoconfig16550a(IntReg r) {
        r.out(LCR, 0x80);
        if (r.in(EFR) == 0) {
            return "ST16C650V1 or later";
        }
        r.out(LCR, 0xbf);
        if (r.in(EFR) == 0) {
            return "EFR-capable";
        }
        r.out(LCR, 0);
        int status1 = r.in(MCR);
        r.out(LCR, 0xe0);
        int status2 = r.in(0x02);
        if (((status2 ^ status1) & 0x10) == 0) {
            r.out(LCR, 0);
            r.out(MCR, status1 ^ 0x10);
            r.out(LCR, 0xe0);
            status2 = r.in(0x02);
            r.out(LCR, 0);
            r.out(MCR, status1);
            if (((status2 ^ status1) & 0x10) != 0) {
                return "NS16550A";
            }
        }
        r.out(LCR, 0);
        r.out(FCR, 0x01 | 0x20);
        int iir1 = r.in(IIR) & (0x20 | 0xc0);
        r.out(FCR, 0);
        r.out(LCR, 0);
        r.out(LCR, 0x80);
        r.out(FCR, 0x01 | 0x20);
        int iir2 = r.in(IIR) & (0x20 | 0xc0);
        r.out(FCR, 0);
        r.out(LCR, 0);
        if (iir1 == 0xc0 && iir2 == 0xe0) {
            return "16750";
        }
        int ierSave = r.in(IER);
        r.out(IER, ierSave | 0x40);
        if ((r.in(IER) & 0x40) != 0) {
            r.out(IER, ierSave);
            return "XScale";
        }
        r.out(IER, ierSave);
        return "16550A";
    }

    private record IntReg(Uart16550 uart) {
        int in(int reg) {
            return (int) uart.read(reg, 1);
        }

        void out(int reg, int value) {
            uart.write(reg, 1, value);
        }
    }

    /** serial8250_do_startup up to the point interrupts are in use, plus set_termios for 115200 8N1 with FIFOs. */
    private void linuxStartup() {
        out(FCR, 0x01);
        out(FCR, 0x07);
        out(FCR, 0);
        in(LSR);
        in(RX);
        in(IIR);
        in(MSR);
        assertTrue(in(LSR) != 0xff, "LSR safety check");
        out(LCR, 0x03);
        out(MCR, 0x08 | 0x03); // OUT2 enables the interrupt on a PC, plus DTR and RTS
        // UART_BUG_TXEN probe: enabling the THRE interrupt must make IIR report it.
        out(IER, 0x02);
        int lsr = in(LSR);
        int iir = in(IIR);
        out(IER, 0);
        assertEquals(0x60, lsr & 0x60);
        assertEquals(0x02, iir, "THRE interrupt pending right after enabling it");
        // set_termios: divisor 1, 8N1, FIFO with 14-byte trigger; then the receive interrupts.
        out(LCR, 0x83);
        out(DLL, 1);
        out(DLM, 0);
        out(LCR, 0x03);
        out(FCR, 0xc1);
        out(IER, 0x05);
    }

    @Test
    void linuxDetectsA16550A() {
        assertEquals("16550A", linuxAutoconfig(uart));
    }

    @Test
    void autoconfigLeavesNoInterruptEnabledAndNoFifo() {
        linuxAutoconfig(uart);
        assertEquals(0x00, in(IER));
        assertEquals(0x01, in(IIR));
        assertEquals(0x00, in(MCR));
        assertEquals(0, out.size());
        assertEquals(0, irq.edges());
    }

    @Test
    void ierKeepsOnlyTheFourDefinedBits() {
        out(IER, 0xff);
        assertEquals(0x0f, in(IER));
    }

    @Test
    void scratchRegisterHoldsAnyByte() {
        for (int v : new int[] {0x00, 0x55, 0xaa, 0xff}) {
            out(SCR, v);
            assertEquals(v, in(SCR));
        }
    }

    @Test
    void loopbackMirrorsModemControlIntoModemStatus() {
        out(MCR, 0x1a); // LOOP | OUT2 | RTS: what Linux's loopback test writes
        assertEquals(0x90, in(MSR) & 0xf0);
        out(MCR, 0x10 | 0x01 | 0x04); // LOOP | DTR | OUT1
        assertEquals(0x60, in(MSR) & 0xf0); // DSR | RI
        out(MCR, 0x00);
        assertEquals(0xb0, in(MSR) & 0xf0); // back on the line: a connected modem
    }

    @Test
    void modemStatusDeltasAreSetByChangesAndClearedByReading() {
        assertEquals(0xb0, in(MSR), "no deltas at reset");
        out(MCR, 0x10 | 0x04); // loopback, OUT1 only: CTS, DSR, DCD drop; RI rises
        assertEquals(0x40 | 0x08 | 0x02 | 0x01, in(MSR));
        assertEquals(0x40, in(MSR));
        out(MCR, 0x10); // RI falls: trailing-edge RI
        assertEquals(0x04, in(MSR));
        assertEquals(0x00, in(MSR));
    }

    @Test
    void fifoControlSelectsIirFifoBits() {
        assertEquals(0x01, in(IIR));
        out(FCR, 0x01);
        assertEquals(0xc1, in(IIR));
        out(FCR, 0x00);
        assertEquals(0x01, in(IIR));
    }

    @Test
    void efrProbesSeeNoEnhancedRegisters() {
        out(FCR, 0x01);
        out(LCR, 0xbf);
        assertEquals(0xc1, in(EFR), "offset 2 stays IIR in configuration mode");
        out(LCR, 0x80);
        out(FCR, 0x21);
        assertEquals(0xc1, in(IIR), "no 64-byte FIFO bit");
    }

    @Test
    void divisorLatchIsSeparateFromDataAndIer() {
        out(IER, 0x05);
        out(LCR, 0x83);
        out(DLL, 0x34);
        out(DLM, 0x12);
        assertEquals(0x34, in(DLL));
        assertEquals(0x12, in(DLM));
        out(LCR, 0x03);
        assertEquals(0x05, in(IER));
        assertEquals(0, out.size());
        uart.flush();
        assertEquals(0, out.size(), "writing DLL does not transmit");
        assertEquals(0x03, in(LCR));
    }

    @Test
    void consoleWritePollsLsrAndWritesThr() {
        byte[] text = "Linux version 6.1\r\n".getBytes(StandardCharsets.US_ASCII);
        int ier = in(IER);
        out(IER, 0);
        for (byte b : text) {
            int polls = 0;
            while ((in(LSR) & 0x20) == 0) {
                assertTrue(++polls < 10, "THRE never came back");
            }
            out(TX, b);
        }
        assertEquals(0x60, in(LSR) & 0x60, "both THR and shift register empty");
        out(IER, ier);
        assertArrayEquals(text, out.toByteArray());
        assertEquals(text.length, uart.transmittedBytes());
    }

    @Test
    void outputIsHeldAtMostUntilTheBurstEnds() {
        out(TX, 'o');
        out(TX, 'k');
        in(LSR);
        assertEquals(0, out.size(), "still inside the burst");
        in(IIR); // the driver's next look at the UART ends the burst
        assertEquals("ok", out.toString(StandardCharsets.US_ASCII));
        out(TX, '>');
        uart.flush();
        assertEquals("ok>", out.toString(StandardCharsets.US_ASCII));
    }

    @Test
    void newlineFlushesAtOnce() {
        out(TX, 'a');
        out(TX, '\n');
        assertEquals("a\n", out.toString(StandardCharsets.US_ASCII));
    }

    @Test
    void unflushedOutputReachesTheHostWithoutFurtherGuestAccess() throws Exception {
        CountDownLatch flushed = new CountDownLatch(1);
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        OutputStream host = new OutputStream() {
            @Override
            public void write(int b) {
                sink.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) {
                sink.write(b, off, len);
            }

            @Override
            public void flush() {
                flushed.countDown();
            }
        };
        try (Uart16550 u = new Uart16550(InterruptLine.NONE, host)) {
            u.write(TX, 1, '$');
            u.write(TX, 1, ' ');
            assertTrue(flushed.await(5, TimeUnit.SECONDS), "timer flush");
            assertEquals("$ ", sink.toString(StandardCharsets.US_ASCII));
        }
    }

    @Test
    void closeFlushesPendingOutput() {
        out(TX, 'x');
        uart.close();
        assertEquals("x", out.toString(StandardCharsets.US_ASCII));
        out(TX, 'y'); // after close output is written through
        assertEquals("xy", out.toString(StandardCharsets.US_ASCII));
    }

    @Test
    void outputErrorsDoNotReachTheGuest() {
        OutputStream broken = new OutputStream() {
            @Override
            public void write(int b) throws java.io.IOException {
                throw new java.io.IOException("gone");
            }
        };
        try (Uart16550 u = new Uart16550(irq, broken, false)) {
            u.write(TX, 1, 'a');
            u.write(TX, 1, '\n');
            assertEquals(0x60, u.read(LSR, 1) & 0x60);
            assertEquals(2, u.transmittedBytes());
        }
    }

    @Test
    void thrEmptyInterruptSequenceAsLinuxProbesIt() {
        linuxStartup();
        out(IER, 0);
        int before = irq.edges();
        // serial8250_do_startup's THRE re-assertion test.
        out(IER, 0x02);
        assertEquals(before + 1, irq.edges(), "enabling ETBEI with THR empty interrupts");
        assertEquals(0xc2, in(IIR));
        assertEquals(0xc1, in(IIR), "reading IIR cleared the THRE interrupt");
        out(IER, 0);
        out(IER, 0x02);
        assertEquals(before + 2, irq.edges());
        assertEquals(0xc2, in(IIR), "re-enabling ETBEI re-asserts THRE");
        out(IER, 0);
        assertEquals(0xc1, in(IIR));
    }

    @Test
    void thrEmptyInterruptIsRaisedAfterEachTransmittedByte() {
        linuxStartup();
        out(IER, 0x07);
        assertEquals(0xc2, in(IIR));
        int before = irq.edges();
        out(TX, 'a');
        assertEquals(before + 1, irq.edges(), "the byte left THR: a new THRE interrupt");
        out(TX, 'b');
        assertEquals(before + 1, irq.edges(), "still pending: no new edge");
        assertEquals(0xc2, in(IIR));
        out(IER, 0x05); // stop_tx
        assertEquals(0xc1, in(IIR));
        uart.flush();
        assertEquals("ab", out.toString(StandardCharsets.US_ASCII));
    }

    @Test
    void writingThrClearsAnUnreadThreInterruptBeforeRaisingItAgain() {
        out(MCR, 0x08);
        out(IER, 0x02);
        assertEquals(0x02, in(IIR));
        out(TX, 'z'); // output inactive before (IIR read cleared it), active after
        assertEquals(2, irq.edges());
        assertEquals(0x02, in(IIR));
    }

    @Test
    void interruptOnlyReachesThePicWithOut2Set() {
        out(IER, 0x01);
        uart.receive(new byte[] {'a'}, 0, 1);
        assertEquals(0, irq.edges(), "OUT2 low: IRQ line tri-stated");
        assertEquals(0x04, in(IIR), "the chip itself still has the interrupt pending");
        out(MCR, 0x08);
        assertEquals(1, irq.edges(), "raising OUT2 exposes the pending interrupt");
        out(MCR, 0x18);
        uart.receive(new byte[] {'b'}, 0, 1);
        assertEquals(1, irq.edges(), "loopback forces OUT2 inactive externally");
    }

    @Test
    void receivedBytesRaiseDataInterrupts() {
        linuxStartup();
        assertEquals(0xc1, in(IIR));
        int before = irq.edges();
        uart.receive("hi\r".getBytes(StandardCharsets.US_ASCII), 0, 3);
        assertEquals(before + 1, irq.edges());
        assertEquals(0xcc, in(IIR), "below the 14-byte trigger: character timeout");
        assertEquals(0x61, in(LSR));
        assertEquals('h', in(RX));
        assertEquals('i', in(RX));
        uart.receive(new byte[] {'!'}, 0, 1);
        assertEquals(before + 1, irq.edges(), "interrupt still active: no new edge");
        assertEquals('\r', in(RX));
        assertEquals('!', in(RX));
        assertEquals(0x60, in(LSR));
        assertEquals(0xc1, in(IIR));
        uart.receive(new byte[] {'x'}, 0, 1);
        assertEquals(before + 2, irq.edges(), "after draining, new data is a new edge");
    }

    @Test
    void triggerLevelSeparatesDataAvailableFromTimeout() {
        linuxStartup();
        byte[] burst = new byte[40];
        for (int i = 0; i < burst.length; i++) {
            burst[i] = (byte) i;
        }
        uart.receive(burst, 0, burst.length);
        assertEquals(0xc4, in(IIR), "FIFO holds 16 >= 14");
        for (int i = 0; i < 40; i++) {
            assertEquals(0x01, in(LSR) & 0x01);
            assertEquals(i, in(RX));
            int expectedIir = 40 - i - 1 >= 14 ? 0xc4 : 40 - i - 1 > 0 ? 0xcc : 0xc1;
            assertEquals(expectedIir, in(IIR), "after reading byte " + i);
        }
        assertEquals(0x60, in(LSR));
    }

    @Test
    void fifoTriggerLevelsFollowFcr() {
        out(IER, 0x01);
        for (int[] level : new int[][] {{0x01, 1}, {0x41, 4}, {0x81, 8}, {0xc1, 14}}) {
            out(FCR, level[0] | 0x02);
            byte[] data = new byte[level[1]];
            uart.receive(data, 0, data.length - 1);
            int belowTrigger = level[1] == 1 ? 0xc1 : 0xcc; // one below a 1-byte trigger is empty
            assertEquals(belowTrigger, in(IIR), "level " + level[1]);
            uart.receive(data, 0, 1);
            assertEquals(0xc4, in(IIR), "level " + level[1]);
            out(FCR, level[0] | 0x02);
            assertEquals(0xc1, in(IIR), "FCR clears the receive FIFO");
        }
    }

    @Test
    void without16550FifoTheChipHoldsOneByteAndTheRestWaits() {
        out(IER, 0x01);
        uart.receive("abc".getBytes(StandardCharsets.US_ASCII), 0, 3);
        assertEquals(0x04, in(IIR));
        assertEquals('a', in(RX));
        assertEquals('b', in(RX));
        assertEquals('c', in(RX));
        assertEquals(0x60, in(LSR), "no overrun: the host queue held the rest");
        assertEquals('c', in(RX), "empty RBR repeats the last byte");
    }

    @Test
    void hostQueueOverflowDropsAndReportsOverrun() {
        out(FCR, 0x01);
        out(IER, 0x05);
        out(MCR, 0x08);
        int total = Uart16550.HOST_QUEUE_CAPACITY + Uart16550.FIFO_SIZE;
        byte[] data = new byte[total + 10];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) i;
        }
        assertTrue(uart.canReceive());
        uart.receive(data, 0, data.length);
        assertFalse(uart.canReceive());
        assertEquals(10, uart.droppedInputBytes());
        assertEquals(0xc6, in(IIR), "line status outranks received data");
        assertEquals(0x63, in(LSR), "DR | OE | THRE | TEMT");
        assertEquals(0x61, in(LSR), "reading LSR cleared OE");
        assertEquals(0xc4, in(IIR));
        for (int i = 0; i < total; i++) {
            assertEquals(data[i] & 0xff, in(RX), "byte " + i);
            if (i == 0) {
                assertTrue(uart.canReceive());
            }
        }
        assertEquals(0x60, in(LSR));
    }

    @Test
    void loopbackSendsTransmittedBytesToTheReceiver() {
        out(FCR, 0x01);
        out(MCR, 0x10);
        for (byte b : "loop".getBytes(StandardCharsets.US_ASCII)) {
            out(TX, b);
        }
        uart.receive(new byte[] {'X'}, 0, 1); // the line is disconnected in loopback
        for (byte b : "loop".getBytes(StandardCharsets.US_ASCII)) {
            assertEquals(b, in(RX));
        }
        assertEquals(0x60, in(LSR));
        uart.flush();
        assertEquals(0, out.size());
        assertEquals(0, uart.transmittedBytes());
        out(MCR, 0);
        assertEquals('X', in(RX), "host input waited for loopback to end");
    }

    @Test
    void loopbackOverrunInFifoModeKeepsTheFifo() {
        out(FCR, 0x01);
        out(MCR, 0x10);
        for (int i = 0; i < 17; i++) {
            out(TX, i);
        }
        assertEquals(0x63, in(LSR));
        for (int i = 0; i < 16; i++) {
            assertEquals(i, in(RX));
        }
        assertEquals(0x60, in(LSR));
    }

    @Test
    void loopbackOverrunIn16450ModeOverwritesTheHoldingRegister() {
        out(MCR, 0x10);
        out(TX, 'a');
        out(TX, 'b');
        assertEquals(0x63, in(LSR));
        assertEquals('b', in(RX));
        assertEquals(0x60, in(LSR));
    }

    @Test
    void interruptPriorityOrder() {
        out(FCR, 0x01);
        out(MCR, 0x08);
        out(IER, 0x0f);
        assertEquals(0xc2, in(IIR), "THRE after enabling");
        out(MCR, 0x18); // loopback: modem status deltas
        out(TX, 'q'); // loopback data; THRE pending again
        // Overrun: fill the FIFO via loopback.
        for (int i = 0; i < 16; i++) {
            out(TX, 'r');
        }
        assertEquals(0xc6, in(IIR));
        in(LSR);
        assertEquals(0xc4, in(IIR));
        for (int i = 0; i < 16; i++) {
            in(RX);
        }
        assertEquals(0xc2, in(IIR));
        assertEquals(0xc0, in(IIR), "THRE cleared by the IIR read; modem status remains");
        in(MSR);
        assertEquals(0xc1, in(IIR));
    }

    @Test
    void edgeOnlyWhenTheOutputGoesActive() {
        linuxStartup();
        int base = irq.edges();
        uart.receive(new byte[] {1}, 0, 1);
        uart.receive(new byte[] {2}, 0, 1);
        out(IER, 0x07);
        assertEquals(base + 1, irq.edges());
        in(RX);
        in(RX);
        assertEquals(base + 1, irq.edges(), "THRE keeps the output active");
        assertEquals(0xc2, in(IIR));
        uart.receive(new byte[] {3}, 0, 1);
        assertEquals(base + 2, irq.edges());
    }

    @Test
    void receiveBlockingWaitsForTheGuest() {
        byte[] data = new byte[Uart16550.HOST_QUEUE_CAPACITY * 2];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i * 7);
        }
        out(FCR, 0x01);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Thread producer = Thread.ofPlatform().start(() -> {
            try {
                uart.receiveBlocking(data, 0, data.length);
            } catch (Throwable t) {
                failure.set(t);
            }
        });
        assertTimeoutPreemptively(Duration.ofSeconds(20), () -> {
            for (int i = 0; i < data.length; i++) {
                while ((in(LSR) & 0x01) == 0) {
                    Thread.onSpinWait();
                }
                assertEquals(data[i] & 0xff, in(RX), "byte " + i);
            }
            producer.join();
        });
        assertEquals(null, failure.get());
        assertEquals(0, uart.droppedInputBytes());
        assertEquals(0x60, in(LSR));
    }

    @Test
    void closeReleasesBlockedReceivers() throws Exception {
        byte[] data = new byte[Uart16550.HOST_QUEUE_CAPACITY + 100];
        uart.receive(data, 0, Uart16550.HOST_QUEUE_CAPACITY + 1);
        assertFalse(uart.canReceive());
        Thread producer = Thread.ofPlatform().start(() -> {
            try {
                uart.receiveBlocking(data, 0, 10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        });
        uart.close();
        producer.join(10_000);
        assertFalse(producer.isAlive());
    }

    @Test
    void wideAccessesSplitIntoBytes() {
        uart.write(SCR - 1, 2, 0x5a00); // MSR (ignored) and SCR
        assertEquals(0x5a, in(SCR));
        long lsrMsr = uart.read(LSR, 2);
        assertEquals(0x60, lsrMsr & 0xff);
        assertEquals(0xb0, lsrMsr >>> 8);
        assertEquals(0xffL, uart.read(SCR, 2) >>> 8, "beyond the UART reads as ones");
    }

    @Test
    void bogusOffsetsAndSizesAreHarmless() {
        uart.write(-1, 1, 0xff);
        uart.write(8, 1, 0xff);
        uart.write(Long.MAX_VALUE, 4, -1);
        uart.write(0, 0, 'x');
        uart.write(0, -3, 'x');
        assertEquals(0xff, uart.read(-1, 1));
        assertEquals(0, uart.read(LSR, 0));
        assertEquals(0, uart.read(LSR, -8));
        uart.flush();
        assertEquals(0, out.size());
        assertEquals(0x60, in(LSR));
    }

    @Test
    void worksOnThePortBusAtCom1() {
        Bus pio = new Bus("pio");
        pio.register(Uart16550.COM1_BASE, Uart16550.PORT_COUNT, "com1", uart);
        pio.write(0x3ff, 1, 0x42);
        assertEquals(0x42, pio.read(0x3ff, 1));
        pio.write(0x3f8, 1, '\n');
        assertEquals("\n", out.toString(StandardCharsets.US_ASCII));
        assertEquals(0, pio.unhandledAccesses());
    }

    /** A host stream whose writes block until {@link #unblock} (a full pipe nobody reads), then collect. */
    static final class BlockingStream extends OutputStream {
        final CountDownLatch unblock = new CountDownLatch(1);
        final CountDownLatch writing = new CountDownLatch(1);
        private final ByteArrayOutputStream got = new ByteArrayOutputStream();

        @Override
        public void write(int b) {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            writing.countDown();
            boolean interrupted = false;
            while (true) {
                try {
                    unblock.await();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true; // as a blocked write(2) would, ignore it
                }
            }
            synchronized (got) {
                got.write(b, off, len);
            }
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }

        byte[] bytes() {
            synchronized (got) {
                return got.toByteArray();
            }
        }
    }

    /** Runs {@code action} on a thread of its own (a vCPU's accesses, or the VMM's close) and fails unless it is done within 10 s. */
    private static void doneWithin10s(String what, Runnable action) throws InterruptedException {
        Thread t = Thread.ofPlatform().name("vcpu0").daemon(true).start(action);
        t.join(Duration.ofSeconds(10));
        assertFalse(t.isAlive(), what + ": still waiting for the host stream");
    }

    @Test
    void aHostStreamThatBlocksForEverNeverBlocksAThrWrite() throws Exception {
        int capacity = 4096;
        BlockingStream host = new BlockingStream();
        Uart16550 u = new Uart16550(InterruptLine.NONE, host, capacity, Duration.ofSeconds(10));
        // Three times what the ring holds, in 64-byte lines: every newline ends a burst.
        ByteArrayOutputStream sent = new ByteArrayOutputStream();
        for (int line = 0; sent.size() < 3 * capacity; line++) {
            byte[] text = String.format("line %058d\n", line).getBytes(StandardCharsets.US_ASCII);
            sent.write(text, 0, text.length);
        }
        byte[] all = sent.toByteArray();
        try {
            doneWithin10s("guest output", () -> {
                for (byte b : all) {
                    u.write(TX, 1, b);
                }
            });
            assertTrue(host.writing.await(10, TimeUnit.SECONDS), "the writer thread is inside the host stream");
            assertEquals(all.length, u.transmittedBytes());
            assertEquals(all.length - capacity, u.droppedOutputBytes(), "what did not fit was dropped and counted");
            assertEquals(0x60, u.read(LSR, 1) & 0x60, "the guest sees an idle transmitter");
        } finally {
            host.unblock.countDown();
            u.close();
        }
        byte[] expected = java.util.Arrays.copyOf(all, capacity);
        assertArrayEquals(expected, host.bytes(), "the host got the oldest output, in order");
    }

    @Test
    void closeGivesUpOnAStreamThatStaysBlocked() throws Exception {
        BlockingStream host = new BlockingStream();
        Uart16550 u = new Uart16550(InterruptLine.NONE, host, 4096, Duration.ofMillis(100));
        try {
            doneWithin10s("a line of output", () -> {
                for (byte b : "stuck\n".getBytes(StandardCharsets.US_ASCII)) {
                    u.write(TX, 1, b);
                }
            });
            assertTrue(host.writing.await(10, TimeUnit.SECONDS));
            doneWithin10s("close", u::close);
            doneWithin10s("a write after close", () -> u.write(TX, 1, '\n'));
            assertEquals(1, u.droppedOutputBytes(), "output after close is dropped");
        } finally {
            host.unblock.countDown();
        }
    }

    @Test
    void flushReturnsOnceTheHostStreamHasTheOutput() throws Exception {
        ByteArrayOutputStream sink = new ByteArrayOutputStream();
        OutputStream host = new OutputStream() {
            @Override
            public synchronized void write(int b) {
                sink.write(b);
            }

            @Override
            public synchronized void write(byte[] b, int off, int len) {
                sink.write(b, off, len);
            }
        };
        try (Uart16550 u = new Uart16550(InterruptLine.NONE, host, 4096, Duration.ofSeconds(10))) {
            u.write(TX, 1, 'o');
            u.write(TX, 1, 'k');
            u.flush();
            synchronized (host) {
                assertEquals("ok", sink.toString(StandardCharsets.US_ASCII));
            }
            assertEquals(0, u.droppedOutputBytes());
        }
    }
}
