package dev.vessel.host;

import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/**
 * The jar this Vessel runs from. Processes Vessel starts for itself (a container's supervisor, the
 * helper machine's VMMs) run the same jar, so they are the same build as the command that started them.
 */
public final class VesselJar {
    private VesselJar() {}

    /** The jar, or empty when Vessel's classes come from a folder (tests, an IDE). */
    public static Optional<Path> path() {
        try {
            Path p = Path.of(VesselJar.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (Files.isRegularFile(p) && p.getFileName().toString().endsWith(".jar")) {
                return Optional.of(p);
            }
        } catch (URISyntaxException | SecurityException | NullPointerException e) {
            // no code source: not from a jar
        }
        return Optional.empty();
    }

    /** The jar, or an exception saying that {@code what} needs one. */
    public static Path require(String what) throws java.io.IOException {
        return path().orElseThrow(() -> new java.io.IOException(
                what + " runs Vessel's jar, and this Vessel is not running from one (use ./vessel)"));
    }
}
