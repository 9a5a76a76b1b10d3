package dev.vessel.arch.x86.acpi;

import dev.vessel.arch.x86.acpi.aml.Aml;
import dev.vessel.arch.x86.acpi.aml.ResourceTemplate;
import java.nio.ByteBuffer;

/**
 * The Differentiated System Description Table (ACPI 6.5, 5.2.11.1): the AML namespace. It holds
 * {@code \_SB.COM1} (16550 UART), {@code \_SB.RTC_} (MC146818 CMOS clock), the configured
 * memory-mapped devices, and {@code \_S5} so the guest can power off. CPUs need no Processor
 * objects here: Linux brings them up from the MADT alone (acpi_parse_lapic).
 */
final class Dsdt {
    private Dsdt() {}

    static final String SIGNATURE = "DSDT";
    /** Revision 2 and later make AML integers 64 bits wide. */
    static final int REVISION = 2;

    static final String COM1_NAME = "COM1";
    static final String COM1_HID = "PNP0501";
    static final int COM1_PORT = 0x3F8;
    static final int COM1_PORT_COUNT = 8;
    static final int COM1_IRQ = 4;

    static final String RTC_NAME = "RTC_";
    static final String RTC_HID = "PNP0B00";
    static final int RTC_PORT = 0x70;
    static final int RTC_PORT_COUNT = 2;
    static final int RTC_IRQ = 8;

    static byte[] build(AcpiConfig config) {
        byte[][] devices = new byte[2 + config.devices().size()][];
        devices[0] = Aml.device(COM1_NAME,
                Aml.name("_HID", Aml.eisaId(COM1_HID)),
                Aml.name("_UID", Aml.integer(0)),
                Aml.name("_CRS", ResourceTemplate.of(
                        ResourceTemplate.io(COM1_PORT, COM1_PORT_COUNT),
                        ResourceTemplate.irqNoFlags(COM1_IRQ))));
        devices[1] = Aml.device(RTC_NAME,
                Aml.name("_HID", Aml.eisaId(RTC_HID)),
                Aml.name("_CRS", ResourceTemplate.of(
                        ResourceTemplate.io(RTC_PORT, RTC_PORT_COUNT),
                        ResourceTemplate.irqNoFlags(RTC_IRQ))));
        for (int i = 0; i < config.devices().size(); i++) {
            devices[2 + i] = device(config.devices().get(i));
        }
        // Linux evaluates \_S5 and writes its first element, SLP_TYP, to SLEEP_CONTROL_REG.
        byte[] s5 = Aml.name("\\_S5_", Aml.packageOf(Aml.integer(PowerPort.S5_SLEEP_TYPE), Aml.integer(0)));
        byte[] body = Aml.scope("\\_SB_", devices);

        ByteBuffer b = SdtHeader.allocate(SIGNATURE, SdtHeader.SIZE + body.length + s5.length, REVISION);
        b.put(SdtHeader.SIZE, body);
        b.put(SdtHeader.SIZE + body.length, s5);
        return SdtHeader.finish(b);
    }

    private static byte[] device(AcpiDevice d) {
        return Aml.device(d.name(),
                Aml.name("_HID", Aml.string(d.hid())),
                Aml.name("_UID", Aml.integer(d.uid())),
                Aml.name("_CRS", ResourceTemplate.of(
                        ResourceTemplate.memory32Fixed(d.mmioBase(), d.mmioLength()),
                        ResourceTemplate.interrupt(d.gsi(), d.trigger()))));
    }
}
