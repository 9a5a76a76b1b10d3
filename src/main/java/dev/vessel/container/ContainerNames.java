package dev.vessel.container;

import java.security.SecureRandom;
import java.util.Random;
import java.util.function.Predicate;

/** Container names: docker's syntax, and a readable generated name when the user gives none. */
public final class ContainerNames {
    private ContainerNames() {}

    private static final String[] ADJECTIVES = {"brave", "calm", "eager", "fond", "gentle", "happy", "jolly",
            "keen", "lucid", "merry", "nifty", "proud", "quirky", "sharp", "tender", "vivid", "witty", "zen"};
    private static final String[] NAMES = {"babbage", "curie", "darwin", "euler", "fermi", "gauss", "hopper",
            "knuth", "lovelace", "noether", "pascal", "ritchie", "shannon", "turing", "volta", "wozniak"};

    /** Docker's name syntax ({@code [a-zA-Z0-9][a-zA-Z0-9_.-]*}), at most 128 characters. */
    public static boolean isValid(String name) {
        return name != null && name.matches("[a-zA-Z0-9][a-zA-Z0-9_.-]{0,127}");
    }

    /** Docker's message for a name that {@link #isValid} refuses. */
    static ContainerException invalid(String name) {
        return ContainerException.invalid("Invalid container name (" + name + "), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
    }

    /**
     * An "adjective_scientist" name that {@code inUse} does not know; after ten tries a number is
     * added, and after a hundred a random one is taken.
     */
    public static String generate(Predicate<String> inUse) {
        return generate(inUse, new SecureRandom());
    }

    static String generate(Predicate<String> inUse, Random r) {
        for (int i = 0; i < 100; i++) {
            String n = ADJECTIVES[r.nextInt(ADJECTIVES.length)] + "_" + NAMES[r.nextInt(NAMES.length)]
                    + (i >= 10 ? Integer.toString(r.nextInt(100)) : "");
            if (!inUse.test(n)) {
                return n;
            }
        }
        return "vessel_" + Long.toHexString(r.nextLong());
    }
}
