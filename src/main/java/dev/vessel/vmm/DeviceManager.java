package dev.vessel.vmm;

import dev.vessel.arch.x86.acpi.AcpiDevice;
import dev.vessel.devices.Bus;
import dev.vessel.devices.FdReadiness;
import dev.vessel.devices.virtio.VirtioDevice;
import dev.vessel.devices.virtio.mmio.VirtioMmioTransport;
import dev.vessel.kvm.KvmException;
import dev.vessel.kvm.VmFd;
import dev.vessel.memory.GuestMemory;
import dev.vessel.sys.ErrnoException;
import dev.vessel.sys.EventFd;
import dev.vessel.sys.Libc;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The VM's virtio-mmio devices: hands each one an MMIO window and an IOAPIC pin
 * ({@link MmioLayout}), puts it behind a transport on the MMIO bus with its own worker thread,
 * wires its queue notifications to ioeventfds and its interrupt to an irqfd, and describes it for
 * the DSDT. Devices know nothing of the platform; this is where they meet it. It owns all it made.
 */
final class DeviceManager implements AutoCloseable {
    /** How long closing waits for a device's worker to finish what it was doing. */
    private static final long WORKER_STOP_MILLIS = VirtioMmioTransport.RESET_TIMEOUT.toMillis();

    private final VmFd vmFd;
    private final GuestMemory memory;
    private final Bus mmio;
    private final EventLoop events;
    private final List<Attached> attached = new ArrayList<>();
    private final List<EventFd> kicks = new ArrayList<>();
    private final List<KvmInterruptLine> interrupts = new ArrayList<>();

    /** A device, its transport and its worker. */
    record Attached(String name, VirtioDevice device, VirtioMmioTransport transport, ExecutorService worker,
                    AcpiDevice acpi) {}

    DeviceManager(VmFd vmFd, GuestMemory memory, Bus mmio, EventLoop events) {
        this.vmFd = vmFd;
        this.memory = memory;
        this.mmio = mmio;
        this.events = events;
    }

    /** Attaches {@code device} in the next free window; {@code name} ("blk0", "vsock") names its thread. */
    Attached add(String name, VirtioDevice device) throws KvmException {
        ExecutorService worker = VirtioMmioTransport.newWorker("virtio-" + name);
        return add(name, device, worker, events);
    }

    /** Makes a device that watches host descriptors through the {@link FdReadiness} it is given. */
    @FunctionalInterface
    interface PolledDeviceFactory {
        VirtioDevice create(FdReadiness readiness) throws IOException;
    }

    /**
     * Attaches a device whose work is driven by host descriptors of its own (virtio-net: its TAP):
     * its worker is an event loop of its own that waits on them and on its queue kicks, so a frame
     * or a kick reaches the device's code on the thread that saw it, with no hand-over from the
     * VM's event loop to a worker. {@code factory} gets that loop's {@link FdReadiness}.
     */
    Attached addPolled(String name, PolledDeviceFactory factory) throws IOException, KvmException {
        if (attached.size() >= MmioLayout.maxDevices()) {
            throw new KvmException("at most " + MmioLayout.maxDevices() + " virtio devices per VM");
        }
        EventLoop loop;
        try {
            loop = new EventLoop("virtio-" + name, failureOf(name));
        } catch (ErrnoException e) {
            throw new IOException("cannot make the event loop of virtio-" + name + ": " + e.getMessage(), e);
        }
        loop.start();
        DeviceLoop worker = new DeviceLoop(loop);
        VirtioDevice device;
        try {
            device = factory.create(new LoopReadiness(loop, failureOf(name)));
        } catch (IOException | RuntimeException e) {
            worker.shutdownNow();
            throw e;
        }
        return add(name, device, worker, loop);
    }

    /** The owner of watches of the device to be attached under {@code name}: its failure fails that device alone. */
    private EventLoop.Owner failureOf(String name) {
        return new EventLoop.Owner("virtio-" + name, failure -> {
            for (Attached a : attached) {
                if (a.name().equals(name)) {
                    a.transport().failDevice("its host descriptor's handler failed in the VMM: " + failure);
                }
            }
        });
    }

