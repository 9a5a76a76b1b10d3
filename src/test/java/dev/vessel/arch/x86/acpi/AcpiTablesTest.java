package dev.vessel.arch.x86.acpi;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.arch.x86.BootLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Reads the image the way firmware-table consumers do: from the RSDP through the XSDT and FADT,
 * at the offsets the ACPI 6.5 specification gives (written out here, not taken from the code).
 */
class AcpiTablesTest {
    private static final long BASE = BootLayout.ACPI_TABLES;

    private static final List<AcpiDevice> VIRTIO = List.of(
            AcpiDevice.virtioMmio(0, 0xD000_0000L, 0x1000, 5),
            AcpiDevice.virtioMmio(1, 0xD000_1000L, 0x1000, 6));

    /** The image as guest memory from {@link #BASE}. */
    private record Guest(ByteBuffer mem) {
        static Guest of(AcpiTables tables) {
            return new Guest(ByteBuffer.wrap(tables.image()).order(ByteOrder.LITTLE_ENDIAN));
        }

        int at(long address) {
            assertTrue(address >= BASE && address < BASE + mem.capacity(), "address outside the image");
            return (int) (address - BASE);
        }

        String ascii(int offset, int length) {
            byte[] b = new byte[length];
            mem.get(offset, b);
            return new String(b, StandardCharsets.US_ASCII);
        }

        byte[] table(long address) {
            int o = at(address);
            byte[] t = new byte[mem.getInt(o + 4)];
            mem.get(o, t);
            return t;
        }

        long xsdt() {
            return mem.getLong(24);
        }

        List<Long> xsdtEntries() {
            int x = at(xsdt());
            int count = (mem.getInt(x + 4) - 36) / 8;
            List<Long> entries = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                entries.add(mem.getLong(x + 36 + 8 * i));
            }
            return entries;
        }

        long find(String signature) {
            return xsdtEntries().stream().filter(a -> ascii(at(a), 4).equals(signature)).findFirst()
                    .orElseThrow(() -> new AssertionError("XSDT lists no " + signature));
        }

