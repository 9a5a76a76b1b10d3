package dev.vessel.vmm;

import dev.vessel.devices.Bus;
import dev.vessel.devices.BusDevice;
import dev.vessel.kvm.FakeKvmRun;
import dev.vessel.kvm.KvmRun;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class BusExitHandlerTest {
    final List<String> log = new ArrayList<>();
    final Bus pio = new Bus("pio");
    final Bus mmio = new Bus("mmio");
    final BusExitHandler handler = new BusExitHandler(pio, mmio, 0);
    Arena arena;
    FakeKvmRun fake;

    @BeforeEach
    void setUp() {
        BusDevice device = new BusDevice() {
            @Override
            public long read(long offset, int size) {
                log.add("r " + offset + "/" + size);
                return 0x1122_3344_5566_7788L + offset;
            }

            @Override
            public void write(long offset, int size, long value) {
                log.add("w " + offset + "/" + size + "=0x" + Long.toHexString(value));
            }
        };
        pio.register(0x3f8, 8, "uart", device);
        mmio.register(0xd000_0000L, 0x200, "virtio", device);
        pio.freeze();
        mmio.freeze();
        arena = Arena.ofConfined();
        fake = new FakeKvmRun(arena);
    }

    @AfterEach
    void tearDown() {
        arena.close();
    }

    @Test
    void anOutTakesItsValueFromKvmsDataOffset() {
        fake.page().set(ValueLayout.JAVA_SHORT_UNALIGNED, FakeKvmRun.PIO_DATA + 16, (short) 0xbeef);
        handler.handleIo(fake.io(KvmRun.IO_OUT, 2, 0x3f9, 1, FakeKvmRun.PIO_DATA + 16).run());
        assertEquals(List.of("w 1/2=0xbeef"), log);
    }

    @Test
    void anInWritesTheDevicesAnswerTruncatedToItsSize() {
        fake.page().set(ValueLayout.JAVA_LONG, FakeKvmRun.PIO_DATA, -1L);
        handler.handleIo(fake.io(KvmRun.IO_IN, 4, 0x3fa, 1, FakeKvmRun.PIO_DATA).run());
        assertEquals(List.of("r 2/4"), log);
        assertEquals(0xffff_ffff_5566_778aL, fake.page().get(ValueLayout.JAVA_LONG, FakeKvmRun.PIO_DATA));
    }

    @Test
    void aStringInstructionMakesOneAccessPerElement() {
        fake.page().set(ValueLayout.JAVA_BYTE, FakeKvmRun.PIO_DATA, (byte) 'o');
        fake.page().set(ValueLayout.JAVA_BYTE, FakeKvmRun.PIO_DATA + 1, (byte) 'k');
        handler.handleIo(fake.io(KvmRun.IO_OUT, 1, 0x3f8, 2, FakeKvmRun.PIO_DATA).run());
        assertEquals(List.of("w 0/1=0x6f", "w 0/1=0x6b"), log);
        handler.handleIo(fake.io(KvmRun.IO_IN, 2, 0x3f8, 3, FakeKvmRun.PIO_DATA).run());
        assertEquals(0x7788, Short.toUnsignedInt(fake.page().get(ValueLayout.JAVA_SHORT_UNALIGNED, FakeKvmRun.PIO_DATA + 4)));
    }

    @Test
    void mmioWritesAndReadsGoThroughTheMmioBus() {
        handler.handleMmio(fake.mmio(0xd000_0070L, 4, true, 0xaabb_ccdd_0000_0001L).run());
        handler.handleMmio(fake.mmio(0xd000_0008L, 8, false, 0).run());
        assertEquals(List.of("w 112/4=0x1", "r 8/8"), log);
        assertEquals(0x1122_3344_5566_7790L, fake.mmioData());
        handler.handleMmio(fake.mmio(0xd000_0000L, 1, false, -1L).run());
        assertEquals(0xffff_ffff_ffff_ff88L, fake.mmioData(), "a 1-byte read sets one byte");
    }

    @Test
    void oddSizesAreIgnored() {
        handler.handleIo(fake.io(KvmRun.IO_OUT, 3, 0x3f8, 1, FakeKvmRun.PIO_DATA).run());
        handler.handleMmio(fake.mmio(0xd000_0000L, 5, true, 0).run());
        assertEquals(List.of(), log);
    }

    @Test
    void dataOutsideTheMappingIsRefusedNotRead() {
        assertThrows(IndexOutOfBoundsException.class,
                () -> handler.handleIo(fake.io(KvmRun.IO_OUT, 4, 0x3f8, 1, 2 * 4096 - 2).run()));
        assertThrows(IndexOutOfBoundsException.class,
                () -> handler.handleIo(fake.io(KvmRun.IO_OUT, 1, 0x3f8, 1, -8).run()));
        assertEquals(List.of(), log);
    }
}
