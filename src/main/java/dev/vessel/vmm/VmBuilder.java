package dev.vessel.vmm;

import dev.vessel.arch.x86.BootImageException;
import dev.vessel.arch.x86.BootLayout;
import dev.vessel.arch.x86.CpuSetup;
import dev.vessel.arch.x86.CpuidConfig;
import dev.vessel.arch.x86.LinuxLoader;
import dev.vessel.arch.x86.acpi.AcpiConfig;
import dev.vessel.arch.x86.acpi.AcpiDevice;
import dev.vessel.devices.virtio.mmio.VirtioMmioTransport;
import dev.vessel.sys.EventFd;
import dev.vessel.sys.Libc;
import dev.vessel.arch.x86.acpi.AcpiTables;
import dev.vessel.arch.x86.acpi.PowerPort;
import dev.vessel.devices.legacy.i8042.I8042Controller;
import dev.vessel.devices.legacy.rtc.CmosRtc;
import dev.vessel.devices.legacy.serial.Uart16550;
import dev.vessel.devices.power.AcpiPowerDevice;
import dev.vessel.kvm.CpuidEntry;
import dev.vessel.kvm.Kvm;
import dev.vessel.kvm.KvmException;
import dev.vessel.kvm.VcpuFd;
import dev.vessel.kvm.VmFd;
import dev.vessel.memory.GuestMemory;
import dev.vessel.memory.GuestMemoryException;
import dev.vessel.memory.MemoryRegion;
import dev.vessel.sys.ErrnoException;

import java.io.IOException;
import java.io.OutputStream;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;

/** Assembles a VM from a {@link VmConfig}: KVM objects, memory, devices, ACPI, kernel, vCPUs. */
public final class VmBuilder {
    /** Three pages Intel VMX needs for real-mode emulation, and its identity map page: in the MMIO hole. */
    static final long TSS_ADDRESS = 0xFFFB_D000L;
    static final long IDENTITY_MAP_ADDRESS = 0xFFFB_C000L;

    private VmBuilder() {}

