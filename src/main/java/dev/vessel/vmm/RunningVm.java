package dev.vessel.vmm;

import dev.vessel.devices.legacy.rtc.CmosRtc;
import dev.vessel.devices.legacy.serial.Uart16550;
import dev.vessel.devices.virtio.mmio.VirtioMmioTransport;
import dev.vessel.memory.GuestMemory;

import java.util.List;

/** A booted VM: wait for it to end, feed its console. */
public final class RunningVm {
    private final Vm vm;
    private final Uart16550 uart;
    private final dev.vessel.devices.virtio.console.VirtioConsole virtioConsole;
    private final CmosRtc rtc;
    private final GuestMemory memory;
    private final List<Vcpu> vcpus;
    private final List<VirtioMmioTransport> virtio;
    private final List<java.util.concurrent.ExecutorService> workers;

    RunningVm(Vm vm, Uart16550 uart, dev.vessel.devices.virtio.console.VirtioConsole virtioConsole, CmosRtc rtc, GuestMemory memory, List<Vcpu> vcpus,
              List<VirtioMmioTransport> virtio, List<java.util.concurrent.ExecutorService> workers) {
        this.virtio = virtio;
        this.workers = workers;
        this.vm = vm;
        this.uart = uart;
        this.virtioConsole = virtioConsole;
        this.rtc = rtc;
        this.memory = memory;
        this.vcpus = vcpus;
    }

    /** The guest's console, to send host input to: virtio-console port 0 (hvc0) if the VM has one, else the UART. */
    public dev.vessel.devices.ConsoleSink console() {
        return virtioConsole != null ? virtioConsole.console() : uart;
    }

    /** Tells the guest the host terminal's size (virtio-console only; a UART has no such notion). */
    public void resizeConsole(int cols, int rows) {
        if (virtioConsole != null) {
            virtioConsole.resize(cols, rows);
        }
    }

    /** Blocks until the guest powers off, resets, faults or is stopped. */
    public VmExit awaitExit() throws InterruptedException {
        VmExit exit = vm.awaitExit();
        uart.flush();
        rtc.close();
        // Devices finish their work (a last flush to a disk) before the process reports the exit.
        // Guest memory stays mapped until the process exits, so closing after the vCPUs stopped is safe.
        virtio.forEach(VirtioMmioTransport::close);
        workers.forEach(java.util.concurrent.ExecutorService::shutdown);
        return exit;
    }

    /** Stops the VM from the host side (a signal, the console escape). */
    public void stop(VmExit how, String why) {
        vm.stop(how, why);
    }

    public String exitReason() {
        return vm.exitReason();
    }

    /** VM exits handled so far, summed over vCPUs (approximate while running). */
    public long exits() {
        return vcpus.stream().mapToLong(Vcpu::exits).sum();
    }

    GuestMemory memory() {
        return memory;
    }
}
