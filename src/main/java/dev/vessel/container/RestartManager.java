package dev.vessel.container;

import java.time.Duration;
import java.util.Optional;

/**
 * One supervisor's restarts of its container's main process under a {@link RestartPolicy}, as
 * dockerd's restart manager decides them: each restart waits 100 ms, doubled after each one up to
 * a minute, back to 100 ms once the process ran for 10 s; {@code on-failure:N} counts the
 * restarts since the container was started.
 */
final class RestartManager {
    static final Duration FIRST_DELAY = Duration.ofMillis(100);
    static final Duration MAX_DELAY = Duration.ofMinutes(1);
    /** A process that ran this long was healthy: the next delay starts again from the first. */
    static final Duration RESET_AFTER = Duration.ofSeconds(10);

    private final RestartPolicy policy;
    private Duration delay = Duration.ZERO;
    private int restarts;

    RestartManager(RestartPolicy policy) {
        this.policy = policy;
    }

    /**
     * After the main process ended with {@code exitCode} having run for {@code ran}: how long to
     * wait before it starts again, or empty when it does not.
     */
    Optional<Duration> afterExit(int exitCode, boolean stoppedByUser, Duration ran) {
        // As dockerd: the delay moves on whatever the decision, so a later restart is not faster.
        if (ran.compareTo(RESET_AFTER) >= 0) {
            delay = Duration.ZERO;
        }
        delay = delay.isZero() ? FIRST_DELAY : delay.multipliedBy(2);
        if (delay.compareTo(MAX_DELAY) > 0) {
            delay = MAX_DELAY;
        }
        if (!policy.restartsAfter(exitCode, stoppedByUser, restarts)) {
            return Optional.empty();
        }
        restarts++;
        return Optional.of(delay);
    }

    /** The restarts so far. */
    int restarts() {
        return restarts;
    }
}
