package dev.vessel.cli;

import dev.vessel.image.GoDuration;
import dev.vessel.image.HealthConfig;
import picocli.CommandLine.Option;

/**
 * docker run's health check flags, as docker's CLI turns them into the create's {@code
 * Healthcheck}: the values it leaves at zero come from the image's; the daemon's limits (at
 * least 1ms) are the container service's to check.
 */
final class HealthOptions {
    @Option(names = "--health-cmd", paramLabel = "COMMAND", description = "Command to run to check health (with /bin/sh -c).")
    String cmd;

    @Option(names = "--health-interval", paramLabel = "DURATION", description = "Time between running the check (ms|s|m|h) (default 30s).")
    String interval;

    @Option(names = "--health-timeout", paramLabel = "DURATION",
            description = "Maximum time to allow one check to run (ms|s|m|h) (default 30s).")
    String timeout;

    @Option(names = "--health-start-period", paramLabel = "DURATION",
            description = "Start period for the container to initialize before starting health-retries countdown (ms|s|m|h) (default 0s).")
    String startPeriod;

    @Option(names = "--health-start-interval", paramLabel = "DURATION",
            description = "Time between running the check during the start period (ms|s|m|h) (default 5s).")
    String startInterval;

    @Option(names = "--health-retries", paramLabel = "N", description = "Consecutive failures needed to report unhealthy (default 3).")
    String retries;

    @Option(names = "--no-healthcheck", description = "Disable any container-specified HEALTHCHECK.")
    boolean none;

    /**
     * The create's settings: null for the image's, {@link HealthConfig#NONE} for
     * {@code --no-healthcheck}; docker's CLI errors (status 125) for what it refuses.
     */
    HealthConfig config() throws UserError {
        long i = duration("--health-interval", interval);
        long t = duration("--health-timeout", timeout);
        long sp = duration("--health-start-period", startPeriod);
        long si = duration("--health-start-interval", startInterval);
        int r = retries();
        boolean any = (cmd != null && !cmd.isEmpty()) || i != 0 || t != 0 || sp != 0 || si != 0 || r != 0;
        if (none) {
            if (any) {
                throw new UserError("--no-healthcheck conflicts with --health-* options", 125);
            }
            return HealthConfig.NONE;
        }
        if (!any) {
            return null;
        }
        negative("--health-interval", i);
        negative("--health-timeout", t);
        negative("--health-retries", r);
        negative("--health-start-period", sp);
        negative("--health-start-interval", si);
        return new HealthConfig(cmd == null || cmd.isEmpty() ? null : java.util.List.of("CMD-SHELL", cmd), i, t, sp, si, r);
    }

    private static void negative(String flag, long value) throws UserError {
        if (value < 0) {
            throw new UserError(flag + " cannot be negative", 125);
        }
    }

    private static long duration(String flag, String value) throws UserError {
        if (value == null) {
            return 0;
        }
        try {
            return GoDuration.parse(value);
        } catch (IllegalArgumentException e) {
            throw badValue(flag, value, e.getMessage());
        }
    }

    private int retries() throws UserError {
        if (retries == null) {
            return 0;
        }
        try {
            return Integer.parseInt(retries);
        } catch (NumberFormatException e) {
            throw badValue("--health-retries", retries, "strconv.ParseInt: parsing \"" + retries + "\": invalid syntax");
        }
    }

    /** pflag's words for a value it cannot parse. */
    private static UserError badValue(String flag, String value, String why) {
        return new UserError("invalid argument \"" + value + "\" for \"" + flag + "\" flag: " + why, 125);
    }
}
