package dev.vessel.cli;

import dev.vessel.container.ContainerException;
import dev.vessel.container.SupervisorLauncher;
import dev.vessel.container.SupervisorProcess;
import dev.vessel.host.Timing;
import dev.vessel.machine.HelperMachine;
import dev.vessel.machine.MachineNetworkHost;
import dev.vessel.machine.MachinePortConnector;
import dev.vessel.machine.VmLauncher;
import dev.vessel.network.NetworkService;
import dev.vessel.network.ports.DirectPortConnector;
import dev.vessel.network.ports.PortConnector;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.util.concurrent.Callable;

/**
 * The supervisor of one container (started by run/start through {@link SupervisorLauncher},
 * detached); not for users. It prints "ready" on stdout once its socket listens, then sends its
 * stdout to the container's console log.
 */
@Command(name = SupervisorLauncher.COMMAND, hidden = true, description = "Supervise one container (internal).")
final class ContainerShimCommand implements Callable<Integer> {
    @ParentCommand
    Main main;

    @Parameters(index = "0", paramLabel = "ID")
    String id;

    @Option(names = "--wait-attach")
    boolean waitAttach;

    @Option(names = "--restart")
    boolean restart;

    @Override
    public Integer call() throws Exception {
        Timing.mark("shim: start");
        SupervisorProcess supervisor;
        try {
            VmLauncher.Accel accel = VmLauncher.Accel.auto();
            PortConnector ports = accel == VmLauncher.Accel.KVM ? new DirectPortConnector()
                    : new MachinePortConnector(HelperMachine.of(main.stateRoot()));
            supervisor = SupervisorProcess.prepare(main.stateRoot(), id, NetworkService.open(main.stateRoot(),
                    MachineNetworkHost.forVms(main.stateRoot(), accel, System.err)), ports, System.err);
        } catch (ContainerException e) {
            // To the launcher, which answers its caller with it (the console log keeps it too).
            System.out.println(SupervisorLauncher.FAILED + e.getMessage().replace('\n', ' '));
            System.out.flush();
            throw ContainerSupport.error(e);
        }
        Timing.mark("shim: boot files ready");
        // The VM's console (this process's stdout) goes to the console log.
        return supervisor.run(config -> VmLauncher.run(main.stateRoot(), config, VmLauncher.Accel.auto(), false,
                VmLauncher.Sandbox.ON, System.err), waitAttach, restart);
    }
}
