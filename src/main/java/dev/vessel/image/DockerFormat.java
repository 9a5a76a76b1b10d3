package dev.vessel.image;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.time.Duration;
import java.time.Instant;

/** How docker's CLI prints sizes and ages, for output that reads the same. */
public final class DockerFormat {
    private DockerFormat() {}

    private static final String[] UNITS = {"B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"};

    /**
     * A size in decimal units with three significant digits, as {@code docker images} prints it
     * (go-units' {@code HumanSizeWithPrecision(size, 3)}): {@code 4.26MB}, {@code 1.2kB}, {@code 0B}.
     */
    public static String humanSize(long bytes) {
        return humanSize(bytes, 3);
    }

    /**
     * A size in decimal units with {@code digits} significant digits; four is go-units'
     * {@code HumanSize}, what {@code docker system df}, the prune verbs and pull progress print
     * ({@code 4.261MB}).
     */
    public static String humanSize(long bytes, int digits) {
        double size = bytes;
        int i = 0;
        while (size >= 1000 && i < UNITS.length - 1) {
            size /= 1000;
            i++;
        }
        return significant(size, digits) + UNITS[i];
    }

    private static final String[] BINARY_UNITS = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};

    /** A size in binary units, as go-units' {@code BytesSize} ({@code docker stats}' memory): {@code 1.5MiB}. */
    public static String binarySize(long bytes) {
        double size = bytes;
        int i = 0;
        while (size >= 1024 && i < BINARY_UNITS.length - 1) {
            size /= 1024;
            i++;
        }
        return significant(size, 4) + BINARY_UNITS[i];
    }

    /** Like C's and Go's {@code %.Ng}: {@code digits} significant digits, no trailing zeros. */
    static String significant(double v, int digits) {
        if (v == 0) {
            return "0";
        }
        BigDecimal d = new BigDecimal(v).round(new MathContext(digits, RoundingMode.HALF_EVEN));
        int exponent = d.precision() - d.scale() - 1;
        if (exponent < -4 || exponent >= digits) {
            BigDecimal mantissa = d.movePointLeft(exponent).stripTrailingZeros();
            return mantissa.toPlainString() + "e" + (exponent < 0 ? "-" : "+") + String.format("%02d", Math.abs(exponent));
        }
        return d.stripTrailingZeros().toPlainString();
    }

    /** A duration as docker says it: {@code Less than a second}, {@code About an hour}, {@code 3 weeks}. */
    public static String humanDuration(Duration d) {
        long seconds = d.toSeconds();
        if (seconds < 1) {
            return "Less than a second";
        }
        if (seconds == 1) {
            return "1 second";
        }
        if (seconds < 60) {
            return seconds + " seconds";
        }
        long minutes = d.toMinutes();
        if (minutes == 1) {
            return "About a minute";
        }
        if (minutes < 60) {
            return minutes + " minutes";
        }
        long hours = Math.round(d.toMillis() / 3_600_000.0);
        if (hours == 1) {
            return "About an hour";
        }
        if (hours < 48) {
            return hours + " hours";
        }
        if (hours < 24 * 7 * 2) {
            return hours / 24 + " days";
        }
        if (hours < 24 * 30 * 2) {
            return hours / 24 / 7 + " weeks";
        }
        if (hours < 24 * 365 * 2) {
            return hours / 24 / 30 + " months";
        }
        return d.toHours() / 24 / 365 + " years";
    }

    /** {@code docker images}' CREATED column: {@code 2 weeks ago}, or {@code N/A} without a date. */
    public static String createdSince(Instant created, Instant now) {
        if (created == null || created.equals(Instant.EPOCH.minusSeconds(62135596800L))) {
            return "N/A";
        }
        return humanDuration(Duration.between(created, now)) + " ago";
    }
}
