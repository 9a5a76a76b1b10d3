package dev.vessel.vmm;

import dev.vessel.devices.Bus;

import java.util.concurrent.CountDownLatch;

/** A running micro-VM: its vCPU threads and how it ended. */
public final class Vm {
    private final Bus pio = new Bus("port I/O");
    private final Bus mmio = new Bus("MMIO");
    private final CountDownLatch stopped = new CountDownLatch(1);
    private volatile VmExit exit;
    private volatile String reason;

    Bus pio() {
        return pio;
    }

    Bus mmio() {
        return mmio;
    }

    boolean isStopped() {
        return exit != null;
    }

    /** Records the first reason the VM stopped; later ones are ignored. */
    synchronized void stop(VmExit how, String why) {
        if (exit == null) {
            reason = why;
            exit = how;
            stopped.countDown();
        }
    }

    /** Blocks until the VM stops. */
    public VmExit awaitExit() throws InterruptedException {
        stopped.await();
        return exit;
    }

    public String exitReason() {
        return reason;
    }
}
