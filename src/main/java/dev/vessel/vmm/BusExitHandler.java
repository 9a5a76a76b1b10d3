package dev.vessel.vmm;

import dev.vessel.devices.Bus;
import dev.vessel.kvm.KvmRun;

/**
 * Hands port-I/O and MMIO exits to the buses: the value the guest wrote from the kvm_run page to
 * the device, or the device's answer back into the page. The hot path of a VMM (every UART byte,
 * every virtio register access): no lock and no allocation here, nor in the frozen buses.
 */
final class BusExitHandler {
    /** VESSEL_TRACE_IO=1 logs every port access to stderr: for debugging guests, costly otherwise. */
    private static final boolean TRACE_IO = System.getenv("VESSEL_TRACE_IO") != null;

    private final Bus pio;
    private final Bus mmio;
    private final int vcpuId;

    BusExitHandler(Bus pio, Bus mmio, int vcpuId) {
        this.pio = pio;
        this.mmio = mmio;
        this.vcpuId = vcpuId;
    }

    /** KVM_EXIT_IO: one access, or {@code count} of them for a string instruction (INS/OUTS). */
    void handleIo(KvmRun run) {
        int size = run.ioSize();
        if (size != 1 && size != 2 && size != 4) {
            return;
        }
        int port = run.ioPort();
        long count = Integer.toUnsignedLong(run.ioCount());
        boolean out = run.ioDirection() == KvmRun.IO_OUT;
        for (long i = 0; i < count; i++) {
            if (out) {
                long v = run.ioValue(i);
                if (TRACE_IO) {
                    trace("out", port, size, "<-", v);
                }
                pio.write(port, size, v);
            } else {
                long v = pio.read(port, size);
                if (TRACE_IO) {
                    trace("in", port, size, "->", v);
                }
                run.setIoValue(i, v);
            }
        }
    }

    /** KVM_EXIT_MMIO: one access of 1, 2, 4 or 8 bytes. */
    void handleMmio(KvmRun run) {
        int len = run.mmioLength();
        if (len != 1 && len != 2 && len != 4 && len != 8) {
            return;
        }
        if (run.mmioIsWrite()) {
            mmio.write(run.mmioAddress(), len, run.mmioValue());
        } else {
            run.setMmioValue(mmio.read(run.mmioAddress(), len));
        }
    }

    private void trace(String what, int port, int size, String arrow, long value) {
        System.err.printf("vcpu%d %s 0x%x/%d %s 0x%x%n", vcpuId, what, port, size, arrow, value);
    }
}
