package dev.vessel.cli;

import dev.vessel.container.ContainerException;
import dev.vessel.container.ContainerService;
import dev.vessel.container.DetachKeys;
import dev.vessel.container.SignalNames;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.util.List;
import java.util.concurrent.Callable;

/** The docker verbs that act on existing containers: start, stop, restart, kill, attach, wait, rm. */
final class ContainerCommands {
    private ContainerCommands() {}

    /** One verb on one container, named as the user wrote it. */
    interface PerContainer {
        void apply(ContainerService service, String ref) throws Exception;
    }

    /** Runs {@code action} for each named container; docker prints errors and goes on, status 1 if any failed. */
    static int each(Main main, List<String> refs, PerContainer action) throws Exception {
        ContainerService service = ContainerSupport.service(main);
        int status = 0;
        for (String ref : refs) {
            try {
                action.apply(service, ref);
            } catch (ContainerException | UserError e) {
                System.err.println("Error response from daemon: " + e.getMessage());
                status = 1;
            }
        }
        return status;
    }

    @Command(name = "start", mixinStandardHelpOptions = true, description = "Start one or more stopped containers.")
    static final class Start implements Callable<Integer> {
        @ParentCommand
        Main main;

        @Option(names = {"-a", "--attach"}, description = "Attach STDOUT/STDERR and forward signals.")
        boolean attach;

        @Option(names = {"-i", "--interactive"}, description = "Attach container's STDIN.")
        boolean interactive;

        @Option(names = "--detach-keys", paramLabel = "KEYS", description = "Key sequence for detaching a container.")
        String detachKeys = DetachKeys.DEFAULT_SPEC;

        @Parameters(arity = "1..*", paramLabel = "CONTAINER")
        List<String> containers;

        @Override
        public Integer call() throws Exception {
            if ((attach || interactive) && containers.size() > 1) {
                throw new UserError("you cannot start and attach multiple containers at once", 1);
            }
            if (attach || interactive) {
                ContainerService service = ContainerSupport.service(main);
                String id;
                try {
                    id = service.require(containers.getFirst()).config().id();
                } catch (ContainerException e) {
                    throw new UserError(e.getMessage(), 1);
                }
                ContainerSupport.start(service, id, true);
                return ContainerSupport.attach(service, id, interactive, detachKeys);
            }
            return each(main, containers, (service, ref) -> {
                ContainerSupport.start(service, ref, false);
                System.out.println(ref);
            });
        }
    }

    @Command(name = "stop", mixinStandardHelpOptions = true, description = "Stop one or more running containers.")
    static final class Stop implements Callable<Integer> {
        @ParentCommand
        Main main;

        @Option(names = {"-t", "--time"}, paramLabel = "SECONDS", description = "Seconds to wait before killing the container (default 10).")
        int time = 10;

        @Parameters(arity = "1..*", paramLabel = "CONTAINER")
        List<String> containers;

        @Override
        public Integer call() throws Exception {
            return each(main, containers, (service, ref) -> {
                service.stop(ref, time);
                System.out.println(ref);
            });
        }
    }

    @Command(name = "restart", mixinStandardHelpOptions = true, description = "Restart one or more containers.")
    static final class Restart implements Callable<Integer> {
        @ParentCommand
        Main main;

        @Option(names = {"-t", "--time"}, paramLabel = "SECONDS", description = "Seconds to wait before killing the container (default 10).")
        int time = 10;

        @Parameters(arity = "1..*", paramLabel = "CONTAINER")
        List<String> containers;

        @Override
        public Integer call() throws Exception {
            return each(main, containers, (service, ref) -> {
                service.restart(ref, time);
                System.out.println(ref);
            });
        }
    }

    @Command(name = "kill", mixinStandardHelpOptions = true, description = "Kill one or more running containers.")
    static final class Kill implements Callable<Integer> {
        @ParentCommand
        Main main;

        @Option(names = {"-s", "--signal"}, paramLabel = "SIGNAL", description = "Signal to send (default KILL).")
        String signal = "KILL";

        @Parameters(arity = "1..*", paramLabel = "CONTAINER")
        List<String> containers;

        @Override
        public Integer call() throws Exception {
            int signo;
            try {
                signo = SignalNames.parse(signal);
            } catch (ContainerException e) {
                throw ContainerSupport.error(e);
            }
            return each(main, containers, (service, ref) -> {
                service.kill(ref, signo);
                System.out.println(ref);
            });
        }
    }

    @Command(name = "attach", mixinStandardHelpOptions = true,
            description = "Attach local standard input, output, and error streams to a running container.")
    static final class Attach implements Callable<Integer> {
        @ParentCommand
        Main main;

        @Option(names = "--detach-keys", paramLabel = "KEYS", description = "Key sequence for detaching a container (default ctrl-p,ctrl-q).")
        String detachKeys = DetachKeys.DEFAULT_SPEC;

        @Option(names = "--no-stdin", description = "Do not attach STDIN.")
        boolean noStdin;

        @Parameters(index = "0", paramLabel = "CONTAINER")
        String container;

        @Override
        public Integer call() throws Exception {
            return ContainerSupport.attach(ContainerSupport.service(main), container, !noStdin, detachKeys);
        }
    }

    @Command(name = "wait", mixinStandardHelpOptions = true,
            description = "Block until one or more containers stop, then print their exit codes.")
    static final class Wait implements Callable<Integer> {
        @ParentCommand
        Main main;

        @Parameters(arity = "1..*", paramLabel = "CONTAINER")
        List<String> containers;

        @Override
        public Integer call() throws Exception {
            return each(main, containers, (service, ref) -> System.out.println(service.awaitExit(ref)));
        }
    }

    @Command(name = "rm", mixinStandardHelpOptions = true, description = "Remove one or more containers.")
    static final class Rm implements Callable<Integer> {
        @ParentCommand
        Main main;

        @Option(names = {"-f", "--force"}, description = "Force the removal of a running container (uses SIGKILL).")
        boolean force;

        @Parameters(arity = "1..*", paramLabel = "CONTAINER")
        List<String> containers;

        @Override
        public Integer call() throws Exception {
            return each(main, containers, (service, ref) -> {
                service.remove(ref, force);
                System.out.println(ref);
            });
        }
    }
}
