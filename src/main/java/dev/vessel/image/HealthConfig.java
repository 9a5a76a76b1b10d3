package dev.vessel.image;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonIgnore;
import com.fasterxml.jackson.annotation.JsonIgnoreProperties;
import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;

import java.util.ArrayList;
import java.util.List;

/**
 * Docker's {@code HealthConfig}, as an image's config ({@code HEALTHCHECK}) and a container's
 * carry it: the check and its timing, durations in nanoseconds, 0 for docker's default. Its
 * JSON is docker's, zero values left out as Go's {@code omitempty} leaves them.
 *
 * @param test {@code ["NONE"]} (no check), {@code ["CMD", argv...]}, {@code ["CMD-SHELL", command]};
 *     empty: the image's (for a container's settings), none (for an image's)
 * @param interval between the end of one check and the start of the next
 * @param timeout how long one check may run before it is killed and counts as failed
 * @param startPeriod how long after the start failures do not count (until one check passed)
 * @param startInterval between checks during the start period
 * @param retries consecutive failures that make the container unhealthy
 */
@JsonIgnoreProperties(ignoreUnknown = true)
public record HealthConfig(@JsonProperty("Test") @JsonInclude(JsonInclude.Include.NON_EMPTY) List<String> test,
                           @JsonProperty("Interval") @JsonInclude(JsonInclude.Include.NON_DEFAULT) long interval,
                           @JsonProperty("Timeout") @JsonInclude(JsonInclude.Include.NON_DEFAULT) long timeout,
                           @JsonProperty("StartPeriod") @JsonInclude(JsonInclude.Include.NON_DEFAULT) long startPeriod,
                           @JsonProperty("StartInterval") @JsonInclude(JsonInclude.Include.NON_DEFAULT) long startInterval,
                           @JsonProperty("Retries") @JsonInclude(JsonInclude.Include.NON_DEFAULT) int retries) {
    /** docker's defaults (daemon/health.go), used where a value is 0. */
    public static final long DEFAULT_INTERVAL = 30_000_000_000L;
    public static final long DEFAULT_TIMEOUT = 30_000_000_000L;
    public static final long DEFAULT_START_INTERVAL = 5_000_000_000L;
    public static final int DEFAULT_RETRIES = 3;
    /** The shortest duration docker takes (container.MinimumDuration). */
    public static final long MINIMUM_DURATION = 1_000_000L;

    /** {@code --no-healthcheck}, {@code HEALTHCHECK NONE}: the image's check is off. */
    public static final HealthConfig NONE = new HealthConfig(List.of("NONE"), 0, 0, 0, 0, 0);

    public HealthConfig {
        test = test == null ? List.of() : List.copyOf(test);
    }

    /** Reads Go's zero values for nulls, as Go's decoder does. */
    @JsonCreator
    static HealthConfig json(@JsonProperty("Test") List<String> test, @JsonProperty("Interval") Long interval,
                             @JsonProperty("Timeout") Long timeout, @JsonProperty("StartPeriod") Long startPeriod,
                             @JsonProperty("StartInterval") Long startInterval, @JsonProperty("Retries") Integer retries) {
        return new HealthConfig(test, zero(interval), zero(timeout), zero(startPeriod), zero(startInterval),
                retries == null ? 0 : retries);
    }

    private static long zero(Long v) {
        return v == null ? 0 : v;
    }

    /**
     * The container's settings over the image's, field by field, as dockerd merges them: what the
     * container leaves at zero (its test too) comes from the image. Either may be null.
     */
    public static HealthConfig merge(HealthConfig container, HealthConfig image) {
        if (container == null || image == null) {
            return container != null ? container : image;
        }
        return new HealthConfig(container.test.isEmpty() ? image.test : container.test,
                or(container.interval, image.interval), or(container.timeout, image.timeout),
                or(container.startPeriod, image.startPeriod), or(container.startInterval, image.startInterval),
                container.retries != 0 ? container.retries : image.retries);
    }

    private static long or(long value, long fallback) {
        return value != 0 ? value : fallback;
    }

    /**
     * What runs in the container for one check: {@code CMD}'s argv, or {@code CMD-SHELL}'s command
     * under {@code /bin/sh -c}; empty when there is no check ({@code NONE}, no test, a type docker
     * does not know, which dockerd skips with a warning).
     */
    @JsonIgnore
    public List<String> probe() {
        if (test.size() < 2) {
            return List.of();
        }
        List<String> argv = new ArrayList<>();
        switch (test.getFirst()) {
            case "CMD" -> { }
            case "CMD-SHELL" -> argv.addAll(List.of("/bin/sh", "-c"));
            default -> {
                return List.of();
            }
        }
        argv.addAll(test.subList(1, test.size()));
        return List.copyOf(argv);
    }

    /** The interval with docker's default for 0. */
    public long intervalOrDefault() {
        return or(interval, DEFAULT_INTERVAL);
    }

    public long timeoutOrDefault() {
        return or(timeout, DEFAULT_TIMEOUT);
    }

    public long startIntervalOrDefault() {
        return or(startInterval, DEFAULT_START_INTERVAL);
    }

    /** The retries with docker's default for 0 (or less). */
    public int retriesOrDefault() {
        return retries > 0 ? retries : DEFAULT_RETRIES;
    }

    /**
     * dockerd's check of a create's settings (validateHealthCheck): null when they are fine, else
     * its message.
     */
    public String invalidity() {
        String tooShort = " in Healthcheck cannot be less than " + GoDuration.format(MINIMUM_DURATION);
        if (interval != 0 && interval < MINIMUM_DURATION) {
            return "Interval" + tooShort;
        }
        if (timeout != 0 && timeout < MINIMUM_DURATION) {
            return "Timeout" + tooShort;
        }
        if (retries < 0) {
            return "Retries in Healthcheck cannot be negative";
        }
        if (startPeriod != 0 && startPeriod < MINIMUM_DURATION) {
            return "StartPeriod" + tooShort;
        }
        if (startInterval != 0 && startInterval < MINIMUM_DURATION) {
            return "StartInterval" + tooShort;
        }
        return null;
    }
}
