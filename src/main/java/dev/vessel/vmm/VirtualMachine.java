package dev.vessel.vmm;

import dev.vessel.arch.x86.BootImageException;
import dev.vessel.arch.x86.BootLayout;
import dev.vessel.arch.x86.CpuSetup;
import dev.vessel.arch.x86.CpuidConfig;
import dev.vessel.arch.x86.LinuxLoader;
import dev.vessel.arch.x86.acpi.AcpiConfig;
import dev.vessel.arch.x86.acpi.AcpiTables;
import dev.vessel.arch.x86.acpi.PowerPort;
import dev.vessel.devices.Bus;
import dev.vessel.devices.ConsoleSink;
import dev.vessel.devices.legacy.i8042.I8042Controller;
import dev.vessel.devices.legacy.rtc.CmosRtc;
import dev.vessel.devices.legacy.serial.Uart16550;
import dev.vessel.devices.power.AcpiPowerDevice;
import dev.vessel.devices.virtio.balloon.VirtioBalloon;
import dev.vessel.devices.virtio.blk.VirtioBlkDevice;
import dev.vessel.devices.virtio.console.VirtioConsole;
import dev.vessel.devices.virtio.net.VirtioNet;
import dev.vessel.devices.virtio.rng.VirtioRng;
import dev.vessel.devices.virtio.vsock.VirtioVsock;
import dev.vessel.devices.virtio.vsock.VsockUplink;
import dev.vessel.kvm.CpuidEntry;
import dev.vessel.kvm.Kvm;
import dev.vessel.kvm.KvmException;
import dev.vessel.kvm.VcpuFd;
import dev.vessel.kvm.VmFd;
import dev.vessel.memory.GuestMemory;
import dev.vessel.memory.GuestMemoryException;
import dev.vessel.memory.MemoryRegion;
import dev.vessel.sys.ErrnoException;
import dev.vessel.vmm.control.ControlServer;
import dev.vessel.vmm.control.ControlledVm;

