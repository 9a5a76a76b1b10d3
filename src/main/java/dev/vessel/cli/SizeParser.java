package dev.vessel.cli;

import java.util.Locale;

/** Parses sizes like 256M, 2G, 512MiB, 1073741824b; a bare number means MiB, as QEMU's -m does. */
final class SizeParser {
    private SizeParser() {}

    static long parse(String text) {
        String s = text.strip().toUpperCase(Locale.ROOT);
        if (s.endsWith("IB")) {
            s = s.substring(0, s.length() - 2);
        } else if (s.endsWith("B") && s.length() > 1 && !Character.isDigit(s.charAt(s.length() - 2))) {
            s = s.substring(0, s.length() - 1);
        }
        long unit = 1L << 20;
        if (!s.isEmpty()) {
            switch (s.charAt(s.length() - 1)) {
                case 'B' -> { unit = 1; s = s.substring(0, s.length() - 1); }
                case 'K' -> { unit = 1L << 10; s = s.substring(0, s.length() - 1); }
                case 'M' -> { unit = 1L << 20; s = s.substring(0, s.length() - 1); }
                case 'G' -> { unit = 1L << 30; s = s.substring(0, s.length() - 1); }
                case 'T' -> { unit = 1L << 40; s = s.substring(0, s.length() - 1); }
                default -> { }
            }
        }
        if (s.isEmpty() || !s.chars().allMatch(Character::isDigit) || s.length() > 15) {
            throw new IllegalArgumentException("'" + text + "' is not a size (examples: 256M, 2G)");
        }
        long n = Long.parseLong(s);
        if (n > Long.MAX_VALUE / unit) {
            throw new IllegalArgumentException("'" + text + "' is too large");
        }
        return n * unit;
    }
}