        long dsdt() {
            return mem.getLong(at(find("FACP")) + 140);
        }
    }

    private static Guest build(int cpus, List<AcpiDevice> devices) {
        return Guest.of(AcpiTables.build(new AcpiConfig(cpus, devices), BASE));
    }

    private static int sum(byte[] b, int from, int to) {
        int s = 0;
        for (int i = from; i < to; i++) {
            s += b[i];
        }
        return s & 0xFF;
    }

    @Test
    void rsdpIsARevision2PointerToTheXsdtAtTheBase() {
        AcpiTables tables = AcpiTables.build(new AcpiConfig(1, VIRTIO), BASE);
        assertEquals(BASE, tables.rsdpAddress());
        assertEquals(BASE, tables.base());
        Guest g = Guest.of(tables);
        assertEquals("RSD PTR ", g.ascii(0, 8));
        assertEquals("VESSEL", g.ascii(9, 6));
        assertEquals(2, g.mem.get(15));
        assertEquals(0, g.mem.getInt(16), "no RSDT");
        assertEquals(36, g.mem.getInt(20));
        assertEquals("XSDT", g.ascii(g.at(g.xsdt()), 4));
        byte[] rsdp = Arrays.copyOf(g.mem.array(), 36);
        assertEquals(0, sum(rsdp, 0, 20), "ACPI 1.0 checksum over the first 20 bytes");
        assertEquals(0, sum(rsdp, 0, 36), "extended checksum over all 36 bytes");
    }

    @Test
    void theRsdpLiesWhereTheLegacyScanLooks() {
        AcpiTables tables = AcpiTables.build(new AcpiConfig(AcpiConfig.MAX_CPUS, VIRTIO), BASE);
        assertEquals(0, tables.rsdpAddress() % 16);
        assertTrue(tables.rsdpAddress() >= 0xE0000 && tables.rsdpAddress() + 36 <= 0x100000);
        assertTrue(BASE + tables.image().length <= BootLayout.ACPI_TABLES_END, "image overflows the BIOS area");
    }

    @Test
    void baseMustBe16ByteAligned() {
        AcpiConfig config = new AcpiConfig(1, List.of());
        assertThrows(IllegalArgumentException.class, () -> AcpiTables.build(config, BASE + 8));
        assertThrows(IllegalArgumentException.class, () -> AcpiTables.build(config, -16));
    }

    @Test
    void tablesAtAnotherBasePointIntoThatBase() {
        long base = 0x7F00_0000L;
        Guest g = new Guest(ByteBuffer.wrap(AcpiTables.build(new AcpiConfig(1, List.of()), base).image())
                .order(ByteOrder.LITTLE_ENDIAN));
        long xsdt = g.mem.getLong(24);
        assertTrue(xsdt > base && xsdt < base + g.mem.capacity());
    }

    @Test
    void everyTableSumsToZeroAndIs16ByteAligned() {
        Guest g = build(8, VIRTIO);
        List<Long> addresses = new ArrayList<>(g.xsdtEntries());
        addresses.add(g.xsdt());
        addresses.add(g.dsdt());
        assertEquals(4, addresses.size());
        for (long a : addresses) {
            byte[] t = g.table(a);
            assertEquals(0, sum(t, 0, t.length), "checksum of " + new String(t, 0, 4, StandardCharsets.US_ASCII));
            assertEquals(0, a % 16);
            assertEquals("VESSEL", g.ascii(g.at(a) + 10, 6));
        }
    }

    @Test
    void xsdtListsTheFadtAndTheMadtAndTheFadtPointsAtTheDsdt() {
        Guest g = build(2, VIRTIO);
        List<String> signatures = g.xsdtEntries().stream().map(a -> g.ascii(g.at(a), 4)).toList();
        assertEquals(List.of("FACP", "APIC"), signatures);
        assertEquals("DSDT", g.ascii(g.at(g.dsdt()), 4));
        assertEquals(1, g.mem.get(g.at(g.xsdt()) + 8), "XSDT revision");
    }

    @Test
    void fadtDescribesAHardwareReducedPlatformWithResetAndSleepRegisters() {
        Guest g = build(1, List.of());
        int f = g.at(g.find("FACP"));
        assertEquals(276, g.mem.getInt(f + 4));
        assertEquals(6, g.mem.get(f + 8), "major revision");
        assertEquals(4, g.mem.get(f + 131), "minor revision");
        assertEquals(0, g.mem.getInt(f + 36), "FIRMWARE_CTRL: no FACS");
        assertEquals(0, g.mem.getLong(f + 132), "X_FIRMWARE_CTRL: no FACS");
        assertEquals(0, g.mem.getShort(f + 46), "SCI_INT");
        assertEquals(0, g.mem.getInt(f + 56), "PM1a_EVT_BLK");
        assertEquals(0, g.mem.getInt(f + 64), "PM1a_CNT_BLK");
        assertEquals(0, g.mem.getInt(f + 76), "PM_TMR_BLK");
        assertEquals(0, g.mem.get(f + 108), "CENTURY: the RTC's century register is not claimed");

        int flags = g.mem.getInt(f + 112);
        assertEquals(1 << 20, flags & (1 << 20), "HW_REDUCED_ACPI");
        assertEquals(1 << 10, flags & (1 << 10), "RESET_REG_SUP");
        assertEquals((1 << 4) | (1 << 5), flags & ((1 << 4) | (1 << 5)), "no fixed power/sleep buttons");

        int bootArch = g.mem.getShort(f + 109);
        assertEquals(0, bootArch & (1 << 1), "no 8042");
        assertEquals(1 << 2, bootArch & (1 << 2), "no VGA");
        assertEquals(0, bootArch & (1 << 3), "MSI allowed");
        assertEquals(0, bootArch & (1 << 5), "a CMOS RTC is present");

        assertIoPort8(g, f + 116, PowerPort.DEFAULT_PORT, "RESET_REG");
        assertEquals(PowerPort.RESET, g.mem.get(f + 128), "RESET_VALUE");
        assertIoPort8(g, f + 244, PowerPort.DEFAULT_PORT, "SLEEP_CONTROL_REG");
        assertIoPort8(g, f + 256, PowerPort.DEFAULT_PORT, "SLEEP_STATUS_REG");
        assertEquals("VESSEL  ", g.ascii(f + 268, 8), "hypervisor vendor identity");
    }

    @Test
    void fadtRegistersFollowTheConfiguredPort() {
        Guest g = Guest.of(AcpiTables.build(new AcpiConfig(1, 0x6F0, List.of()), BASE));
        int f = g.at(g.find("FACP"));
        assertIoPort8(g, f + 116, 0x6F0, "RESET_REG");
        assertIoPort8(g, f + 244, 0x6F0, "SLEEP_CONTROL_REG");
        assertIoPort8(g, f + 256, 0x6F0, "SLEEP_STATUS_REG");
    }

    private static void assertIoPort8(Guest g, int gas, int port, String what) {
        assertEquals(1, g.mem.get(gas), what + " address space: system I/O");
        assertEquals(8, g.mem.get(gas + 1), what + " bit width");
        assertEquals(0, g.mem.get(gas + 2), what + " bit offset");
        assertEquals(1, g.mem.get(gas + 3), what + " access size: byte");
        assertEquals(port, g.mem.getLong(gas + 4), what + " port");
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2, 8, 255})
    void madtHasOneEnabledLocalApicPerCpuAndOneIoApic(int cpus) {
        Guest g = build(cpus, List.of());
        int m = g.at(g.find("APIC"));
        int end = m + g.mem.getInt(m + 4);
        assertEquals(0xFEE0_0000, g.mem.getInt(m + 36), "local APIC address");
        assertEquals(1, g.mem.getInt(m + 40), "PCAT_COMPAT: KVM provides 8259s");

        List<Integer> apicIds = new ArrayList<>();
        int ioApics = 0;
        int o = m + 44;
        while (o < end) {
            int type = g.mem.get(o);
            int length = g.mem.get(o + 1);
            switch (type) {
                case 0 -> {
                    assertEquals(8, length);
                    int uid = g.mem.get(o + 2) & 0xFF;
                    int apicId = g.mem.get(o + 3) & 0xFF;
                    assertEquals(apicIds.size(), uid, "processor UID = index");
                    assertEquals(apicIds.size(), apicId, "APIC ID = index");
                    assertEquals(1, g.mem.getInt(o + 4), "enabled");
                    apicIds.add(apicId);
                }
                case 1 -> {
                    assertEquals(12, length);
                    assertEquals(0, g.mem.get(o + 2), "IOAPIC ID");
                    assertEquals(0xFEC0_0000, g.mem.getInt(o + 4), "IOAPIC address");
                    assertEquals(0, g.mem.getInt(o + 8), "GSI base");
                    ioApics++;
                }
                default -> throw new AssertionError("unexpected MADT entry type " + type);
            }
            o += length;
        }
        assertEquals(end, o, "entries fill the table exactly");
        assertEquals(IntStream.range(0, cpus).boxed().toList(), apicIds);
        assertEquals(1, ioApics);
    }

    @Test
    void dsdtEndsWithTheS5PackageAndNamesEveryDevice() {
        Guest g = build(1, VIRTIO);
        byte[] dsdt = g.table(g.dsdt());
        assertEquals(2, dsdt[8], "revision 2: 64-bit AML integers");
        // Name(\_S5_, Package() { 5, Zero })
        byte[] s5 = {0x08, '\\', '_', 'S', '5', '_', 0x12, 0x05, 0x02, 0x0A, 0x05, 0x00};
        assertArrayEquals(s5, Arrays.copyOfRange(dsdt, dsdt.length - s5.length, dsdt.length));
        String text = new String(dsdt, StandardCharsets.ISO_8859_1);
        for (String name : List.of("_SB_", "COM1", "RTC_", "V000", "V001", "LNRO0005")) {
            assertTrue(text.contains(name), "DSDT lacks " + name);
        }
    }

    @Test
    void powerOffIsTheByteLinuxWritesForS5() {
        // ACPICA acpi_hw_extended_sleep: ((SLP_TYP << 2) & 0x1C) | SLP_EN(0x20), with SLP_TYP from \_S5.
        assertEquals(((5 << 2) & 0x1C) | 0x20, PowerPort.POWER_OFF);
        assertEquals(0x34, PowerPort.POWER_OFF);
        assertNotEquals(PowerPort.POWER_OFF, PowerPort.RESET);
        assertNotEquals(PowerPort.WAKE_STATUS, PowerPort.RESET);
        assertEquals(0, PowerPort.RESET & PowerPort.SLEEP_ENABLE, "a reset must not look like a sleep command");
    }

    @Test
    void imageIsACopy() {
        AcpiTables tables = AcpiTables.build(new AcpiConfig(1, List.of()), BASE);
        tables.image()[0] = 0;
        assertEquals('R', tables.image()[0]);
    }
}
