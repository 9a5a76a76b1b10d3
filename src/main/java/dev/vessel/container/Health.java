package dev.vessel.container;

import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;

import java.util.ArrayList;
import java.util.List;

/**
 * A container's health as its health check found it (docker's {@code State.Health}), kept in its
 * state by its supervisor. The rules are dockerd's (daemon/health.go, handleProbeResult).
 *
 * @param status {@link #STARTING} until a check passed or the failures count, then {@link #HEALTHY}
 *     or {@link #UNHEALTHY}
 * @param failingStreak consecutive failed checks that counted
 * @param log the last {@value #MAX_LOG} checks, oldest first
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record Health(String status, int failingStreak, List<Result> log) {
    public static final String STARTING = "starting";
    public static final String HEALTHY = "healthy";
    public static final String UNHEALTHY = "unhealthy";
    /** docker's ps filter value of a container without a health check. */
    public static final String NONE = "none";
    /** How many results docker keeps. */
    public static final int MAX_LOG = 5;

    public Health {
        log = log == null ? List.of() : List.copyOf(log);
    }

    /**
     * One check (docker's {@code HealthcheckResult}).
     *
     * @param start RFC 3339
     * @param end RFC 3339
     * @param exitCode 0 passed; -1 when it could not run or ran out of time
     * @param output its stdout and stderr, at most 4 KiB of it ("..." after what was cut)
     */
    @JsonIgnoreProperties(ignoreUnknown = true)
    public record Result(String start, String end, int exitCode, String output) {}

    /** A container that (re)starts with a check: starting again, its old results kept, as dockerd keeps them. */
    public static Health starting(Health previous) {
        return new Health(STARTING, 0, previous == null ? List.of() : previous.log);
    }

    /** Once its checks stopped (the container stopped), docker says unhealthy, "for compatibility reasons". */
    public Health stopped() {
        return new Health(UNHEALTHY, failingStreak, log);
    }

    /**
     * The health after check {@code r}: a pass makes it healthy; a failure counts, unless the
     * container is still starting within its start period, and {@code retries} counted failures
     * in a row make it unhealthy.
     */
    public Health after(Result r, int retries, boolean withinStartPeriod) {
        List<Result> kept = new ArrayList<>(log);
        kept.add(r);
        while (kept.size() > MAX_LOG) {
            kept.removeFirst();
        }
        if (r.exitCode() == 0) {
            return new Health(HEALTHY, 0, kept);
        }
        if (STARTING.equals(status) && withinStartPeriod) {
            return new Health(status, failingStreak, kept);
        }
        int streak = failingStreak + 1;
        return new Health(streak >= retries ? UNHEALTHY : status, streak, kept);
    }

    /** docker's words in a status line: "health: starting", "healthy", "unhealthy". */
    @JsonIgnore
    public String describe() {
        return STARTING.equals(status) ? "health: starting" : status;
    }
}
