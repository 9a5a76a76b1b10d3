package dev.vessel.devices.legacy.rtc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.devices.Bus;
import dev.vessel.devices.InterruptLine;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

class CmosRtcTest {
    /** A clock the test moves by hand. */
    static final class ManualClock extends Clock {
        private volatile Instant now;

        ManualClock(Instant now) {
            this.now = now;
        }

        void advance(Duration d) {
            now = now.plus(d);
        }

        void set(Instant t) {
            now = t;
        }

        @Override
        public Instant instant() {
            return now;
        }

        @Override
        public ZoneId getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(ZoneId zone) {
            throw new UnsupportedOperationException();
        }
    }

    static final class CountingLine implements InterruptLine {
        final AtomicInteger edges = new AtomicInteger();

        @Override
        public void trigger() {
            edges.incrementAndGet();
        }

        @Override
        public void setLevel(boolean high) {
            throw new AssertionError("IRQ 8 is edge-triggered");
        }

        int edges() {
            return edges.get();
        }
    }

    // Thursday, 29 February 2024, 23:59:58.5 UTC.
    static final Instant LEAP_DAY = Instant.parse("2024-02-29T23:59:58.500Z");

    private final ManualClock clock = new ManualClock(LEAP_DAY);
    private final CountingLine irq = new CountingLine();
    private final CmosRtc rtc = new CmosRtc(clock, irq, false);

    @AfterEach
    void close() {
        rtc.close();
    }

    private int cmosRead(int reg) {
        rtc.write(0, 1, reg);
        return (int) rtc.read(1, 1);
    }

    private void cmosWrite(int reg, int v) {
        rtc.write(0, 1, reg);
        rtc.write(1, 1, v);
    }

    private int[] timeRegisters() {
        return new int[] {
            cmosRead(0x00), cmosRead(0x02), cmosRead(0x04), cmosRead(0x06),
            cmosRead(0x07), cmosRead(0x08), cmosRead(0x09), cmosRead(0x32)
        };
    }

    @Test
    void powerOnRegisters() {
        assertEquals(0x26, cmosRead(0x0a));
        assertEquals(0x02, cmosRead(0x0b), "24-hour BCD");
        assertEquals(0x00, cmosRead(0x0c));
        assertEquals(0x80, cmosRead(0x0d), "valid RAM and time");
    }

    @Test
    void readsAKnownInstantInBcd() {
        assertArrayEqualsHex(new int[] {0x58, 0x59, 0x23, 0x05, 0x29, 0x02, 0x24, 0x20}, timeRegisters());
    }

    @Test
    void readsAKnownInstantInBinary() {
        cmosWrite(0x0b, 0x06);
        assertArrayEqualsHex(new int[] {58, 59, 23, 5, 29, 2, 24, 20}, timeRegisters());
    }

    @Test
    void twelveHourModeSetsThePmBit() {
        cmosWrite(0x0b, 0x00); // 12-hour BCD
        assertEquals(0x91, cmosRead(0x04), "23h is 11 PM");
        clock.set(Instant.parse("2024-03-01T00:30:00Z"));
        assertEquals(0x12, cmosRead(0x04), "midnight is 12 AM");
        clock.set(Instant.parse("2024-03-01T12:30:00Z"));
        assertEquals(0x92, cmosRead(0x04), "noon is 12 PM");
        cmosWrite(0x0b, 0x04); // 12-hour binary
        assertEquals(0x8c, cmosRead(0x04));
    }

    @Test
    void timeAdvancesWithTheClock() {
        clock.advance(Duration.ofMillis(1500)); // 2024-03-01 00:00:00, a Friday
        assertArrayEqualsHex(new int[] {0x00, 0x00, 0x00, 0x06, 0x01, 0x03, 0x24, 0x20}, timeRegisters());
    }

