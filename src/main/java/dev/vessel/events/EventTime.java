package dev.vessel.events;

import java.math.BigDecimal;
import java.time.DateTimeException;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.temporal.ChronoField;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The times {@code docker events --since/--until} take, as docker reads them: a Go duration
 * before {@code now} ({@code 10m}, {@code 1h30m}, {@code 1.5h}), an RFC 3339 time (with a zone, or
 * in the local one without: {@code 2026-12-07T12:00:00Z}, {@code 2026-12-07T13:00},
 * {@code 2026-12-07}), or Unix seconds with an optional fraction ({@code 1796644800.5}), which is
 * what the docker CLI sends the API.
 */
public final class EventTime {
    private EventTime() {}

    private static final Pattern UNIX = Pattern.compile("(-?[0-9]{1,18})(?:\\.([0-9]{1,18}))?");
    private static final Pattern DURATION = Pattern.compile("[-+]?(?:[0-9]*(?:\\.[0-9]*)?(?:ns|us|µs|μs|ms|s|m|h))+");
    private static final Pattern DURATION_PART = Pattern.compile("([0-9]*(?:\\.[0-9]*)?)(ns|us|µs|μs|ms|s|m|h)");
    /** RFC 3339's date and time, the minutes, seconds and fraction optional (docker takes {@code 2006-01-02T15}). */
    private static final DateTimeFormatter DATE_TIME = new DateTimeFormatterBuilder()
            .appendPattern("uuuu-MM-dd'T'HH")
            .optionalStart().appendPattern(":mm")
            .optionalStart().appendPattern(":ss")
            .optionalStart().appendFraction(ChronoField.NANO_OF_SECOND, 1, 9, true).optionalEnd()
            .optionalEnd().optionalEnd()
            .toFormatter();
    private static final DateTimeFormatter ZONED = new DateTimeFormatterBuilder()
            .append(DATE_TIME).appendOffset("+HH:MM", "Z").toFormatter();
    private static final DateTimeFormatter DATE_ZONED = new DateTimeFormatterBuilder()
            .appendPattern("uuuu-MM-dd").appendOffset("+HH:MM", "Z").toFormatter();

    /**
     * The time {@code value} names, durations counting back from {@code now}, zoneless times in
     * {@code zone}.
     *
     * @throws IllegalArgumentException docker's "failed to parse value as time or duration"
     */
    public static Instant parse(String value, Instant now, ZoneId zone) {
        String v = value.strip().replace('z', 'Z');
        try {
            if (!v.equals("0") && DURATION.matcher(v).matches()) {
                return now.minusNanos(durationNanos(v));
            }
            Matcher unix = UNIX.matcher(v);
            if (unix.matches()) {
                long seconds = Long.parseLong(unix.group(1));
                long nanos = 0;
                if (unix.group(2) != null) {
                    String f = (unix.group(2) + "000000000").substring(0, 9); // as docker: digits past 9 dropped
                    nanos = Long.parseLong(f);
                }
                return Instant.ofEpochSecond(seconds, nanos);
            }
            if (v.contains("T")) {
                boolean zoned = v.endsWith("Z") || v.lastIndexOf('+') > v.indexOf('T') || v.lastIndexOf('-') > v.indexOf('T');
                return zoned ? OffsetDateTime.parse(v, ZONED).toInstant()
                        : LocalDateTime.parse(v, DATE_TIME).atZone(zone).toInstant();
            }
            if (v.length() > 10) {
                return OffsetDateTime.of(LocalDate.parse(v, DATE_ZONED), java.time.LocalTime.MIDNIGHT,
                        ZoneOffset.from(DATE_ZONED.parse(v))).toInstant();
            }
            return LocalDate.parse(v).atStartOfDay(zone).toInstant();
        } catch (DateTimeException | ArithmeticException | NumberFormatException e) {
            throw new IllegalArgumentException("failed to parse value as time or duration: \"" + value + "\"");
        }
    }

    /** {@link #parse} in this host's zone. */
    public static Instant parse(String value, Instant now) {
        return parse(value, now, ZoneId.systemDefault());
    }

    /** A Go duration ({@code time.ParseDuration}) in nanoseconds. */
    static long durationNanos(String v) {
        boolean negative = v.startsWith("-");
        String rest = v.startsWith("-") || v.startsWith("+") ? v.substring(1) : v;
        BigDecimal total = BigDecimal.ZERO;
        Matcher m = DURATION_PART.matcher(rest);
        while (m.find()) {
            if (m.group(1).isEmpty() || m.group(1).equals(".")) {
                throw new NumberFormatException("no number before " + m.group(2));
            }
            long unit = switch (m.group(2)) {
                case "ns" -> 1L;
                case "us", "µs", "μs" -> 1_000L;
                case "ms" -> 1_000_000L;
                case "s" -> 1_000_000_000L;
                case "m" -> 60_000_000_000L;
                default -> 3_600_000_000_000L;
            };
            total = total.add(new BigDecimal(m.group(1)).multiply(BigDecimal.valueOf(unit)));
        }
        long nanos = total.setScale(0, java.math.RoundingMode.DOWN).longValueExact();
        return negative ? -nanos : nanos;
    }
}
