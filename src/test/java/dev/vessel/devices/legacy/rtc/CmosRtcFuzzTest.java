package dev.vessel.devices.legacy.rtc;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** A hostile guest: any access sequence, with the clock moving underneath, never throws or corrupts status. */
class CmosRtcFuzzTest {
    record Step(int kind, long offset, int size, long value, int millis) {}

    @Provide
    Arbitrary<List<Step>> steps() {
        return Combinators.combine(
                        Arbitraries.integers().between(0, 3),
                        Arbitraries.longs().between(-1, 3),
                        Arbitraries.of(-1, 0, 1, 1, 1, 2, 4, 8),
                        Arbitraries.longs(),
                        Arbitraries.integers().between(-2000, 3000))
                .as(Step::new)
                .list()
                .ofMaxSize(200);
    }

    @Property(tries = 200)
    void anySequenceKeepsStatusRegistersSane(@ForAll("steps") List<Step> steps) {
        CmosRtcTest.ManualClock clock = new CmosRtcTest.ManualClock(Instant.parse("2099-12-31T23:59:59Z"));
        CmosRtcTest.CountingLine irq = new CmosRtcTest.CountingLine();
        try (CmosRtc rtc = new CmosRtc(clock, irq, false)) {
            for (Step s : steps) {
                switch (s.kind()) {
                    case 0 -> rtc.write(s.offset(), s.size(), s.value());
                    case 1 -> rtc.read(s.offset(), s.size());
                    case 2 -> clock.advance(Duration.ofMillis(s.millis()));
                    default -> rtc.poll();
                }
                rtc.write(0, 1, 0x0d);
                assertEquals(0x80, rtc.read(1, 1));
                rtc.write(0, 1, 0x0c);
                assertEquals(0, rtc.read(1, 1) & 0x4f, "PF and the low bits of C never set");
                rtc.write(0, 1, 0x0b);
                if ((rtc.read(1, 1) & 0x86) == 0x02) { // running, BCD, 24-hour: registers must be valid BCD
                    for (int reg : new int[] {0, 2, 4, 7, 8, 9}) {
                        rtc.write(0, 1, reg);
                        int v = (int) rtc.read(1, 1);
                        assertTrue((v & 0x0f) <= 9 && (v >>> 4) <= 9, "register " + reg + " = " + Integer.toHexString(v));
                    }
                }
            }
        }
    }
}
