package dev.vessel.vmm;

import dev.vessel.devices.InterruptLine;
import dev.vessel.kvm.KvmException;
import dev.vessel.kvm.VmFd;
import dev.vessel.sys.ErrnoException;
import dev.vessel.sys.EventFd;

/**
 * A GSI of the in-kernel IOAPIC/PIC. Edges go through an irqfd: one eventfd write, and KVM
 * injects without the VMM taking the irqchip lock path of KVM_IRQ_LINE.
 */
final class KvmInterruptLine implements InterruptLine, AutoCloseable {
    private final VmFd vm;
    private final int gsi;
    private final EventFd eventFd;

    KvmInterruptLine(VmFd vm, int gsi) throws KvmException {
        this.vm = vm;
        this.gsi = gsi;
        try {
            this.eventFd = new EventFd(0);
        } catch (ErrnoException e) {
            throw new KvmException("cannot create an eventfd for GSI " + gsi + ": " + e.getMessage(), e);
        }
        vm.registerIrqFd(eventFd.fd(), gsi);
    }

    @Override
    public void trigger() {
        try {
            eventFd.signal();
        } catch (ErrnoException e) {
            throw new IllegalStateException("irqfd for GSI " + gsi + " failed: " + e.getMessage(), e);
        }
    }

    @Override
    public void setLevel(boolean high) {
        try {
            vm.irqLine(gsi, high);
        } catch (ErrnoException e) {
            throw new IllegalStateException("KVM_IRQ_LINE for GSI " + gsi + " failed: " + e.getMessage(), e);
        }
    }

    /** Closes the eventfd; KVM drops the irqfd with it (or with the VM). */
    @Override
    public void close() {
        try {
            eventFd.close();
        } catch (ErrnoException ignored) {
            // nothing to recover
        }
    }
}
