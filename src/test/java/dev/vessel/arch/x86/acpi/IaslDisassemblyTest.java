package dev.vessel.arch.x86.acpi;

import static java.util.concurrent.TimeUnit.SECONDS;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Has ACPICA's own disassembler (iasl, from the acpica-tools package) read the tables: it must
 * find the devices, resources and fields we meant, and no bad checksum. Fails, rather than
 * skips, when iasl is missing, so an environment without it cannot pass unchecked.
 */
class IaslDisassemblyTest {
    @TempDir
    Path dir;

    private static final AcpiConfig CONFIG = new AcpiConfig(4, List.of(
            AcpiDevice.virtioMmio(0, 0xD000_0000L, 0x1000, 5),
            new AcpiDevice("VBLK", AcpiDevice.VIRTIO_MMIO_HID, 1, 0xD000_1000L, 0x200, 6,
                    dev.vessel.arch.x86.acpi.aml.ResourceTemplate.Trigger.LEVEL)));

    private static String iasl() {
        for (String d : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path p = Path.of(d, "iasl");
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return fail("iasl not found on PATH: install acpica-tools (apt-get install -y acpica-tools); "
                + "this test checks the ACPI tables with ACPICA's disassembler");
    }

    /** Runs {@code iasl args} in the temp dir and returns its output, failing on a non-zero exit. */
    private String run(String... args) throws Exception {
        List<String> command = new java.util.ArrayList<>(List.of(iasl()));
        command.addAll(List.of(args));
        Process p = new ProcessBuilder(command).directory(dir.toFile()).redirectErrorStream(true).start();
        String log = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, SECONDS), "iasl timed out");
        assertEquals(0, p.exitValue(), "iasl " + String.join(" ", args) + " failed:\n" + log);
        return log;
    }

    private String disassemble(String name, byte[] table) throws Exception {
        Files.write(dir.resolve(name + ".dat"), table);
        run("-d", name + ".dat");
        String dsl = Files.readString(dir.resolve(name + ".dsl"));
        assertFalse(dsl.contains("Incorrect checksum"), dsl);
        return dsl;
    }

    /** ASL without comments, whitespace collapsed and none before a closing parenthesis. */
    private static String normalize(String asl) {
        String noComments = asl.replaceAll("(?s)/\\*.*?\\*/", " ").replaceAll("//[^\\n]*", " ");
        return noComments.replaceAll("\\s+", " ").replace(" )", ")");
    }

    @Test
    void dsdtHasTheDevicesAndTheirResources() throws Exception {
        String asl = normalize(disassemble("dsdt", Dsdt.build(CONFIG)));
        assertContains(asl, "DefinitionBlock (\"\", \"DSDT\", 2, \"VESSEL\", \"VESSELVM\", 0x00000001)");
        assertContains(asl, "Scope (\\_SB) { Device (COM1) {"
                + " Name (_HID, EisaId (\"PNP0501\"))"
                + " Name (_UID, Zero)"
                + " Name (_CRS, ResourceTemplate () { IO (Decode16, 0x03F8, 0x03F8, 0x01, 0x08,) IRQNoFlags () {4} })"
                + " }");
        assertContains(asl, "Device (RTC) {"
                + " Name (_HID, EisaId (\"PNP0B00\"))"
                + " Name (_CRS, ResourceTemplate () { IO (Decode16, 0x0070, 0x0070, 0x01, 0x02,) IRQNoFlags () {8} })"
                + " }");
        assertContains(asl, "Device (V000) {"
                + " Name (_HID, \"LNRO0005\")"
                + " Name (_UID, Zero)"
                + " Name (_CRS, ResourceTemplate () { Memory32Fixed (ReadWrite, 0xD0000000, 0x00001000,)"
                + " Interrupt (ResourceConsumer, Edge, ActiveHigh, Exclusive, ,,) { 0x00000005, } })"
                + " }");
        assertContains(asl, "Device (VBLK) {"
                + " Name (_HID, \"LNRO0005\")"
                + " Name (_UID, One)"
                + " Name (_CRS, ResourceTemplate () { Memory32Fixed (ReadWrite, 0xD0001000, 0x00000200,)"
                + " Interrupt (ResourceConsumer, Level, ActiveHigh, Exclusive, ,,) { 0x00000006, } })"
                + " }");
        assertContains(asl, "Name (\\_S5, Package (0x02) { 0x05, Zero })");
        // The disassembly is valid ASL: iasl compiles it back.
        run("-p", "recompiled", "dsdt.dsl");
    }

    @Test
    void fadtFieldsDecodeAsIntended() throws Exception {
        String dsl = disassemble("facp", Fadt.build(0x600, 0xE0200));
        assertField(dsl, "Revision", "06");
        assertField(dsl, "FADT Minor Revision", "04");
        assertField(dsl, "Hardware Reduced \\(V5\\)", "1");
        assertField(dsl, "Reset Register Supported \\(V2\\)", "1");
        assertField(dsl, "8042 Present on ports 60/64 \\(V2\\)", "0");
        assertField(dsl, "VGA Not Present \\(V4\\)", "1");
        assertField(dsl, "CMOS RTC Not Present \\(V5\\)", "0");
        assertField(dsl, "Value to cause reset", "01");
        assertField(dsl, "DSDT Address", "00000000000E0200");
        Matcher ports = Pattern.compile("Space ID : 01 \\[SystemIO\\]\\s+.*Bit Width : 08\\s+.*Bit Offset : 00\\s+"
                + ".*Encoded Access Width : 01 \\[Byte Access:8\\]\\s+.*Address : 0000000000000600").matcher(dsl);
        int count = 0;
        while (ports.find()) {
            count++;
        }
        assertEquals(3, count, "RESET_REG, SLEEP_CONTROL_REG and SLEEP_STATUS_REG at port 0x600:\n" + dsl);
    }

    @Test
    void madtDecodesAsIntended() throws Exception {
        String dsl = disassemble("apic", Madt.build(4));
        assertField(dsl, "Local Apic Address", "FEE00000");
        assertEquals(4, Pattern.compile("Subtable Type : 00 \\[Processor Local APIC\\]").matcher(dsl).results().count());
        for (int i = 0; i < 4; i++) {
            assertTrue(Pattern.compile("Processor ID : 0" + i + "\\s+.*Local Apic ID : 0" + i
                    + "\\s+.*Flags \\(decoded below\\) : 00000001").matcher(dsl).find(), "CPU " + i + ":\n" + dsl);
        }
        assertField(dsl, "Subtable Type", "01 \\[I/O APIC\\]");
        assertField(dsl, "I/O Apic ID", "00");
        assertField(dsl, "Address", "FEC00000");
        assertField(dsl, "Interrupt", "00000000");
    }

    @Test
    void xsdtDecodesAsIntended() throws Exception {
        String dsl = disassemble("xsdt", Xsdt.build(0xE0070L, 0xE0190L));
        assertField(dsl, "ACPI Table Address   0", "00000000000E0070");
        assertField(dsl, "ACPI Table Address   1", "00000000000E0190");
    }

    private static void assertContains(String text, String expected) {
        assertTrue(text.contains(expected), "missing:\n" + expected + "\nin:\n" + text);
    }

    /**
     * Asserts a line of iasl's data-table dump, {@code [offset] label : value}, or of a decoded
     * flag, {@code label : value}.
     */
    private static void assertField(String dsl, String labelRegex, String valueRegex) {
        Pattern line = Pattern.compile("(?m)^(\\[[^]]*\\])?\\s*" + labelRegex + " : " + valueRegex + "(?![0-9A-F])");
        assertTrue(line.matcher(dsl).find(),
                labelRegex + " : " + valueRegex + " not found in:\n" + dsl);
    }
}
