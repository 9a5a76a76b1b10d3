package dev.vessel.arch.x86.acpi;

import java.nio.ByteBuffer;

/**
 * The Multiple APIC Description Table (signature APIC; ACPI 6.5, 5.2.12), the only place a
 * kernel built without MP-table parsing learns about CPUs: one enabled Processor Local APIC entry
 * per vCPU (ACPI processor UID = APIC ID = vCPU index), then KVM's in-kernel IOAPIC.
 *
 * <p>There is no Interrupt Source Override: a PC maps ISA IRQ 0 to GSI 2 because its PIT is wired
 * to IOAPIC pin 2, but KVM's default GSI routing (the VMM installs no other) connects the
 * in-kernel PIT to pin 0, so every ISA IRQ is identity-mapped, which is what the MADT means when
 * it lists no override.
 */
final class Madt {
    private Madt() {}

    static final String SIGNATURE = "APIC";
    /** Revision 5 (ACPI 6.3 and later): Local APIC flags may carry "online capable". */
    static final int REVISION = 5;
    static final int OFF_LOCAL_APIC_ADDRESS = 36;
    static final int OFF_FLAGS = 40;
    static final int OFF_ENTRIES = 44;

    static final long LOCAL_APIC_ADDRESS = 0xFEE0_0000L;
    /** Flags: the platform also has dual 8259 PICs, which KVM_CREATE_IRQCHIP does create. */
    static final int PCAT_COMPAT = 1;

    static final int TYPE_LOCAL_APIC = 0;
    static final int LOCAL_APIC_LENGTH = 8;
    static final int LOCAL_APIC_ENABLED = 1;

    static final int TYPE_IO_APIC = 1;
    static final int IO_APIC_LENGTH = 12;
    /**
     * KVM's in-kernel IOAPIC resets its ID register to 0; IOAPIC IDs need only be unique among
     * IOAPICs (xAPIC delivers on the system bus, not the APIC bus), so 0 matches the hardware.
     */
    static final int IO_APIC_ID = 0;
    static final long IO_APIC_ADDRESS = 0xFEC0_0000L;
    static final int IO_APIC_GSI_BASE = 0;

    static int length(int cpus) {
        return OFF_ENTRIES + LOCAL_APIC_LENGTH * cpus + IO_APIC_LENGTH;
    }

    static byte[] build(int cpus) {
        ByteBuffer b = SdtHeader.allocate(SIGNATURE, length(cpus), REVISION);
        b.putInt(OFF_LOCAL_APIC_ADDRESS, (int) LOCAL_APIC_ADDRESS);
        b.putInt(OFF_FLAGS, PCAT_COMPAT);
        int o = OFF_ENTRIES;
        for (int cpu = 0; cpu < cpus; cpu++) {
            b.put(o, (byte) TYPE_LOCAL_APIC);
            b.put(o + 1, (byte) LOCAL_APIC_LENGTH);
            b.put(o + 2, (byte) cpu); // ACPI processor UID
            b.put(o + 3, (byte) cpu); // APIC ID
            b.putInt(o + 4, LOCAL_APIC_ENABLED);
            o += LOCAL_APIC_LENGTH;
        }
        b.put(o, (byte) TYPE_IO_APIC);
        b.put(o + 1, (byte) IO_APIC_LENGTH);
        b.put(o + 2, (byte) IO_APIC_ID);
        b.putInt(o + 4, (int) IO_APIC_ADDRESS);
        b.putInt(o + 8, IO_APIC_GSI_BASE);
        return SdtHeader.finish(b);
    }
}
