package dev.vessel.devices.legacy.i8042;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.devices.Bus;
import dev.vessel.devices.BusDevice;
import dev.vessel.devices.InterruptLine;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class I8042ControllerTest {
    static final class CountingLine implements InterruptLine {
        final AtomicInteger edges = new AtomicInteger();

        @Override
        public void trigger() {
            edges.incrementAndGet();
        }

        @Override
        public void setLevel(boolean high) {
            throw new AssertionError("ISA interrupts are edge-triggered");
        }
    }

    private final AtomicInteger resets = new AtomicInteger();
    private final CountingLine kbdIrq = new CountingLine();
    private final CountingLine auxIrq = new CountingLine();
    private final I8042Controller kbc = new I8042Controller(resets::incrementAndGet, kbdIrq, auxIrq);

    private int status() {
        return (int) kbc.commandPort().read(0, 1);
    }

    private void command(int cmd) {
        kbc.commandPort().write(0, 1, cmd);
    }

    private int readData() {
        return (int) kbc.dataPort().read(0, 1);
    }

    private void writeData(int v) {
        kbc.dataPort().write(0, 1, v);
    }

    /** Linux's __i8042_command: wait for !IBF, send command and parameters, then wait for OBF per result byte. */
    private int[] i8042Command(int command, int... params) {
        int results = (command >> 8) & 0xf;
        assertEquals(0, status() & I8042Controller.STATUS_IBF);
        command(command & 0xff);
        for (int p : params) {
            assertEquals(0, status() & I8042Controller.STATUS_IBF);
            writeData(p);
        }
        int[] out = new int[results];
        for (int i = 0; i < results; i++) {
            assertTrue((status() & I8042Controller.STATUS_OBF) != 0, "result byte " + i + " of 0x" + Integer.toHexString(command));
            out[i] = readData();
        }
        return out;
    }

    // The command codes Linux uses, with its encoding of parameter and result counts.
    static final int CTL_RCTR = 0x0120;
    static final int CTL_WCTR = 0x1060;
    static final int CTL_TEST = 0x01aa;
    static final int KBD_TEST = 0x01ab;
    static final int AUX_TEST = 0x01a9;
    static final int AUX_LOOP = 0x11d3;
    static final int AUX_DISABLE = 0x00a7;
    static final int AUX_ENABLE = 0x00a8;
    static final int KBD_DISABLE = 0x00ad;
    static final int KBD_ENABLE = 0x00ae;

    @Test
    void idleStatusHasNoPendingDataAndTheKeylockOpen() {
        assertEquals(0x14, status(), "SYS | not inhibited");
    }

    @Test
    void resetCommandPulsesTheResetLine() {
        command(0xfe);
        assertEquals(1, resets.get());
        // Linux's BOOT_KBD reboot: ten rounds of kb_wait() (IBF clear) and 0xFE.
        for (int i = 0; i < 10; i++) {
            int spins = 0;
            while ((status() & 0x02) != 0) {
                assertTrue(++spins < 0x10000);
            }
            command(0xfe);
        }
        assertEquals(11, resets.get());
    }

    @Test
    void pulseCommandsResetOnlyWhenBitZeroIsPulsed() {
        command(0xff);
        command(0xfd);
        assertEquals(0, resets.get());
        command(0xf0);
        assertEquals(1, resets.get());
    }

    @Test
    void writingTheOutputPortWithBitZeroClearResets() {
        command(0xd1);
        writeData(0xdf); // A20 on, reset inactive: what the A20 gate code writes
        assertEquals(0, resets.get());
        command(0xd0);
        assertEquals(0xdf, readData());
        command(0xd1);
        writeData(0xde);
        assertEquals(1, resets.get());
    }

    @Test
    void resetCallbackMayReenterTheController() {
        AtomicInteger seen = new AtomicInteger(-1);
        I8042Controller[] holder = new I8042Controller[1];
        holder[0] = new I8042Controller(() -> seen.set((int) holder[0].commandPort().read(0, 1)));
        holder[0].commandPort().write(0, 1, 0xfe);
        assertEquals(0x1c, seen.get(), "status readable from the callback: SYS | CMD | unlocked");
    }

    @Test
    void readsTheDefaultConfigurationByte() {
        assertEquals(0x47, i8042Command(CTL_RCTR)[0]);
        assertEquals(0x14, status() & ~I8042Controller.STATUS_CMD, "OBF cleared by reading");
    }

    @Test
    void configurationByteRoundTrips() {
        i8042Command(CTL_WCTR, 0x65);
        assertEquals(0x65, i8042Command(CTL_RCTR)[0]);
        i8042Command(CTL_WCTR, 0x00);
        assertEquals(0x00, i8042Command(CTL_RCTR)[0]);
        assertEquals(0x10, status() & ~I8042Controller.STATUS_CMD, "SYS status follows the configuration byte");
    }

    @Test
    void selfAndInterfaceTestsPass() {
        assertEquals(0x55, i8042Command(CTL_TEST)[0]);
        assertEquals(0x00, i8042Command(KBD_TEST)[0]);
        assertEquals(0x00, i8042Command(AUX_TEST)[0]);
    }

    @Test
    void portEnableCommandsFlipConfigurationBits() {
        i8042Command(AUX_DISABLE);
        assertEquals(0x67, i8042Command(CTL_RCTR)[0]);
        i8042Command(KBD_DISABLE);
        assertEquals(0x77, i8042Command(CTL_RCTR)[0]);
        i8042Command(AUX_ENABLE);
        assertEquals(0x57, i8042Command(CTL_RCTR)[0]);
        i8042Command(KBD_ENABLE);
        assertEquals(0x47, i8042Command(CTL_RCTR)[0]);
    }

    @Test
    void linuxControllerProbeSucceeds() {
        // i8042_controller_check: flush must find an empty buffer.
        int flushed = 0;
        while ((status() & 0x01) != 0) {
            readData();
            assertTrue(++flushed <= 16, "i8042_flush gives up after 16 bytes");
        }
        // i8042_controller_init: two identical CTR reads, then disable keyboard and its interrupt.
        int ctr0 = i8042Command(CTL_RCTR)[0];
        int ctr1 = i8042Command(CTL_RCTR)[0];
        assertEquals(ctr0, ctr1);
        assertTrue((status() & 0x10) != 0, "no keylock warning");
        int ctr = (ctr0 | 0x10) & ~0x01;
        i8042Command(CTL_WCTR, ctr);
        assertEquals(ctr, i8042Command(CTL_RCTR)[0]);
        // i8042_check_aux: the loopback works, so no AUX_TEST fallback is needed.
        assertEquals(0x5a, i8042Command(AUX_LOOP, 0x5a)[0]);
        i8042Command(AUX_DISABLE);
        assertTrue((i8042Command(CTL_RCTR)[0] & 0x20) != 0);
        i8042Command(AUX_ENABLE);
        assertEquals(0, i8042Command(CTL_RCTR)[0] & 0x20);
        // i8042_check_mux: a plain controller echoes 0xa4, so no active multiplexing.
        assertEquals(0xf0, i8042Command(AUX_LOOP, 0xf0)[0]);
        assertEquals(0x56, i8042Command(AUX_LOOP, 0x56)[0]);
        assertEquals(0xa4, i8042Command(AUX_LOOP, 0xa4)[0]);
    }

    @Test
    void auxLoopbackDataIsMarkedAuxAndRaisesIrq12() {
        command(0xd3);
        writeData(0xa5);
        assertEquals(0x01 | 0x20, status() & 0x21);
        assertEquals(1, auxIrq.edges.get());
        assertEquals(0, kbdIrq.edges.get());
        assertEquals(0xa5, readData());
        assertEquals(0, status() & 0x21);
    }

    @Test
    void keyboardLoopbackRaisesIrq1() {
        command(0xd2);
        writeData(0x1c);
        assertEquals(0x01, status() & 0x21);
        assertEquals(1, kbdIrq.edges.get());
        assertEquals(0x1c, readData());
    }

    @Test
    void interruptsFollowTheConfigurationByte() {
        i8042Command(CTL_WCTR, 0x44); // both port interrupts off
        int before = kbdIrq.edges.get();
        assertEquals(0x44, i8042Command(CTL_RCTR)[0]);
        command(0xd3);
        writeData(0x01);
        assertEquals(before, kbdIrq.edges.get());
        assertEquals(0, auxIrq.edges.get());
        assertEquals(0x01, readData());
    }

    @Test
    void bytesForTheAbsentKeyboardAndMouseAreAnsweredWithTimeouts() {
        writeData(0xf2); // atkbd's GETID
        assertEquals(0x01 | 0x40, status() & 0x61);
        assertEquals(0xfe, readData());
        assertEquals(1, kbdIrq.edges.get());
        command(0xd4);
        writeData(0xff); // psmouse reset
        assertEquals(0x01 | 0x20 | 0x40, status() & 0x61);
        assertEquals(0xfe, readData());
        assertEquals(1, auxIrq.edges.get());
        assertEquals(0, status() & 0x61);
    }

    @Test
    void queuedBytesInterruptOneAtATime() {
        command(0xd2);
        writeData(1);
        command(0xd2);
        writeData(2);
        assertEquals(1, kbdIrq.edges.get(), "the second byte waits behind the first");
        assertEquals(1, readData());
        assertEquals(2, kbdIrq.edges.get(), "the next byte reaches the output buffer");
        assertEquals(2, readData());
        assertEquals(2, kbdIrq.edges.get());
        assertEquals(2, readData(), "an empty buffer repeats the last byte");
        assertEquals(0, status() & 0x01);
    }

    @Test
    void outputBufferIsBounded() {
        for (int i = 0; i < 100; i++) {
            command(0x20);
        }
        int n = 0;
        while ((status() & 0x01) != 0) {
            readData();
            n++;
        }
        assertTrue(n <= 16, "drainable by i8042_flush, got " + n);
    }

    @Test
    void internalRamIsReadAndWritable() {
        command(0x65);
        writeData(0x9c);
        command(0x25);
        assertEquals(0x9c, readData());
        assertEquals(0x47, i8042Command(CTL_RCTR)[0], "other bytes untouched");
    }

    @Test
    void commandFlagTracksTheLastPortWritten() {
        command(0xa8);
        assertEquals(0x08, status() & 0x08);
        writeData(0xed);
        assertEquals(0, status() & 0x08);
    }

    @Test
    void newCommandCancelsAPendingParameter() {
        command(0xd1);
        command(0xaa);
        assertEquals(0x55, readData());
        writeData(0x00); // now goes to the (absent) keyboard, not to the output port
        assertEquals(0, resets.get());
        assertEquals(0xfe, readData());
    }

    @Test
    void attachesAtTheLegacyPortsLeavingPort61Free() {
        Bus pio = new Bus("pio");
        kbc.attach(pio);
        pio.register(0x61, 1, "port-b", new BusDevice() {
            @Override
            public long read(long offset, int size) {
                return 0x20;
            }

            @Override
            public void write(long offset, int size, long value) {}
        });
        pio.write(0x64, 1, 0xaa);
        assertEquals(0x15, pio.read(0x64, 1) & ~0x08);
        assertEquals(0x55, pio.read(0x60, 1));
        assertEquals(0x20, pio.read(0x61, 1));
        pio.write(0x64, 1, 0xfe);
        assertEquals(1, resets.get());
        assertEquals(0, pio.unhandledAccesses());
    }

    @Test
    void bogusOffsetsAndSizesAreIgnored() {
        kbc.commandPort().write(1, 1, 0xfe);
        kbc.commandPort().write(0, 0, 0xfe);
        kbc.commandPort().write(-1, 4, 0xfe);
        assertEquals(0, resets.get());
        assertEquals(0xff, kbc.dataPort().read(3, 1));
        assertEquals(0xff, kbc.dataPort().read(0, -2));
        kbc.commandPort().write(0, 4, 0xffff_ff_fe);
        assertEquals(1, resets.get(), "only the low byte counts");
    }
}
