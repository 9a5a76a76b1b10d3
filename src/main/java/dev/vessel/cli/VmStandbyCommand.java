package dev.vessel.cli;

import dev.vessel.machine.standby.CommandRunner;
import dev.vessel.machine.standby.StandbyVmm;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * `vessel vm standby` (hidden): a VMM process started ahead of time by the helper machine's
 * command script; see {@link StandbyVmm}.
 */
@Command(name = "standby", hidden = true, mixinStandardHelpOptions = true,
        description = {"Warm up, then wait on a Unix socket for one `vm run` handed over by vessel-agent --vmm-client "
                + "and run it in this process (the helper machine's fast path)."})
final class VmStandbyCommand implements Callable<Integer> {
    private static final Pattern DURATION = Pattern.compile("(\\d{1,9})(ms|s|m|h|d)?");

    @Option(names = "--socket", required = true, paramLabel = "PATH",
            description = "Unix socket to wait on (a name ending in .sock; its stem + .pid holds the pid).")
    Path socket;

    @Option(names = "--idle-timeout", paramLabel = "DURATION", defaultValue = "30m",
            description = "Exit after waiting this long, e.g. 90s, 30m, 2h (default: ${DEFAULT-VALUE}).")
    String idleTimeout;

    @Option(names = "--successor-delay", paramLabel = "DURATION", defaultValue = "15s",
            description = "Start the next standby when the VM ends, at the latest this long after taking it; "
                    + "0: at once (default: ${DEFAULT-VALUE}).")
    String successorDelay;

    @Option(names = StandbyVmm.AFTER_PID, hidden = true, paramLabel = "PID",
            description = "Warm up only once process PID ended (at the latest --successor-delay after start).")
    long afterPid;

    @Override
    public Integer call() throws Exception {
        Duration idle = parseDuration("--idle-timeout", idleTimeout, false);
        Duration delay = parseDuration("--successor-delay", successorDelay, true);
        StandbyVmm standby;
        try {
            standby = new StandbyVmm(socket, idle, delay, afterPid, new Commands());
        } catch (IllegalArgumentException e) {
            throw new UserError("--socket " + e.getMessage());
        }
        return standby.serve();
    }

    /** A standby's `vm run` command lines, parsed as `vm run` parses its own, run on this host's KVM. */
    private static final class Commands implements CommandRunner {
        @Override
        public void prime() {
            // Stops at the argument checks (--cpus 0), before any VM.
            VmRunCommand.runReceived(List.of("--accel", "kvm", "--cpus", "0", "--memory", "256M"));
        }

        @Override
        public int run(List<String> args) {
            if (args.size() < 2 || !args.get(0).equals("vm") || !args.get(1).equals("run")) {
                System.err.println("vessel: a standby runs `vm run` only");
                return 2;
            }
            return VmRunCommand.runReceived(args.subList(2, args.size()));
        }
    }

    /** 90s, 30m, 2h, 1d, 500ms, a bare number of seconds, or ISO-8601 (PT5M). */
    static Duration parseDuration(String option, String s, boolean zeroAllowed) throws UserError {
        Matcher m = DURATION.matcher(s.strip());
        Duration d;
        if (m.matches()) {
            long n = Long.parseLong(m.group(1));
            String unit = m.group(2) == null ? "s" : m.group(2);
            d = switch (unit) {
                case "ms" -> Duration.ofMillis(n);
                case "m" -> Duration.ofMinutes(n);
                case "h" -> Duration.ofHours(n);
                case "d" -> Duration.ofDays(n);
                default -> Duration.ofSeconds(n);
            };
        } else {
            try {
                d = Duration.parse(s.strip());
            } catch (DateTimeParseException e) {
                throw new UserError(option + ": not a duration: '" + s + "' (e.g. 90s, 30m, 2h)");
            }
        }
        if (d.isNegative() || (d.isZero() && !zeroAllowed)) {
            throw new UserError(option + " must be " + (zeroAllowed ? "0 or more" : "positive"));
        }
        return d;
    }
}
