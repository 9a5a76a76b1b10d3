package dev.vessel.cli;

import dev.vessel.machine.HelperMachine;
import dev.vessel.machine.MachineConnection;
import dev.vessel.machine.MachineException;
import dev.vessel.machine.MachineForwarder;
import dev.vessel.machine.MachineUnavailableException;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.ParentCommand;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;

/** `vessel machine`: the helper machine for hosts without hardware virtualization. */
@Command(name = "machine", mixinStandardHelpOptions = true,
        description = {"Manage the helper machine that runs VMs where the CPU lacks hardware virtualization.",
                "It is a QEMU software-emulated x86 machine with nested KVM, in which Vessel runs its VMs (like `podman machine`).",
                "`vessel vm run` starts it on demand; it keeps running until `vessel machine stop`."},
        subcommands = {MachineCommand.Start.class, MachineCommand.Stop.class, MachineCommand.Status.class,
                MachineCommand.Exec.class, MachineCommand.Copy.class, MachineJavaCommand.class})
final class MachineCommand {
    @ParentCommand
    Main main;

    /** The running machine, started on demand. */
    static HelperMachine.Endpoint running(Main main) throws IOException, UserError {
        try {
            return HelperMachine.of(main.stateRoot()).ensureRunning(System.err);
        } catch (MachineUnavailableException e) {
            throw new UserError(e.getMessage(), 125);
        }
    }

    @Command(name = "start", mixinStandardHelpOptions = true, description = "Start the helper machine (no-op if it runs).")
    static final class Start implements Callable<Integer> {
        @ParentCommand
        MachineCommand parent;

        @Option(names = "--memory", paramLabel = "SIZE", description = "Machine RAM (default: 4G, at most half the host's).")
        String memory;

        @Option(names = "--cpus", paramLabel = "N", description = "Machine vCPUs (default: the host's cores).")
        Integer cpus;

        @Override
        public Integer call() throws Exception {
            HelperMachine m = HelperMachine.of(parent.main.stateRoot());
            long mem = memory == null ? HelperMachine.defaultMemory() : SizeParser.parse(memory);
            try {
                HelperMachine.Endpoint ep = m.start(System.err, mem, cpus == null ? HelperMachine.defaultCpus() : cpus);
                System.out.println("helper machine running (pid " + ep.pid() + ", agent on 127.0.0.1:" + ep.port() + ")");
                return 0;
            } catch (MachineException e) {
                throw new UserError(e.getMessage(), 125);
            }
        }
    }

    @Command(name = "stop", mixinStandardHelpOptions = true, description = "Power the helper machine off cleanly.")
    static final class Stop implements Callable<Integer> {
        @ParentCommand
        MachineCommand parent;

        @Override
        public Integer call() throws Exception {
            boolean was = HelperMachine.of(parent.main.stateRoot()).stop(Duration.ofSeconds(60));
            System.out.println(was ? "helper machine stopped" : "helper machine was not running");
            return 0;
        }
    }

    @Command(name = "status", mixinStandardHelpOptions = true,
            description = "Say whether the helper machine runs (exit status 0 if it does, 1 if not).")
    static final class Status implements Callable<Integer> {
        @ParentCommand
        MachineCommand parent;

        @Override
        public Integer call() throws Exception {
            HelperMachine m = HelperMachine.of(parent.main.stateRoot());
            Optional<HelperMachine.Endpoint> ep = m.running();
            if (ep.isEmpty()) {
                System.out.println("stopped");
                return 1;
            }
            System.out.println("running (pid " + ep.get().pid() + ", agent on 127.0.0.1:" + ep.get().port()
                    + ", files in " + m.directory() + ")");
            if (!m.runsThisBuildsImage()) {
                System.out.println("outdated: " + HelperMachine.OUTDATED);
            }
            return 0;
        }
    }

    @Command(name = "exec", mixinStandardHelpOptions = true,
            description = "Run a command inside the helper machine (starting it if needed), with this terminal's stdio.")
    static final class Exec implements Callable<Integer> {
        @ParentCommand
        MachineCommand parent;

        @Option(names = {"-t", "--tty"}, description = "Allocate a pseudo-terminal.")
        boolean tty;

        @Parameters(arity = "1..*", paramLabel = "COMMAND", description = "Command and arguments.")
        List<String> command;

        @Override
        public Integer call() throws Exception {
            return MachineForwarder.forward(HelperMachine.of(parent.main.stateRoot()),
                    MachineConnection.open(running(parent.main)), command, tty);
        }
    }

    @Command(name = "cp", mixinStandardHelpOptions = true,
            description = "Send a host file into the helper machine; prints its path there (content-addressed, sent once).")
    static final class Copy implements Callable<Integer> {
        @ParentCommand
        MachineCommand parent;

        @Parameters(paramLabel = "FILE", description = "Host file.")
        Path file;

        @Override
        public Integer call() throws Exception {
            if (!Files.isRegularFile(file)) {
                throw new UserError(file + ": no such file");
            }
            System.out.println(MachineConnection.open(running(parent.main)).sendFile(file));
            return 0;
        }
    }
}