    private Attached add(String name, VirtioDevice device, ExecutorService worker, EventLoop kickLoop) throws KvmException {
        int index = attached.size();
        if (index >= MmioLayout.maxDevices()) {
            worker.shutdownNow();
            closeIfCloseable(device);
            throw new KvmException("at most " + MmioLayout.maxDevices() + " virtio devices per VM");
        }
        long base = MmioLayout.base(index);
        int gsi = MmioLayout.gsi(index);
        KvmInterruptLine irq;
        try {
            irq = new KvmInterruptLine(vmFd, gsi);
        } catch (KvmException e) {
            worker.shutdownNow();
            closeIfCloseable(device);
            throw e;
        }
        interrupts.add(irq);
        VirtioMmioTransport t = new VirtioMmioTransport(device, memory, base, irq, worker);
        Attached a = new Attached(name, device, t, worker,
                AcpiDevice.virtioMmio(index, base, VirtioMmioTransport.WINDOW_SIZE, gsi));
        attached.add(a);
        t.register(mmio, "virtio-" + name);
        wireQueueNotifications(name, t, kickLoop);
        return a;
    }

    /**
     * One ioeventfd per queue on the QueueNotify register (datamatch = queue index): a guest kick
     * completes inside KVM, without a VM exit to Java; the event loop hands it to the device. The
     * device owns those watches: should one's handler fail, that device alone fails
     * (DEVICE_NEEDS_RESET) and the loop goes on serving the others.
     */
    private void wireQueueNotifications(String name, VirtioMmioTransport t, EventLoop loop) throws KvmException {
        EventLoop.Owner owner = new EventLoop.Owner("virtio-" + name,
                failure -> t.failDevice("its queue notification failed in the VMM: " + failure));
        for (int q = 0; q < t.device().queueCount(); q++) {
            int queue = q;
            try {
                EventFd kick = new EventFd(Libc.EFD_NONBLOCK);
                kicks.add(kick);
                vmFd.registerIoEventFd(kick.fd(), t.notifyAddress(), 4, false, (long) queue);
                loop.addEventFd(kick, () -> t.onQueueNotify(queue), owner);
            } catch (ErrnoException e) {
                throw new KvmException("cannot wire queue " + queue + " of " + t + ": " + e.getMessage(), e);
            }
        }
    }

    List<Attached> attached() {
        return attached;
    }

    List<AcpiDevice> acpiDevices() {
        return attached.stream().map(Attached::acpi).toList();
    }

    /** The first attached device of {@code type}, or null. */
    <T> T find(Class<T> type) {
        for (Attached a : attached) {
            if (type.isInstance(a.device())) {
                return type.cast(a.device());
            }
        }
        return null;
    }

    /** Every attached device of {@code type}, in the order they were attached. */
    <T> List<T> findAll(Class<T> type) {
        List<T> out = new ArrayList<>();
        for (Attached a : attached) {
            if (type.isInstance(a.device())) {
                out.add(type.cast(a.device()));
            }
        }
        return out;
    }

    /**
     * Quiets every device (a reset on its worker: a last flush reaches its disk), stops the workers
     * and closes the devices' host sides. Call once the vCPUs are out of the guest; the event loop
     * may still run (kicks to a closed transport are ignored).
     */
    void quiesce() {
        for (Attached a : attached) {
            a.transport().close();
        }
        for (Attached a : attached) {
            a.worker().shutdown();
        }
        for (Attached a : attached) {
            try {
                if (!a.worker().awaitTermination(WORKER_STOP_MILLIS, TimeUnit.MILLISECONDS)) {
                    a.worker().shutdownNow();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                a.worker().shutdownNow();
            }
            closeIfCloseable(a.device());
        }
    }

    /** Closes the eventfds; after {@link #quiesce} and after the event loop stopped watching them. */
    @Override
    public void close() {
        for (EventFd k : kicks) {
            closeQuietly(k);
        }
        kicks.clear();
        for (KvmInterruptLine i : interrupts) {
            i.close();
        }
        interrupts.clear();
    }

    private static void closeIfCloseable(Object device) {
        if (device instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception e) {
                System.getLogger(DeviceManager.class.getName()).log(System.Logger.Level.WARNING,
                        "closing " + device + ": " + e);
            }
        }
    }

    private static void closeQuietly(EventFd fd) {
        try {
            fd.close();
        } catch (ErrnoException ignored) {
            // a close of an eventfd cannot lose data
        }
    }
}
