package dev.vessel.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;

/** `vessel vm pause|resume|stop|inspect`: a running VM's control socket (vm run --api-socket PATH). */
final class VmControlCommands {
    private VmControlCommands() {}

    /** Bound on one request; a pause answers once every vCPU is out of the guest. */
    static final Duration TIMEOUT = Duration.ofSeconds(30);

    abstract static class Base implements Callable<Integer> {
        @Option(names = "--api-socket", required = true, paramLabel = "PATH", description = "The VM's API socket (vm run --api-socket).")
        Path apiSocket;

        Map<String, Object> send(String key) throws UserError {
            return VmStatsCommand.call(apiSocket, "{\"" + key + "\":true}", TIMEOUT);
        }
    }

    @Command(name = "pause", mixinStandardHelpOptions = true,
            description = "Hold a running VM's vCPUs (its devices and clock go on); `vm resume` lets them run again.",
            footerHeading = "%nExit status:%n", footer = {"  0  paused", "  1  no VM answers on the socket, or it refused"})
    static final class Pause extends Base {
        @Override
        public Integer call() throws Exception {
            System.out.println(send("pause").get("state"));
            return 0;
        }
    }

    @Command(name = "resume", mixinStandardHelpOptions = true, description = "Let a paused VM's vCPUs run again.",
            footerHeading = "%nExit status:%n", footer = {"  0  running", "  1  no VM answers on the socket, or it refused"})
    static final class Resume extends Base {
        @Override
        public Integer call() throws Exception {
            System.out.println(send("resume").get("state"));
            return 0;
        }
    }

    @Command(name = "stop", mixinStandardHelpOptions = true,
            description = "Stop a running VM from the host (its `vm run` exits with status 143).",
            footerHeading = "%nExit status:%n", footer = {"  0  stopping", "  1  no VM answers on the socket, or it refused"})
    static final class Stop extends Base {
        @Override
        public Integer call() throws Exception {
            send("stop");
            return 0;
        }
    }

    @Command(name = "inspect", mixinStandardHelpOptions = true,
            description = "Describe a running VM as JSON: state, vCPUs, memory, kernel, command line, devices, VM exits.",
            footerHeading = "%nExit status:%n", footer = {"  0  shown", "  1  no VM answers on the socket, or it refused"})
    static final class Inspect extends Base {
        @Override
        public Integer call() throws Exception {
            String raw = VmStatsCommand.rawCall(apiSocket, "{\"describe\":true}", TIMEOUT);
            VmStatsCommand.parse(raw);
            System.out.println(raw);
            return 0;
        }
    }
}
