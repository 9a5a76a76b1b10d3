package dev.vessel.container;

import java.time.Duration;
import java.time.Instant;

/** Durations as docker prints them ("5 seconds", "About an hour"): go-units' HumanDuration. */
public final class HumanDuration {
    private HumanDuration() {}

    public static String of(Duration d) {
        long s = Math.max(0, d.toSeconds());
        if (s < 1) {
            return "Less than a second";
        } else if (s == 1) {
            return "1 second";
        } else if (s < 60) {
            return s + " seconds";
        }
        long m = d.toMinutes();
        if (m == 1) {
            return "About a minute";
        } else if (m < 60) {
            return m + " minutes";
        }
        long h = Math.round(d.toSeconds() / 3600.0);
        if (h == 1) {
            return "About an hour";
        } else if (h < 48) {
            return h + " hours";
        } else if (h < 24 * 7 * 2) {
            return h / 24 + " days";
        } else if (h < 24 * 30 * 2) {
            return h / 24 / 7 + " weeks";
        } else if (h < 24 * 365 * 2) {
            return h / 24 / 30 + " months";
        }
        return h / 24 / 365 + " years";
    }

    /** The time from an RFC 3339 instant to {@code now}; zero for an empty or malformed one. */
    public static Duration since(String rfc3339, Instant now) {
        try {
            return Duration.between(Instant.parse(rfc3339), now);
        } catch (RuntimeException e) {
            return Duration.ZERO;
        }
    }
}
