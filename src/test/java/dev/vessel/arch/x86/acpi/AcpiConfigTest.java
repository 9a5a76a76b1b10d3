package dev.vessel.arch.x86.acpi;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.vessel.arch.x86.acpi.aml.ResourceTemplate.Trigger;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class AcpiConfigTest {
    private static AcpiDevice virtio(int index, int gsi) {
        return AcpiDevice.virtioMmio(index, 0xD000_0000L + 0x1000L * index, 0x1000, gsi);
    }

    @Test
    void cpuCountIsBetween1And255() {
        assertThrows(IllegalArgumentException.class, () -> new AcpiConfig(0, List.of()));
        assertThrows(IllegalArgumentException.class, () -> new AcpiConfig(256, List.of()));
        assertEquals(255, new AcpiConfig(255, List.of()).cpus());
    }

    @Test
    void defaultPortIs0x600AndPortZeroIsRejected() {
        assertEquals(0x600, new AcpiConfig(1, List.of()).powerPort());
        assertThrows(IllegalArgumentException.class, () -> new AcpiConfig(1, 0, List.of()));
        assertThrows(IllegalArgumentException.class, () -> new AcpiConfig(1, 0x10000, List.of()));
    }

    @Test
    void devicesAreCopied() {
        List<AcpiDevice> devices = new ArrayList<>(List.of(virtio(0, 5)));
        AcpiConfig config = new AcpiConfig(1, devices);
        devices.add(virtio(1, 6));
        assertEquals(1, config.devices().size());
    }

    @Test
    void namesGsisAndIdsMustBeUnique() {
        assertThrows(IllegalArgumentException.class, () -> new AcpiConfig(1, List.of(virtio(0, 5), virtio(0, 6))));
        assertThrows(IllegalArgumentException.class, () -> new AcpiConfig(1, List.of(virtio(0, 5), virtio(1, 5))));
        assertThrows(IllegalArgumentException.class, () -> new AcpiConfig(1, List.of(virtio(0, 4))),
                "COM1's IRQ");
        assertThrows(IllegalArgumentException.class, () -> new AcpiConfig(1, List.of(virtio(0, 8))),
                "the RTC's IRQ");
        AcpiDevice com1 = new AcpiDevice("COM1", "LNRO0005", 9, 0xD000_0000L, 0x1000, 5, Trigger.EDGE);
        assertThrows(IllegalArgumentException.class, () -> new AcpiConfig(1, List.of(com1)));
        AcpiDevice sameUid = new AcpiDevice("VXXX", "LNRO0005", 0, 0xD000_1000L, 0x1000, 6, Trigger.EDGE);
        assertThrows(IllegalArgumentException.class, () -> new AcpiConfig(1, List.of(virtio(0, 5), sameUid)));
    }

    @Test
    void virtioMmioDevicesAreNamedByHexIndexAndEdgeTriggered() {
        AcpiDevice d = AcpiDevice.virtioMmio(0x1F, 0xD001_F000L, 0x200, 23);
        assertEquals("V01F", d.name());
        assertEquals("LNRO0005", d.hid());
        assertEquals(0x1F, d.uid());
        assertEquals(Trigger.EDGE, d.trigger());
        assertThrows(IllegalArgumentException.class, () -> AcpiDevice.virtioMmio(0x1000, 0xD000_0000L, 0x200, 5));
    }

    @Test
    void deviceFieldsAreValidated() {
        assertThrows(IllegalArgumentException.class,
                () -> new AcpiDevice("v000", "LNRO0005", 0, 0xD000_0000L, 0x1000, 5, Trigger.EDGE));
        assertThrows(IllegalArgumentException.class,
                () -> new AcpiDevice("V00", "LNRO0005", 0, 0xD000_0000L, 0x1000, 5, Trigger.EDGE));
        assertThrows(IllegalArgumentException.class,
                () -> new AcpiDevice("V000", "lnro0005", 0, 0xD000_0000L, 0x1000, 5, Trigger.EDGE));
        assertThrows(IllegalArgumentException.class,
                () -> new AcpiDevice("V000", "LNRO0005", -1, 0xD000_0000L, 0x1000, 5, Trigger.EDGE));
        assertThrows(IllegalArgumentException.class,
                () -> new AcpiDevice("V000", "LNRO0005", 0, 0xFFFF_F000L, 0x2000, 5, Trigger.EDGE));
        assertThrows(IllegalArgumentException.class,
                () -> new AcpiDevice("V000", "LNRO0005", 0, 0xD000_0000L, 0, 5, Trigger.EDGE));
        assertThrows(IllegalArgumentException.class,
                () -> new AcpiDevice("V000", "LNRO0005", 0, 0xD000_0000L, 0x1000, 24, Trigger.EDGE));
    }
}