import java.io.IOException;
import java.io.OutputStream;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * A micro-VM: the one owner of its KVM file descriptors, guest memory, devices and threads.
 *
 * <pre>{@code
 * try (VirtualMachine vm = VirtualMachine.create(config, System.out)) {
 *     vm.start();
 *     ExitResult how = vm.awaitExit();   // the guest powered off, rebooted, faulted... or stop() was called
 * }                                      // close(): every fd, mapping and thread is released
 * }</pre>
 *
 * <p>Life cycle: {@link #create} builds the VM (KVM objects, memory, devices, ACPI tables, the
 * kernel loaded, vCPUs made but not running) → {@link #start} runs the vCPUs → {@link #pause} /
 * {@link #resume} hold and release them (devices keep serving what is in flight) → the guest ends
 * the VM, or {@link #stop} does → {@link #awaitExit} tells how → {@link #close} releases
 * everything. Every method is safe from any thread; several VMs may run in one JVM.
 */
public final class VirtualMachine implements AutoCloseable {
    /** Three pages Intel VMX needs for real-mode emulation, and its identity map page: in the MMIO hole. */
    static final long TSS_ADDRESS = 0xFFFB_D000L;
    static final long IDENTITY_MAP_ADDRESS = 0xFFFB_C000L;
    /** Bound on waiting for vCPUs to leave the guest (pause, close); under nested emulation a kick takes milliseconds. */
    static final Duration VCPU_STOP_TIMEOUT = Duration.ofSeconds(10);

    /** Where a VM is in its life. */
    public enum State { CREATED, RUNNING, PAUSED, EXITED, CLOSED }

    private final VmConfig config;
    private final Bus pio = new Bus("port I/O");
    private final Bus mmio = new Bus("MMIO");
    private final CountDownLatch exited = new CountDownLatch(1);
    private final Object gate = new Object();
    private final List<Vcpu> vcpus = new ArrayList<>();
    private final List<VcpuFd> vcpuFds = new ArrayList<>();
    private final List<Thread> vcpuThreads = new ArrayList<>();
    private final List<KvmInterruptLine> legacyIrqs = new ArrayList<>();

    private volatile ExitResult result;
    private volatile boolean pauseRequested;
    /** vCPUs parked in {@link #parkWhilePaused}; guarded by {@link #gate}. */
    private int parked;
    /** The vCPUs' kvm_run pages are unmapped: no more kicks; guarded by {@link #gate}. */
    private boolean released;
    private State state = State.CREATED;

    private Kvm kvm;
    private VmFd vmFd;
    private GuestMemory memory;
    private Uart16550 uart;
    private CmosRtc rtc;
    private EventLoop events;
    private DeviceManager devices;
    private VirtioConsole virtioConsole;
    private ControlServer control;

    private VirtualMachine(VmConfig config) {
        this.config = config;
    }

    /**
     * Builds the VM described by {@code config}; its console output goes to {@code consoleOutput}
     * (the UART's or virtio-console's). Nothing runs until {@link #start}. On failure everything
     * made so far is released.
     *
     * @throws KvmException KVM is missing or refused something (no /dev/kvm, too many vCPUs, ...)
     * @throws BootImageException the kernel or initrd cannot be booted
     * @throws IOException a device's host side cannot be opened (a disk image, a socket path)
     */
    public static VirtualMachine create(VmConfig config, OutputStream consoleOutput)
            throws KvmException, BootImageException, IOException {
        Objects.requireNonNull(config, "config");
        Objects.requireNonNull(consoleOutput, "consoleOutput");
        VirtualMachine vm = new VirtualMachine(config);
        try {
            vm.build(consoleOutput);
            return vm;
        } catch (KvmException | BootImageException | IOException | RuntimeException | Error e) {
            vm.release();
            throw e;
        }
    }

    private void build(OutputStream consoleOut) throws KvmException, BootImageException, IOException {
        kvm = Kvm.open();
        try {
            int max = kvm.maxVcpus();
            if (config.cpus() > max) {
                throw new BootImageException("--cpus " + config.cpus() + " is more than this host's KVM allows (" + max + ")");
            }
        } catch (ErrnoException e) {
            throw new KvmException("KVM_CHECK_EXTENSION failed: " + e.getMessage(), e);
        }
        vmFd = kvm.createVm();
        vmFd.setTssAddress(TSS_ADDRESS);
        vmFd.setIdentityMapAddress(IDENTITY_MAP_ADDRESS);
        vmFd.createIrqchip();
        vmFd.createPit2();

        try {
            memory = GuestMemory.allocate(config.memoryBytes());
        } catch (ErrnoException e) {
            throw new KvmException("cannot reserve " + (config.memoryBytes() >> 20) + " MiB of guest memory: " + e.getMessage(), e);
        }
        int slot = 0;
        for (MemoryRegion r : memory.regions()) {
            vmFd.setUserMemoryRegion(slot++, r.guestAddress(), r.size(), r.host().address(), false);
        }

        uart = new Uart16550(legacyIrq(Uart16550.COM1_IRQ), consoleOut);
        pio.register(Uart16550.COM1_BASE, Uart16550.PORT_COUNT, "COM1", uart);
        new I8042Controller(() -> end(VmExit.REBOOT, "guest reset through the keyboard controller")).attach(pio);
        rtc = new CmosRtc(Clock.systemUTC(), legacyIrq(CmosRtc.IRQ));
        pio.register(CmosRtc.BASE_PORT, CmosRtc.PORT_COUNT, "RTC", rtc);
        pio.register(PowerPort.DEFAULT_PORT, 1, "ACPI power", new AcpiPowerDevice(PowerPort.POWER_OFF, PowerPort.RESET,
                () -> end(VmExit.POWER_OFF, "guest powered off"),
                () -> end(VmExit.REBOOT, "guest requested a reset")));

        try {
            // Watches of no device's own: a handler that fails there leaves the VM in no known state.
            events = new EventLoop("vm-events", new EventLoop.Owner("the VM",
                    failure -> end(VmExit.VMM_ERROR, "the VMM's event loop failed: " + failure)));
        } catch (ErrnoException e) {
            throw new KvmException("cannot create the VM's event loop: " + e.getMessage(), e);
        }
        devices = new DeviceManager(vmFd, memory, mmio, events);
        addVirtioDevices(consoleOut);
        // Every device is placed: from here the buses are read-only, so vCPU exits need no lock.
        pio.freeze();
        mmio.freeze();
        events.start();

        AcpiTables acpi = AcpiTables.build(new AcpiConfig(config.cpus(), devices.acpiDevices()), BootLayout.ACPI_TABLES);
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
        for (int i = 0; i < config.cpus(); i++) {
            VcpuFd fd = vmFd.createVcpu(i);
            vcpuFds.add(fd);
            fd.setCpuid(CpuidConfig.forVcpu(cpuid, i, config.cpus()));
            CpuSetup.configureCommon(fd);
            if (i == 0) {
                CpuSetup.configureBootCpu(fd, entry);
            }
            Vcpu vcpu = new Vcpu(fd, pio, mmio, this);
            vcpus.add(vcpu);
            // Platform threads: KVM_RUN blocks in the kernel for as long as the guest runs.
            vcpuThreads.add(Thread.ofPlatform().name("vcpu-" + i).daemon(true).unstarted(vcpu));
        }
        if (config.apiSocket() != null) {
            control = ControlServer.start(config.apiSocket(), new Control());
        }
    }

    /** The virtio devices the config asks for, in the order the guest enumerates them. */
    private void addVirtioDevices(OutputStream consoleOut) throws IOException, KvmException {
        if (config.console() == VmConfig.Console.VIRTIO) { // port 0 is hvc0, the guest console
            virtioConsole = new VirtioConsole(consoleOut);
            devices.add("console", virtioConsole);
        }
        for (int i = 0; i < config.disks().size(); i++) { // vda, vdb, ...
            VmConfig.Disk disk = config.disks().get(i);
            devices.add("blk" + i, VirtioBlkDevice.open(disk.location(), disk.readOnly()));
        }
        for (int i = 0; i < config.nets().size(); i++) { // eth0, eth1, ...
            NetConfig net = config.nets().get(i);
            String name = "net" + i;
            devices.addPolled(name, readiness -> VirtioNet.open(net.tap(), net.bridge(), net.mac(), readiness));
        }
        if (config.rng()) { // /dev/hwrng
            devices.add("rng", new VirtioRng());
        }
        if (config.balloon()) {
            devices.add("balloon", new VirtioBalloon(config.memoryBytes()));
        }
        if (config.vsockSocket() != null) { // guest CID 3; host side: hybrid vsock on this Unix socket
            VirtioVsock vsock = VirtioVsock.open(config.vsockSocket());
            if (config.vsockUplink() != null) {
                vsock.withUplink(VsockUplink.parse(config.vsockUplink()));
            }
            devices.add("vsock", vsock);
        }
    }

    private KvmInterruptLine legacyIrq(int gsi) throws KvmException {
        KvmInterruptLine irq = new KvmInterruptLine(vmFd, gsi);
        legacyIrqs.add(irq);
        return irq;
    }

    /** Runs the vCPUs. Once only; IllegalStateException otherwise. */
    public void start() {
        synchronized (gate) {
            if (state != State.CREATED) {
                throw new IllegalStateException("the VM was started already (" + state + ")");
            }
            state = State.RUNNING;
            vcpuThreads.forEach(Thread::start);
        }
    }

    /**
     * Holds every vCPU outside the guest and returns once all are held; the guest's clock and
     * devices keep going. No-op when paused or ended already.
     *
     * @throws IllegalStateException before {@link #start} or after {@link #close}
     * @throws java.util.concurrent.TimeoutException if the vCPUs did not all stop within 10 s (they go on being held)
     */
    public void pause() throws InterruptedException, java.util.concurrent.TimeoutException {
        synchronized (gate) {
            switch (state) {
                case CREATED, CLOSED -> throw new IllegalStateException("cannot pause a VM that is " + state);
                case PAUSED, EXITED -> {
                    return;
                }
                default -> { }
            }
            pauseRequested = true;
            kickAll();
        }
        long deadline = System.nanoTime() + VCPU_STOP_TIMEOUT.toNanos();
        synchronized (gate) {
            while (parked < liveVcpus() && result == null) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new java.util.concurrent.TimeoutException(
                            (liveVcpus() - parked) + " vCPU(s) did not leave the guest within " + VCPU_STOP_TIMEOUT.toSeconds() + " s");
                }
                TimeUnit.NANOSECONDS.timedWait(gate, left);
            }
            if (result == null) {
                state = State.PAUSED;
            }
        }
    }

    /** Lets paused vCPUs run again. No-op unless paused. */
    public void resume() {
        synchronized (gate) {
            if (state == State.CLOSED) {
                throw new IllegalStateException("the VM is closed");
            }
            pauseRequested = false;
            if (state == State.PAUSED) {
                state = State.RUNNING;
            }
            gate.notifyAll();
        }
    }

    /**
     * Ends the VM from the host side ({@link VmExit#STOPPED}): every vCPU leaves the guest. Returns
     * at once; {@link #awaitExit} waits for the end. No-op when the VM ended already.
     */
    public void stop() {
        end(VmExit.STOPPED, "stopped by the host");
    }

    /** Ends the VM as {@code how} (for example {@link VmExit#INTERRUPTED} on Ctrl-A x), unless it ended already. */
    public void stop(VmExit how, String why) {
        end(how, why);
    }

    /** Blocks until the VM ends: the guest powered off, reset or faulted, or the host stopped it. */
    public ExitResult awaitExit() throws InterruptedException {
        exited.await();
        return result;
    }

    /** As {@link #awaitExit()}, for at most {@code timeout}; empty if the VM still runs. */
    public Optional<ExitResult> awaitExit(Duration timeout) throws InterruptedException {
        return exited.await(timeout.toNanos(), TimeUnit.NANOSECONDS) ? Optional.of(result) : Optional.empty();
    }

    /** How the VM ended, if it did. */
    public Optional<ExitResult> result() {
        return Optional.ofNullable(result);
    }

    public State state() {
        synchronized (gate) {
            return state;
        }
    }

    public VmConfig config() {
        return config;
    }

    /** Where host console input goes: virtio-console's port 0 (hvc0) when the VM has one, else the UART. */
    public ConsoleSink console() {
        return virtioConsole != null ? virtioConsole.console() : uart;
    }

    /** Tells the guest the host terminal's size (virtio-console only; a UART has no such notion). */
    public void resizeConsole(int cols, int rows) {
        if (virtioConsole != null) {
            virtioConsole.resize(cols, rows);
        }
    }

    /** VM exits the VMM handled so far, summed over vCPUs (approximate while running). */
    public long exits() {
        long n = 0;
        for (Vcpu v : vcpus) {
            n += v.exits();
        }
        return n;
    }

    /**
     * Stops the VM if it runs, waits for its vCPUs to leave the guest, quiets its devices (a last
     * flush reaches each disk), and releases every file descriptor, mapping and thread it holds.
     * Idempotent.
     */
    @Override
    public void close() {
        synchronized (gate) {
            if (state == State.CLOSED) {
                return;
            }
            state = State.CLOSED;
        }
        end(VmExit.STOPPED, "closed");
        release();
    }

    /** Where the guest's RAM lies in this process: {start, end} host addresses per region (for tests). */
    List<long[]> hostRamRanges() {
        return memory.regions().stream()
                .map(r -> new long[] {r.host().address(), r.host().address() + r.size()})
                .toList();
    }

    // ---- the vCPU side ----

    boolean exitRequested() {
        return result != null;
    }

    boolean pauseRequested() {
        return pauseRequested;
    }

    /** A vCPU waits here, outside the guest, while the VM is paused. */
    void parkWhilePaused() {
        synchronized (gate) {
            parked++;
            gate.notifyAll();
            try {
                while (pauseRequested && result == null) {
                    gate.wait();
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                end(VmExit.VMM_ERROR, "a vCPU thread was interrupted");
            } finally {
                parked--;
            }
        }
    }

    /** Records the first way the VM ended (later ones are ignored) and gets every vCPU out of the guest. */
    void end(VmExit how, String why) {
        synchronized (gate) {
            if (result != null) {
                return;
            }
            result = new ExitResult(how, why);
            if (state == State.RUNNING || state == State.PAUSED) {
                state = State.EXITED;
            }
            gate.notifyAll();
            kickAll();
        }
        exited.countDown();
    }

    /**
     * Every vCPU out of the guest. Under {@link #gate}, so that no kick writes a kvm_run page
     * that {@link #release} has unmapped.
     */
    private void kickAll() {
        if (!released) {
            vcpus.forEach(Vcpu::kick);
        }
    }

    private int liveVcpus() {
        int n = 0;
        for (Thread t : vcpuThreads) {
            if (t.isAlive()) {
                n++;
            }
        }
        return n;
    }

    /** Releases what was made, in the reverse of the order it was made; after the vCPUs were told to leave. */
    private void release() {
        boolean vcpusGone = joinVcpus();
        if (control != null) {
            control.close();
        }
        if (uart != null) {
            uart.flush();
        }
        if (devices != null) {
            devices.quiesce();
        }
        if (events != null) {
            try {
                events.close();
            } catch (ErrnoException e) {
                // the loop's fds are gone with the process at worst
            }
        }
        if (devices != null) {
            devices.close();
        }
        if (rtc != null) {
            rtc.close();
        }
        if (uart != null) {
            uart.close();
        }
        legacyIrqs.forEach(KvmInterruptLine::close);
        if (!vcpusGone) {
            // A vCPU thread still inside KVM_RUN would touch its kvm_run page and guest memory:
            // keep them mapped (a leak) rather than pull them out from under it.
            System.getLogger(VirtualMachine.class.getName()).log(System.Logger.Level.WARNING,
                    "a vCPU did not leave the guest; its VM's memory stays mapped");
            return;
        }
        synchronized (gate) {
            released = true;
        }
        vcpuFds.forEach(VcpuFd::close);
        if (vmFd != null) {
            vmFd.close();
        }
        if (kvm != null) {
            kvm.close();
        }
        if (memory != null) {
            memory.close();
        }
    }

    /** Waits for the vCPU threads to end; false when one did not within the bound. */
    private boolean joinVcpus() {
        long deadline = System.nanoTime() + VCPU_STOP_TIMEOUT.toNanos();
        for (Thread t : vcpuThreads) {
            if (t == Thread.currentThread()) {
                return false; // close() from a vCPU thread (a device callback): cannot wait for itself
            }
            try {
                long left = deadline - System.nanoTime();
                if (left <= 0 || !t.join(Duration.ofNanos(left))) {
                    if (t.isAlive()) {
                        return false;
                    }
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    // ---- the control socket's view of this VM ----

    private final class Control implements ControlledVm {
        @Override
        public void pause() throws Exception {
            VirtualMachine.this.pause();
        }

        @Override
        public void resume() {
            VirtualMachine.this.resume();
        }

        @Override
        public void stop() {
            VirtualMachine.this.stop();
        }

        @Override
        public String state() {
            return VirtualMachine.this.state().name().toLowerCase(java.util.Locale.ROOT);
        }

        @Override
        public VmConfig config() {
            return config;
        }

        @Override
        public long exits() {
            return VirtualMachine.this.exits();
        }

        @Override
        public VirtioBalloon balloon() {
            return devices == null ? null : devices.find(VirtioBalloon.class);
        }

        @Override
        public List<VirtioNet> nets() {
            return devices == null ? List.of() : devices.findAll(VirtioNet.class);
        }
    }
}