    @Test
    void dayOfWeekCountsFromSunday() {
        clock.set(Instant.parse("2023-01-01T12:00:00Z")); // a Sunday
        assertEquals(1, cmosRead(0x06));
        clock.set(Instant.parse("2023-01-07T12:00:00Z")); // a Saturday
        assertEquals(7, cmosRead(0x06));
    }

    @Test
    void uipShowsOnceJustBeforeEachUpdate() {
        assertEquals(0x26, cmosRead(0x0a));
        clock.set(Instant.parse("2024-02-29T23:59:58.999700Z")); // 300 us before the update: not yet
        assertEquals(0x26, cmosRead(0x0a));
        clock.set(Instant.parse("2024-02-29T23:59:58.999900Z")); // 100 us before
        assertEquals(0xa6, cmosRead(0x0a));
        assertEquals(0x26, cmosRead(0x0a), "the clock did not move, but UIP drops anyway");
        assertEquals(0x26, cmosRead(0x0a), "and stays clear for this update");
        clock.set(Instant.parse("2024-02-29T23:59:59.999950Z"));
        assertEquals(0xa6, cmosRead(0x0a), "the next update shows it again");
        assertEquals(0x26, cmosRead(0x0a));
    }

    /** Linux 6.1's mc146818_get_time() loop, against a clock that never moves: it must still finish. */
    @Test
    void linuxGetTimeTerminatesEvenWithAFrozenClockInsideTheUipWindow() {
        clock.set(Instant.parse("2024-02-29T23:59:58.999999Z"));
        int rounds = 0;
        int sec;
        int[] rest;
        while (true) {
            assertTrue(++rounds < 10, "mc146818_get_time would spin");
            sec = cmosRead(0x00);
            if ((cmosRead(0x0a) & 0x80) != 0) {
                continue;
            }
            if (sec != cmosRead(0x00)) {
                continue;
            }
            rest = new int[] {cmosRead(0x02), cmosRead(0x04), cmosRead(0x07), cmosRead(0x08), cmosRead(0x09)};
            int ctrl = cmosRead(0x0b);
            boolean retry = (cmosRead(0x0a) & 0x80) != 0;
            retry |= sec != cmosRead(0x00);
            if (!retry) {
                assertEquals(0x02, ctrl);
                break;
            }
        }
        assertEquals(0x58, sec);
        assertArrayEqualsHex(new int[] {0x59, 0x23, 0x29, 0x02, 0x24}, rest);
    }

    @Test
    void registerAStoresRateAndDividerButNotUip() {
        cmosWrite(0x0a, 0xff);
        assertEquals(0x7f, cmosRead(0x0a));
    }

    @Test
    void setBitFreezesAndGuestWritesSetTheTime() {
        // As Linux's mc146818_set_time() does it, for 2030-06-15 12:34:56.
        int control = cmosRead(0x0b);
        cmosWrite(0x0b, control | 0x80);
        int freq = cmosRead(0x0a);
        cmosWrite(0x0a, freq | 0x60);
        cmosWrite(0x09, 0x30);
        cmosWrite(0x08, 0x06);
        cmosWrite(0x07, 0x15);
        cmosWrite(0x04, 0x12);
        cmosWrite(0x02, 0x34);
        cmosWrite(0x00, 0x56);
        clock.advance(Duration.ofSeconds(5));
        assertEquals(0x56, cmosRead(0x00), "frozen while SET");
        assertEquals(0x30, cmosRead(0x09));
        assertEquals(0x00, cmosRead(0x0a) & 0x80, "no updates while SET");
        cmosWrite(0x0b, control);
        cmosWrite(0x0a, freq);
        assertArrayEqualsHex(new int[] {0x56, 0x34, 0x12, 0x07, 0x15, 0x06, 0x30, 0x20}, timeRegisters());
        clock.advance(Duration.ofSeconds(61));
        assertArrayEqualsHex(new int[] {0x57, 0x35, 0x12, 0x07, 0x15, 0x06, 0x30, 0x20}, timeRegisters());
    }

