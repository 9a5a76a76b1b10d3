package dev.vessel.container;

import dev.vessel.events.EventJournal;
import dev.vessel.guest.DebianKernel;
import dev.vessel.host.StateRoot;
import dev.vessel.image.Image;
import dev.vessel.image.ImageException;
import dev.vessel.image.ImageStore;
import dev.vessel.network.Network;
import dev.vessel.network.NetworkException;
import dev.vessel.network.NetworkService;
import dev.vessel.network.ports.PortBinding;
import dev.vessel.network.ports.PortConnector;
import dev.vessel.network.ports.PortProxy;
import dev.vessel.sys.Libc;

import java.io.IOException;
import java.io.PrintStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The process {@link SupervisorLauncher} starts for one container: it finds what the container's
 * VM boots, then runs {@link Shim} with its stdout (where the VM's console goes) on the container's
 * console log, and tells its launcher "ready" on the stdout it was started with.
 */
public final class SupervisorProcess {
    private static final int O_APPEND = 02000;

    private final ContainerStore store;
    private final ContainerStore.Container container;
    private final Shim.Boot boot;
    private final NetworkService networks;
    private final PortProxy proxy;
    private final EventJournal events;
    private final PrintStream diagnostics;

    private SupervisorProcess(ContainerStore store, ContainerStore.Container container, Shim.Boot boot,
                              NetworkService networks, PortProxy proxy, EventJournal events, PrintStream diagnostics) {
        this.store = store;
        this.container = container;
        this.boot = boot;
        this.networks = networks;
        this.proxy = proxy;
        this.events = events;
        this.diagnostics = diagnostics;
    }

    /**
     * Finds container {@code id} and what its VM boots: the kernel (fetched on first use, its
     * progress on {@code diagnostics}), the container initramfs, the image's disk, and its
     * networks, whose bridges are made ready on the host where they live.
     */
    public static SupervisorProcess prepare(StateRoot root, String id, NetworkService networks, PortConnector ports,
                                            PrintStream diagnostics) throws IOException, ContainerException {
        ContainerStore store = ContainerStore.open(root);
        ContainerStore.Container c = store.require(id);
        try {
            List<Network> on = networksOf(c.config(), networks);
            GuestNetwork network = GuestNetwork.plan(c.config(), on, on.isEmpty() ? null : networks.hostGateway(on.getFirst()));
            ImageStore images = ImageStore.open(root);
            Image image = images.resolve(c.config().imageId());
            Path disk = images.ensureDisk(image);
            DebianKernel.Release kernel = new DebianKernel(root.dir("kernels")).ensure(diagnostics);
            Path initrd = ContainerInitramfs.ensure(root.dir("cache"), kernel);
            Shim.Boot boot = new Shim.Boot(kernel.vmlinuz(), initrd, disk, network, on);
            Shim.cmdline(c.config(), network); // too long fails here, before anything runs
            PortProxy proxy = publish(c.config(), network, ports);
            return new SupervisorProcess(store, c, boot, networks, proxy, EventJournal.open(root), diagnostics);
        } catch (ImageException e) {
            throw ContainerException.failed(e.getMessage());
        }
    }

    /**
     * Binds the container's published ports on this host (none: null). A port in use fails the
     * start with docker's message, and nothing is left listening.
     */
    static PortProxy publish(ContainerConfig config, GuestNetwork network, PortConnector connector)
            throws IOException, ContainerException {
        List<PortBinding> wanted = config.networking().ports();
        if (wanted.isEmpty()) {
            return null;
        }
        if (network.cards().isEmpty()) {
            throw ContainerException.invalid("container " + config.name() + " publishes ports but is on no network");
        }
        try {
            return PortProxy.bind(wanted, network.cards().getFirst().address(), connector);
        } catch (NetworkException e) {
            throw ContainerException.failed("driver failed programming external connectivity on endpoint "
                    + config.name() + ": " + e.getMessage());
        }
    }

    /** The container's networks, their bridges ensured (the helper machine forgets them when it restarts). */
    static List<Network> networksOf(ContainerConfig config, NetworkService service) throws IOException, ContainerException {
        List<Network> on = new ArrayList<>();
        try {
            for (String netId : config.networking().networks()) {
                Network n = service.store().require(netId);
                service.ensureBridge(n);
                on.add(n);
            }
        } catch (NetworkException e) {
            throw ContainerException.failed("cannot connect container " + config.name() + " to its network: "
                    + e.getMessage());
        }
        return on;
    }

    /** Writes the one line the launcher reads, once: "ready", or why the container did not run. */
    private void tell(boolean[] told, int notify, String line) {
        synchronized (told) {
            if (told[0]) {
                return;
            }
            told[0] = true;
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment text = arena.allocateFrom(line + "\n");
                Libc.write(notify, text, text.byteSize() - 1);
                Libc.close(notify);
            } catch (Exception e) {
                diagnostics.println("vessel-shim: cannot tell the CLI how the container started: " + e);
            }
        }
    }

    /**
     * Runs the container to its end ({@link Shim#run}) and returns the main process's status.
     * From here on this process's stdout is the console log.
     */
    public int run(Shim.VmRunner vm, boolean waitForAttach, boolean restart) throws IOException {
        // The VM's console (written to fd 1) goes to the console log; the launcher reads one
        // line, "ready", from the original stdout once the container runs.
        int notify = Libc.dupCloexec(1);
        int fd = Libc.open(container.consoleLog().toString(), Libc.O_WRONLY | Libc.O_CREAT | O_APPEND | Libc.O_CLOEXEC, 0600);
        Libc.dup2(fd, 1);
        Libc.close(fd);
        boolean[] told = {false};
        int status = Shim.run(store, container, boot, vm, waitForAttach, restart, proxy, events,
                () -> tell(told, notify, SupervisorLauncher.READY),
                // A start that fails before "ready": the launcher prints why (the log may go with --rm).
                why -> tell(told, notify, SupervisorLauncher.FAILED + why.replace('\n', ' ')));
        if (proxy != null) {
            proxy.close(); // closed by the shim already when the VM ended; again if it failed before
        }
        tell(told, notify, SupervisorLauncher.FAILED + "the container ended before it ran (status " + status + ")");
        if (container.config().autoRemove()) {
            networks.forget(container.config().id()); // --rm removed it: its addresses and names go too
        }
        return status;
    }
}
