package dev.vessel.cli;

import dev.vessel.container.ContainerException;
import dev.vessel.container.SupervisorLauncher;
import dev.vessel.container.SupervisorProcess;
import dev.vessel.host.Timing;
import dev.vessel.machine.MachineNetworkHost;
import dev.vessel.machine.VmLauncher;
import dev.vessel.network.NetworkService;
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
            supervisor = SupervisorProcess.prepare(main.stateRoot(), id, NetworkService.open(main.stateRoot(),
                    MachineNetworkHost.forVms(main.stateRoot(), VmLauncher.Accel.auto(), System.err)), System.err);
        } catch (ContainerException e) {
            throw ContainerSupport.error(e);
        }
        Timing.mark("shim: boot files ready");
        // The VM's console (this process's stdout) goes to the console log.
        return supervisor.run(config -> VmLauncher.run(main.stateRoot(), config, VmLauncher.Accel.auto(), false,
                VmLauncher.Sandbox.ON, System.err), waitAttach, restart);
    }
}
