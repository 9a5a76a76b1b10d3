package dev.vessel.image;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * A content digest, {@code sha256:<64 lowercase hex>}: the name of every blob in the store. Only
 * sha256 is accepted (what every registry and tool writes); anything else is refused when parsed.
 */
public record Digest(String hex) implements Comparable<Digest> {
    private static final Pattern HEX64 = Pattern.compile("[0-9a-f]{64}");

    public Digest {
        if (hex == null || !HEX64.matcher(hex).matches()) {
            throw new IllegalArgumentException("invalid sha256 digest: " + hex);
        }
    }

    /** Parses {@code sha256:<hex>}; throws IllegalArgumentException with the offending text otherwise. */
    @JsonCreator
    public static Digest parse(String s) {
        if (s == null || !s.startsWith("sha256:")) {
            throw new IllegalArgumentException("invalid digest (only sha256:<64 hex> is supported): " + s);
        }
        return new Digest(s.substring(7));
    }

    public static boolean isValid(String s) {
        return s != null && s.startsWith("sha256:") && HEX64.matcher(s.substring(7)).matches();
    }

    public static boolean isHex64(String s) {
        return s != null && HEX64.matcher(s).matches();
    }

    public static Digest of(byte[] bytes) {
        return new Digest(HexFormat.of().formatHex(sha256().digest(bytes)));
    }

    public static Digest of(MessageDigest finished) {
        return new Digest(HexFormat.of().formatHex(finished.digest()));
    }

    public static MessageDigest sha256() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    /** The first 12 hex digits, as docker shows image ids. */
    public String shortHex() {
        return hex.substring(0, 12);
    }

    @Override
    @JsonValue
    public String toString() {
        return "sha256:" + hex;
    }

    @Override
    public int compareTo(Digest o) {
        return hex.compareTo(o.hex);
    }
}