    @Test
    void setTimeInBinaryAndTwelveHourMode() {
        cmosWrite(0x0b, 0x04); // binary, 12-hour
        cmosWrite(0x0b, 0x80 | 0x04); // SET
        cmosWrite(0x04, 0x80 | 7); // 7 PM
        cmosWrite(0x02, 5);
        cmosWrite(0x00, 9);
        cmosWrite(0x0b, 0x06); // run, binary, 24-hour
        assertEquals(19, cmosRead(0x04));
        assertEquals(5, cmosRead(0x02));
        assertEquals(9, cmosRead(0x00));
        assertEquals(29, cmosRead(0x07), "date unchanged");
    }

    @Test
    void centuryWriteMovesTheYear() {
        cmosWrite(0x0b, 0x82);
        cmosWrite(0x32, 0x21);
        cmosWrite(0x0b, 0x02);
        assertEquals(0x21, cmosRead(0x32));
        assertEquals(0x24, cmosRead(0x09));
        assertEquals(0x29, cmosRead(0x07), "2124 is a leap year too");
    }

    @Test
    void nonsenseTimeWritesAreClamped() {
        cmosWrite(0x0b, 0x82);
        cmosWrite(0x08, 0x99); // month 99
        cmosWrite(0x07, 0x3f); // day "3f"
        cmosWrite(0x04, 0xff);
        cmosWrite(0x02, 0xaa);
        cmosWrite(0x00, 0x77);
        cmosWrite(0x0b, 0x02);
        // 2024-12-31 23:59:59, a Tuesday.
        assertArrayEqualsHex(new int[] {0x59, 0x59, 0x23, 0x03, 0x31, 0x12, 0x24, 0x20}, timeRegisters());
    }

    @Test
    void writesWhileRunningShiftTheClockImmediately() {
        cmosWrite(0x02, 0x10); // minutes
        assertEquals(0x10, cmosRead(0x02));
        assertEquals(0x23, cmosRead(0x04));
        clock.advance(Duration.ofMillis(500)); // the old phase is kept: the second ticks now
        assertEquals(0x59, cmosRead(0x00));
        assertEquals(0x10, cmosRead(0x02));
        clock.advance(Duration.ofSeconds(1));
        assertEquals(0x00, cmosRead(0x00));
        assertEquals(0x11, cmosRead(0x02));
    }

    @Test
    void registerCIsClearedByReading() {
        clock.advance(Duration.ofSeconds(1));
        assertEquals(0x10, cmosRead(0x0c), "an update happened: UF, without IRQF as UIE is off");
        assertEquals(0x00, cmosRead(0x0c));
        assertEquals(0, irq.edges());
    }

    @Test
    void updateEndedInterrupt() {
        cmosWrite(0x05, 0x12); // keep the alarm (00:00:00 at power-on) away from midnight
        cmosWrite(0x0b, 0x12); // UIE, 24-hour BCD
        rtc.poll();
        assertEquals(0, irq.edges(), "no update yet");
        clock.advance(Duration.ofMillis(600));
        rtc.poll();
        assertEquals(1, irq.edges());
        clock.advance(Duration.ofSeconds(1));
        rtc.poll();
        assertEquals(1, irq.edges(), "IRQF still set: no new edge until C is read");
        assertEquals(0x90, cmosRead(0x0c));
        assertEquals(0x00, cmosRead(0x0c));
        clock.advance(Duration.ofSeconds(1));
        rtc.poll();
        assertEquals(2, irq.edges());
        assertEquals(0x90, cmosRead(0x0c));
    }

    @Test
    void enablingUieWithAPendingFlagInterruptsAtOnce() {
        clock.advance(Duration.ofSeconds(1));
        rtc.poll();
        assertEquals(0, irq.edges());
        cmosWrite(0x0b, 0x12);
        assertEquals(1, irq.edges());
        assertEquals(0x90, cmosRead(0x0c));
    }

