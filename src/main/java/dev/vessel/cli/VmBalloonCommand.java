package dev.vessel.cli;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;

/** `vessel vm balloon`: ask a running VM (started with --balloon --api-socket) to give memory back, or take it. */
@Command(name = "balloon", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Set the memory balloon of a running VM (started with --balloon --api-socket PATH): the guest "
                + "hands that much of its memory back to the host; 0 gives it all back to the guest."},
        footerHeading = "%nExit status:%n",
        footer = {"  0  the VM took the target (with --wait: and its balloon reached it)",
                "  1  no VM answers on the socket, it refused the target, or --wait timed out",
                "  2  bad command line"})
final class VmBalloonCommand implements Callable<Integer> {
    @Option(names = "--api-socket", required = true, paramLabel = "PATH", description = "The VM's API socket (vm run --api-socket).")
    Path apiSocket;

    @Option(names = "--target", required = true, paramLabel = "SIZE",
            description = "How much memory the balloon takes from the guest, in whole MiB: e.g. 128M, 1G, 0.")
    String target;

    @Option(names = "--wait", description = "Wait until the guest's balloon reaches the target.")
    boolean waitForGuest;

    @Option(names = "--timeout", paramLabel = "SECONDS", defaultValue = "60",
            description = "With --wait: give up after this many seconds (default: ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @Override
    public Integer call() throws Exception {
        long bytes;
        try {
            bytes = target.strip().equals("0") ? 0 : SizeParser.parse(target);
        } catch (IllegalArgumentException e) {
            throw new UserError("--target: " + e.getMessage());
        }
        if ((bytes & ((1 << 20) - 1)) != 0) {
            throw new UserError("--target must be a whole number of MiB: " + target);
        }
        if (timeoutSeconds < 1 || timeoutSeconds > 600) {
            throw new UserError("--timeout must be 1..600 seconds");
        }
        long mib = bytes >> 20;
        String request = waitForGuest
                ? "{\"balloon_mib\":" + mib + ",\"wait_ms\":" + timeoutSeconds * 1000L + "}"
                : "{\"balloon_mib\":" + mib + "}";
        Map<String, Object> reply = VmStatsCommand.call(apiSocket, request, Duration.ofSeconds(timeoutSeconds + 10L));
        long actualMib = VmStatsCommand.number(reply, "actual_mib");
        long memoryMib = VmStatsCommand.number(reply, "memory_mib");
        if (waitForGuest && !Boolean.TRUE.equals(reply.get("reached"))) {
            System.err.println("vessel: the guest's balloon is at " + actualMib + " MiB, not " + mib + " MiB, after "
                    + timeoutSeconds + " s (is the virtio_balloon driver loaded? can the guest spare that much?)");
            return 1;
        }
        System.out.println("balloon: target " + mib + " MiB, guest balloon " + (waitForGuest ? "reached " : "now ")
                + actualMib + " MiB (VM memory " + memoryMib + " MiB)");
        return 0;
    }
}