    /** Builds and starts the VM; its console goes to {@code consoleOut}. */
    public static RunningVm start(VmConfig config, OutputStream consoleOut) throws KvmException, BootImageException, IOException {
        Kvm kvm = Kvm.open();
        try {
            int max = kvm.maxVcpus();
            if (config.cpus() > max) {
                throw new BootImageException("--cpus " + config.cpus() + " is more than this host's KVM allows (" + max + ")");
            }
        } catch (ErrnoException e) {
            throw new KvmException("KVM_CHECK_EXTENSION failed: " + e.getMessage(), e);
        }
        VmFd vmFd = kvm.createVm();
        vmFd.setTssAddress(TSS_ADDRESS);
        vmFd.setIdentityMapAddress(IDENTITY_MAP_ADDRESS);
        vmFd.createIrqchip();
        vmFd.createPit2();

        GuestMemory memory;
        try {
            memory = GuestMemory.allocate(config.memoryBytes());
        } catch (ErrnoException e) {
            throw new KvmException("cannot reserve " + (config.memoryBytes() >> 20) + " MiB of guest memory: " + e.getMessage(), e);
        }
        int slot = 0;
        for (MemoryRegion r : memory.regions()) {
            vmFd.setUserMemoryRegion(slot++, r.guestAddress(), r.size(), r.host().address(), false);
        }

        Vm vm = new Vm();
        Uart16550 com1 = new Uart16550(new KvmInterruptLine(vmFd, Uart16550.COM1_IRQ), consoleOut);
        vm.pio().register(Uart16550.COM1_BASE, Uart16550.PORT_COUNT, "COM1", com1);
        new I8042Controller(() -> vm.stop(VmExit.REBOOT, "guest reset through the keyboard controller")).attach(vm.pio());
        CmosRtc rtc = new CmosRtc(Clock.systemUTC(), new KvmInterruptLine(vmFd, CmosRtc.IRQ));
        vm.pio().register(CmosRtc.BASE_PORT, CmosRtc.PORT_COUNT, "RTC", rtc);
        vm.pio().register(PowerPort.DEFAULT_PORT, 1, "ACPI power", new AcpiPowerDevice(
                () -> vm.stop(VmExit.POWER_OFF, "guest powered off"),
                () -> vm.stop(VmExit.REBOOT, "guest requested a reset")));

        EventLoop events;
        try {
            events = new EventLoop("vm-events");
        } catch (ErrnoException e) {
            throw new KvmException("cannot create the VM's event loop: " + e.getMessage(), e);
        }
        List<AcpiDevice> acpiDevices = new ArrayList<>();
        List<VirtioMmioTransport> transports = new ArrayList<>();
        List<java.util.concurrent.ExecutorService> workers = new ArrayList<>();
        List<VirtioDevices.Named> virtio = VirtioDevices.create(new VirtioDevices.Host(config, consoleOut));
        for (int i = 0; i < virtio.size(); i++) {
            VirtioDevices.Named d = virtio.get(i);
            int gsi = MmioLayout.gsi(i);
            java.util.concurrent.ExecutorService worker = VirtioMmioTransport.newWorker("virtio-" + d.name());
            workers.add(worker);
            VirtioMmioTransport t = new VirtioMmioTransport(d.device(), memory, MmioLayout.base(i),
                    new KvmInterruptLine(vmFd, gsi), worker);
            t.register(vm.mmio(), "virtio-" + d.name());
            wireQueueNotifications(vmFd, events, t);
            acpiDevices.add(t.acpiDevice(i, gsi));
            transports.add(t);
        }
        events.start();

        AcpiTables acpi = AcpiTables.build(new AcpiConfig(config.cpus(), acpiDevices), BootLayout.ACPI_TABLES);
        if (acpi.image().length > BootLayout.ACPI_TABLES_END - BootLayout.ACPI_TABLES) {
            throw new IllegalStateException("ACPI tables do not fit below 1 MiB");
        }
        try {
            memory.write(BootLayout.ACPI_TABLES, acpi.image());
        } catch (GuestMemoryException e) {
            throw new BootImageException("guest memory cannot hold the ACPI tables: " + e.getMessage());
        }
        LinuxLoader.BootEntry entry = LinuxLoader.load(memory, config.kernel(), config.initrd(), config.cmdline(),
                acpi.rsdpAddress());

        List<CpuidEntry> cpuid = kvm.supportedCpuid();
        List<Thread> threads = new ArrayList<>();
        List<Vcpu> vcpus = new ArrayList<>();
        for (int i = 0; i < config.cpus(); i++) {
            VcpuFd fd = vmFd.createVcpu(i);
            fd.setCpuid(CpuidConfig.forVcpu(cpuid, i, config.cpus()));
            CpuSetup.configureCommon(fd);
            if (i == 0) {
                CpuSetup.configureBootCpu(fd, entry);
            }
            Vcpu vcpu = new Vcpu(fd, vm.pio(), vm.mmio(), vm);
            vcpus.add(vcpu);
            // Platform threads: KVM_RUN blocks in the kernel for as long as the guest runs.
            threads.add(Thread.ofPlatform().name("vcpu-" + i).daemon(true).unstarted(vcpu));
        }
        threads.forEach(Thread::start);
        dev.vessel.devices.virtio.console.VirtioConsole virtioConsole = virtio.stream()
                .map(VirtioDevices.Named::device)
                .filter(d -> d instanceof dev.vessel.devices.virtio.console.VirtioConsole)
                .map(d -> (dev.vessel.devices.virtio.console.VirtioConsole) d)
                .findFirst().orElse(null);
        return new RunningVm(vm, com1, virtioConsole, rtc, memory, vcpus, transports, workers);
    }

    /**
     * One ioeventfd per queue on the QueueNotify register (datamatch = queue index): a guest kick
     * completes inside KVM, without a VM exit to Java; the event loop hands it to the device.
     */
    private static void wireQueueNotifications(VmFd vmFd, EventLoop events, VirtioMmioTransport t) throws KvmException {
        for (int q = 0; q < t.device().queueCount(); q++) {
            int queue = q;
            try {
                EventFd kick = new EventFd(Libc.EFD_NONBLOCK);
                vmFd.registerIoEventFd(kick.fd(), t.notifyAddress(), 4, false, (long) queue);
                events.addEventFd(kick, () -> t.onQueueNotify(queue));
            } catch (ErrnoException e) {
                throw new KvmException("cannot wire queue " + queue + " of " + t + ": " + e.getMessage(), e);
            }
        }
    }
}