    @Test
    void alarmInterrupt() {
        clock.set(Instant.parse("2024-03-01T06:00:03.250Z"));
        CmosRtc r = new CmosRtc(clock, irq, false);
        r.write(0, 1, 0x01);
        r.write(1, 1, 0x05);
        r.write(0, 1, 0x03);
        r.write(1, 1, 0x00);
        r.write(0, 1, 0x05);
        r.write(1, 1, 0x06);
        r.write(0, 1, 0x0b);
        r.write(1, 1, 0x22); // AIE
        clock.advance(Duration.ofSeconds(1)); // 06:00:04
        r.poll();
        assertEquals(0, irq.edges());
        r.write(0, 1, 0x0c);
        assertEquals(0x10, r.read(1, 1), "UF without AF");
        clock.advance(Duration.ofSeconds(1)); // 06:00:05
        r.poll();
        assertEquals(1, irq.edges());
        r.write(0, 1, 0x0c);
        assertEquals(0xb0, r.read(1, 1), "IRQF | AF | UF");
        clock.advance(Duration.ofSeconds(1));
        r.poll();
        assertEquals(1, irq.edges());
        r.close();
    }

    @Test
    void lateObservationStillCatchesTheAlarm() {
        clock.set(Instant.parse("2024-03-01T06:00:00Z"));
        CmosRtc r = new CmosRtc(clock, irq, false);
        r.write(0, 1, 0x01);
        r.write(1, 1, 0x30);
        r.write(0, 1, 0x03);
        r.write(1, 1, 0xc0); // any minute
        r.write(0, 1, 0x05);
        r.write(1, 1, 0xff); // any hour
        r.write(0, 1, 0x0b);
        r.write(1, 1, 0x22);
        clock.advance(Duration.ofSeconds(45)); // passes :30 without a poll
        r.poll();
        assertEquals(1, irq.edges());
        r.close();
    }

    @Test
    void dontCareAlarmFiresEverySecond() {
        cmosWrite(0x01, 0xc0);
        cmosWrite(0x03, 0xc0);
        cmosWrite(0x05, 0xc0);
        cmosWrite(0x0b, 0x22);
        for (int i = 1; i <= 3; i++) {
            clock.advance(Duration.ofSeconds(1));
            rtc.poll();
            assertEquals(i, irq.edges());
            assertEquals(0xb0, cmosRead(0x0c));
        }
    }

    @Test
    void alarmRegistersInTwelveHourMode() {
        cmosWrite(0x0b, 0x00); // 12-hour BCD
        cmosWrite(0x01, 0x00);
        cmosWrite(0x03, 0x00);
        cmosWrite(0x05, 0x12); // 12 AM
        cmosWrite(0x0b, 0x20);
        clock.advance(Duration.ofMillis(1500)); // midnight
        rtc.poll();
        assertEquals(1, irq.edges());
        assertEquals(0xb0, cmosRead(0x0c));
    }

    @Test
    void settingSetClearsUieAndStopsUpdates() {
        cmosWrite(0x0b, 0x12);
        cmosWrite(0x0b, 0x92);
        assertEquals(0x82, cmosRead(0x0b));
        clock.advance(Duration.ofSeconds(3));
        rtc.poll();
        assertEquals(0x00, cmosRead(0x0c));
        assertEquals(0, irq.edges());
    }

    @Test
    void clockSteppingBackRaisesNothing() {
        clock.advance(Duration.ofSeconds(-10));
        assertEquals(0x00, cmosRead(0x0c));
        clock.advance(Duration.ofSeconds(1));
        assertEquals(0x10, cmosRead(0x0c));
    }

    @Test
    void periodicInterruptIsNotEmulatedButHarmless() {
        cmosWrite(0x0a, 0x2f);
        cmosWrite(0x0b, 0x42); // PIE
        clock.advance(Duration.ofMillis(100));
        rtc.poll();
        assertEquals(0, irq.edges());
        assertEquals(0x00, cmosRead(0x0c));
        assertEquals(0x42, cmosRead(0x0b));
    }

