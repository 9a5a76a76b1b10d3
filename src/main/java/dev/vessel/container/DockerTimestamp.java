package dev.vessel.container;

import java.math.BigDecimal;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeFormatterBuilder;
import java.time.format.DateTimeParseException;
import java.time.temporal.ChronoField;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The times docker's filters and {@code --since}/{@code --until} take, read as dockerd reads them:
 * a Go duration before now ({@code 24h}, {@code 1h30m}, {@code 90s}), an RFC 3339 time with or
 * without its zone and seconds ({@code 2026-01-02T15:04:05Z}, {@code 2026-01-02T15:04}), a date
 * ({@code 2026-01-02}), or Unix seconds with an optional fraction ({@code 1767225600.5}). A time
 * without a zone is in the server's zone.
 */
public final class DockerTimestamp {
    private DockerTimestamp() {}

    private static final Pattern DURATION_PART = Pattern.compile("([0-9]*(?:\\.[0-9]*)?)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)");

    /**
     * {@code value} as an instant; durations count back from {@code now}.
     *
     * @throws IllegalArgumentException with dockerd's message when it is none of the forms
     */
    public static Instant parse(String value, Instant now, ZoneId zone) {
        if (value.isBlank()) {
            throw new IllegalArgumentException("failed to parse value as time or duration: value is empty");
        }
        if (!value.equals("0")) {
            Duration d = goDuration(value);
            if (d != null) {
                return now.minus(d);
            }
        }
        boolean local = !value.matches(".*[zZ+].*") && value.chars().filter(c -> c == '-').count() != 3;
        String layout;
        if (value.contains(".")) {
            layout = local ? "2006-01-02T15:04:05.999999999" : "2006-01-02T15:04:05.999999999Z07:00";
        } else if (value.contains("T")) {
            long colons = value.chars().filter(c -> c == ':').count();
            if (!local && !value.matches(".*[zZ].*") && colons > 0) {
                colons--; // the zone's offset has a colon of its own
            }
            String time = colons == 0 ? "15" : colons == 1 ? "15:04" : "15:04:05";
            layout = "2006-01-02T" + time + (local ? "" : "Z07:00");
        } else {
            layout = local ? "2006-01-02" : "2006-01-02Z07:00";
        }
        try {
            return parse(value, layout, zone);
        } catch (DateTimeParseException e) {
            if (value.contains("-")) {
                throw new IllegalArgumentException("parsing time \"" + value + "\" as \"" + layout + "\": cannot parse");
            }
        }
        return unixSeconds(value);
    }

    /** Go's time.ParseDuration, or null when {@code value} is not one (a bare number is not). */
    static Duration goDuration(String value) {
        String s = value;
        boolean negative = false;
        if (s.startsWith("-") || s.startsWith("+")) {
            negative = s.startsWith("-");
            s = s.substring(1);
        }
        if (s.equals("0")) {
            return Duration.ZERO;
        }
        Matcher m = DURATION_PART.matcher(s);
        BigDecimal nanos = BigDecimal.ZERO;
        int at = 0;
        while (at < s.length()) {
            if (!m.find(at) || m.start() != at || m.group(1).isEmpty() || m.group(1).equals(".")) {
                return null;
            }
            long unit = switch (m.group(2)) {
                case "ns" -> 1L;
                case "ms" -> 1_000_000L;
                case "s" -> 1_000_000_000L;
                case "m" -> 60_000_000_000L;
                case "h" -> 3_600_000_000_000L;
                default -> 1_000L; // us, µs, μs
            };
            nanos = nanos.add(new BigDecimal(m.group(1).endsWith(".") ? m.group(1) + "0" : m.group(1))
                    .multiply(BigDecimal.valueOf(unit)));
            at = m.end();
        }
        if (at == 0 || nanos.compareTo(BigDecimal.valueOf(Long.MAX_VALUE)) > 0) {
            return null;
        }
        Duration d = Duration.ofNanos(nanos.longValue());
        return negative ? d.negated() : d;
    }

    private static Instant parse(String value, String layout, ZoneId zone) {
        boolean zoned = layout.endsWith("Z07:00");
        String date = layout.substring(0, zoned ? layout.length() - 6 : layout.length());
        DateTimeFormatterBuilder b = new DateTimeFormatterBuilder().appendPattern("uuuu-MM-dd");
        if (date.contains("T")) {
            b.appendLiteral('T').appendPattern("HH");
            if (date.contains(":04")) {
                b.appendPattern(":mm");
            }
            if (date.contains(":05")) {
                b.appendPattern(":ss");
            }
            if (date.contains(".999")) {
                b.appendFraction(ChronoField.NANO_OF_SECOND, 0, 9, true);
            }
        }
        if (zoned) {
            b.appendOffset("+HH:MM", "Z");
        }
        DateTimeFormatter f = b.toFormatter().withResolverStyle(java.time.format.ResolverStyle.STRICT)
                .withChronology(java.time.chrono.IsoChronology.INSTANCE);
        String v = value.replace('z', 'Z');
        if (zoned && date.contains("T")) {
            return OffsetDateTime.parse(v, f).toInstant();
        }
        if (zoned) {
            var parsed = f.parse(v);
            return LocalDate.from(parsed).atStartOfDay(ZoneOffset.from(parsed)).toInstant();
        }
        if (date.contains("T")) {
            return LocalDateTime.parse(v, f).atZone(zone).toInstant();
        }
        return LocalDate.parse(v, f).atStartOfDay(zone).toInstant();
    }

    /** Seconds since the epoch, with up to nine digits of fraction (more are cut off), as dockerd reads them. */
    private static Instant unixSeconds(String value) {
        int dot = value.indexOf('.');
        String sec = dot < 0 ? value : value.substring(0, dot);
        long seconds;
        try {
            seconds = Long.parseLong(sec);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("failed to parse value as time or duration: invalid seconds \"" + sec
                    + "\": " + (sec.matches("[-+]?[0-9]+") ? "value out of range" : "invalid syntax"));
        }
        String frac = dot < 0 ? "" : value.substring(dot + 1);
        if (frac.length() > 20) {
            throw new IllegalArgumentException("failed to parse value as time or duration: invalid nanoseconds: length "
                    + frac.length() + " exceeds maximum 20");
        }
        for (int i = 0; i < frac.length(); i++) {
            if (frac.charAt(i) < '0' || frac.charAt(i) > '9') {
                throw new IllegalArgumentException("failed to parse value as time or duration: invalid nanoseconds: "
                        + "invalid character '" + frac.charAt(i) + "' at position " + i);
            }
        }
        long nanos = frac.isEmpty() ? 0 : Long.parseLong((frac + "000000000").substring(0, 9));
        return Instant.ofEpochSecond(seconds, nanos);
    }
}
