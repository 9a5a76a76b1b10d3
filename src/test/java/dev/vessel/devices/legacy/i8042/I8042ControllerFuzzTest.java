package dev.vessel.devices.legacy.i8042;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.atomic.AtomicInteger;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** A hostile guest: arbitrary port traffic never throws and never wedges the controller. */
class I8042ControllerFuzzTest {
    @Provide
    Arbitrary<int[]> accessSequences() {
        return Arbitraries.integers().between(0, 0x3ff).array(int[].class).ofMaxSize(200);
    }

    @Property(tries = 300)
    void arbitraryTrafficNeverThrowsAndStaysDrainable(@ForAll("accessSequences") int[] seq) {
        AtomicInteger count = new AtomicInteger();
        I8042Controller c = new I8042Controller(count::incrementAndGet);
        for (int a : seq) {
            int value = a & 0xff;
            switch (a >> 8) {
                case 0 -> c.commandPort().write(0, 1, value);
                case 1 -> c.dataPort().write(0, 1, value);
                case 2 -> c.dataPort().read(0, 1);
                default -> c.commandPort().read(0, 1);
            }
        }
        int n = 0;
        while ((c.commandPort().read(0, 1) & 0x01) != 0) {
            c.dataPort().read(0, 1);
            assertTrue(++n <= 16);
        }
        assertEquals(0, c.commandPort().read(0, 1) & 0x02, "input buffer never stays full");
    }
}
