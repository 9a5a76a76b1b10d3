package dev.vessel.image;

/**
 * Durations as Go writes and reads them ({@code time.Duration}): docker's health check flags take
 * {@code 30s}, {@code 1m30s}, {@code 500ms}, and its messages print them so ({@code 1m0s}).
 */
public final class GoDuration {
    private GoDuration() {}

    private static final long MICRO = 1_000L;
    private static final long MILLI = 1_000_000L;
    private static final long SECOND = 1_000_000_000L;

    /**
     * Go's {@code time.ParseDuration}: an optional sign, then numbers (with an optional fraction)
     * each followed by a unit, ns, us (µs), ms, s, m or h; "0" alone needs none.
     *
     * @return nanoseconds
     * @throws IllegalArgumentException with Go's message ({@code time: invalid duration "x"})
     */
    public static long parse(String text) {
        String s = text;
        boolean negative = false;
        if (!s.isEmpty() && (s.charAt(0) == '-' || s.charAt(0) == '+')) {
            negative = s.charAt(0) == '-';
            s = s.substring(1);
        }
        if (s.equals("0")) {
            return 0;
        }
        if (s.isEmpty()) {
            throw invalid(text);
        }
        double total = 0;
        int i = 0;
        while (i < s.length()) {
            int start = i;
            while (i < s.length() && Character.isDigit(s.charAt(i))) {
                i++;
            }
            boolean whole = i > start;
            int dot = i;
            if (i < s.length() && s.charAt(i) == '.') {
                i++;
                while (i < s.length() && Character.isDigit(s.charAt(i))) {
                    i++;
                }
            }
            if (!whole && i - dot <= 1) {
                throw invalid(text); // no digits at all
            }
            String number = s.substring(start, i);
            int unitStart = i;
            while (i < s.length() && s.charAt(i) != '.' && !Character.isDigit(s.charAt(i))) {
                i++;
            }
            String unit = s.substring(unitStart, i);
            if (unit.isEmpty()) {
                throw new IllegalArgumentException("time: missing unit in duration " + quote(text));
            }
            long scale = switch (unit) {
                case "ns" -> 1;
                case "us", "µs", "μs" -> MICRO;
                case "ms" -> MILLI;
                case "s" -> SECOND;
                case "m" -> 60 * SECOND;
                case "h" -> 3600 * SECOND;
                default -> throw new IllegalArgumentException("time: unknown unit " + quote(unit) + " in duration " + quote(text));
            };
            total += Double.parseDouble(number.endsWith(".") ? number + "0" : number) * scale;
            if (total > Long.MAX_VALUE) {
                throw invalid(text);
            }
        }
        long nanos = Math.round(total);
        return negative ? -nanos : nanos;
    }

    /** Go's {@code Duration.String()}: {@code 0s}, {@code 1.5µs}, {@code 500ms}, {@code 30s}, {@code 1h0m0s}. */
    public static String format(long nanos) {
        if (nanos == 0) {
            return "0s";
        }
        String sign = nanos < 0 ? "-" : "";
        long u = Math.abs(nanos);
        if (u < SECOND) {
            if (u < MICRO) {
                return sign + u + "ns";
            }
            return u < MILLI ? sign + fraction(u, MICRO) + "µs" : sign + fraction(u, MILLI) + "ms";
        }
        StringBuilder b = new StringBuilder(sign);
        long seconds = u / SECOND;
        long hours = seconds / 3600;
        long minutes = seconds / 60 % 60;
        if (hours > 0) {
            b.append(hours).append('h');
        }
        if (hours > 0 || minutes > 0) {
            b.append(minutes).append('m');
        }
        return b.append(fraction(u % (60 * SECOND), SECOND)).append('s').toString();
    }

    /** {@code value / unit} with its fraction's trailing zeros (and a bare point) dropped. */
    private static String fraction(long value, long unit) {
        long whole = value / unit;
        long rest = value % unit;
        if (rest == 0) {
            return Long.toString(whole);
        }
        String digits = Long.toString(unit + rest).substring(1).replaceFirst("0+$", "");
        return whole + "." + digits;
    }

    private static IllegalArgumentException invalid(String text) {
        return new IllegalArgumentException("time: invalid duration " + quote(text));
    }

    private static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}