    @Test
    void statusRegistersCAndDAreReadOnly() {
        cmosWrite(0x0c, 0xff);
        cmosWrite(0x0d, 0x00);
        assertEquals(0x00, cmosRead(0x0c));
        assertEquals(0x80, cmosRead(0x0d));
    }

    @Test
    void nvramHolds114BytesAroundTheCenturyByte() {
        for (int reg = 0x0e; reg <= 0x7f; reg++) {
            if (reg != 0x32) {
                cmosWrite(reg, reg ^ 0xa5);
            }
        }
        for (int reg = 0x0e; reg <= 0x7f; reg++) {
            if (reg != 0x32) {
                assertEquals(reg ^ 0xa5, cmosRead(reg), "byte 0x" + Integer.toHexString(reg));
            }
        }
        assertEquals(0x20, cmosRead(0x32));
        assertEquals(0x02, cmosRead(0x0b), "NVRAM writes leave the clock alone");
    }

    @Test
    void indexBitSevenIsTheNmiMaskAndIgnored() {
        cmosWrite(0x40, 0x11);
        assertEquals(0x11, cmosRead(0x80 | 0x40));
        assertEquals(0x58, cmosRead(0x80));
    }

    @Test
    void wordWriteToTheIndexPortAlsoWritesData() {
        rtc.write(0, 2, 0x7740L); // index 0x40, data 0x77
        assertEquals(0x77, cmosRead(0x40));
        rtc.write(0, 1, 0x40);
        assertEquals(0x77ffL, rtc.read(0, 2), "index port reads as ones");
    }

    @Test
    void bogusAccessesAreIgnored() {
        rtc.write(2, 1, 0x0b);
        rtc.write(-1, 8, -1L);
        rtc.write(1, 0, 0x80);
        rtc.write(Long.MAX_VALUE, 8, -1L);
        assertEquals(0x02, cmosRead(0x0b));
        assertEquals(0xffL, rtc.read(5, 1));
        assertEquals(0L, rtc.read(1, -1));
    }

    @Test
    void worksOnThePortBus() {
        Bus pio = new Bus("pio");
        pio.register(CmosRtc.BASE_PORT, CmosRtc.PORT_COUNT, "rtc", rtc);
        pio.write(0x70, 1, 0x09);
        assertEquals(0x24, pio.read(0x71, 1));
        assertEquals(0, pio.unhandledAccesses());
    }

    @Test
    void ownTimerDeliversUpdateInterruptsInRealTime() throws Exception {
        CountDownLatch fired = new CountDownLatch(2);
        InterruptLine line = new InterruptLine() {
            @Override
            public void trigger() {
                fired.countDown();
            }

            @Override
            public void setLevel(boolean high) {}
        };
        try (CmosRtc real = new CmosRtc(Clock.systemUTC(), line)) {
            real.write(0, 1, 0x0b);
            real.write(1, 1, 0x12);
            // The guest's handler acknowledges each interrupt by reading C.
            Thread.ofVirtual().start(() -> {
                while (fired.getCount() == 2) {
                    Thread.onSpinWait();
                }
                real.write(0, 1, 0x0c);
                real.read(1, 1);
            });
            assertTrue(fired.await(10, TimeUnit.SECONDS), "two update interrupts");
        }
    }

    @Test
    void closeStopsTheTimer() {
        CmosRtc real = new CmosRtc(Clock.systemUTC(), InterruptLine.NONE);
        real.write(0, 1, 0x0b);
        real.write(1, 1, 0x32);
        real.close();
        real.write(1, 1, 0x12); // still usable as a register file after close
        real.write(0, 1, 0x0b);
        assertEquals(0x12, real.read(1, 1));
    }

    private static void assertArrayEqualsHex(int[] expected, int[] actual) {
        assertEquals(hex(expected), hex(actual));
    }

    private static String hex(int[] values) {
        StringBuilder sb = new StringBuilder();
        for (int v : values) {
            sb.append(String.format("%02x ", v));
        }
        return sb.toString().trim();
    }
}
