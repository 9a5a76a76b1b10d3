package dev.vessel.devices.legacy.serial;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.ByteArrayOutputStream;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

/** A hostile guest: any sequence of accesses and host input keeps the UART consistent and never throws. */
class Uart16550FuzzTest {
    record Access(int kind, long offset, int size, long value) {}

    @Provide
    Arbitrary<List<Access>> accesses() {
        Arbitrary<Integer> kind = Arbitraries.integers().between(0, 4);
        Arbitrary<Long> offset = Arbitraries.oneOf(
                Arbitraries.longs().between(-2, 10),
                Arbitraries.of(Long.MIN_VALUE, Long.MAX_VALUE, Long.MAX_VALUE - 3));
        Arbitrary<Integer> size = Arbitraries.of(-1, 0, 1, 1, 1, 2, 3, 4, 8, 9, 1 << 20);
        Arbitrary<Long> value = Arbitraries.longs();
        return Combinators.combine(kind, offset, size, value).as(Access::new).list().ofMaxSize(300);
    }

    @Property(tries = 300)
    void anyAccessSequenceKeepsInvariants(@ForAll("accesses") List<Access> accesses) {
        Uart16550Test.CountingLine irq = new Uart16550Test.CountingLine();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (Uart16550 uart = new Uart16550(irq, out, false)) {
            for (Access a : accesses) {
                switch (a.kind()) {
                    case 0, 1 -> uart.write(a.offset(), a.size(), a.value());
                    case 2, 3 -> uart.read(a.offset(), a.size());
                    default -> {
                        byte[] data = new byte[(int) Math.floorMod(a.value(), 64L)];
                        uart.receive(data, 0, data.length);
                    }
                }
                long lsr = uart.read(5, 1);
                assertEquals(0x60, lsr & 0x60, "transmitter always idle");
                assertEquals(0, lsr & 0x9c, "no parity/framing/break/FIFO errors are ever made up");
                assertEquals(0, uart.read(2, 1) & 0x30, "IIR bits 5:4 are zero on a 16550A");
                assertEquals(0, uart.read(4, 1) & 0xe0, "MCR bits 7:5 are zero");
            }
            uart.flush();
            assertEquals(uart.transmittedBytes(), out.size());
        }
    }
}
