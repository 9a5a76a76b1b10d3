package dev.vessel.network;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/**
 * An IPv4 address. Parsed strictly (four decimal octets, no leading zeros, nothing else), so what
 * one prints is exactly what a shell script or a guest receives.
 *
 * @param bits the address as an unsigned 32-bit number in an int
 */
public record Ipv4Address(int bits) implements Comparable<Ipv4Address> {
    /**
     * Parses a dotted quad such as {@code 172.17.0.1}.
     *
     * @throws IllegalArgumentException when {@code text} is not one
     */
    @JsonCreator
    public static Ipv4Address parse(String text) {
        if (text == null || text.isEmpty() || text.length() > 15) {
            throw new IllegalArgumentException("invalid IPv4 address: " + text);
        }
        String[] parts = text.split("\\.", -1);
        if (parts.length != 4) {
            throw new IllegalArgumentException("invalid IPv4 address: " + text);
        }
        int bits = 0;
        for (String p : parts) {
            // No sign, no leading zero (octal in some parsers), at most three digits.
            if (p.isEmpty() || p.length() > 3 || !p.chars().allMatch(c -> c >= '0' && c <= '9')
                    || (p.length() > 1 && p.charAt(0) == '0')) {
                throw new IllegalArgumentException("invalid IPv4 address: " + text);
            }
            int octet = Integer.parseInt(p);
            if (octet > 255) {
                throw new IllegalArgumentException("invalid IPv4 address: " + text);
            }
            bits = (bits << 8) | octet;
        }
        return new Ipv4Address(bits);
    }

    /** The address as a non-negative long (0 to 2^32-1). */
    public long value() {
        return Integer.toUnsignedLong(bits);
    }

    /** The address {@code n} places on (wrapping at 2^32). */
    public Ipv4Address plus(long n) {
        return new Ipv4Address((int) (value() + n));
    }

    /** The four octets, most significant first. */
    public byte[] octets() {
        return new byte[] {(byte) (bits >>> 24), (byte) (bits >>> 16), (byte) (bits >>> 8), (byte) bits};
    }

    @Override
    public int compareTo(Ipv4Address o) {
        return Integer.compareUnsigned(bits, o.bits);
    }

    @JsonValue
    @Override
    public String toString() {
        return (bits >>> 24) + "." + ((bits >>> 16) & 0xff) + "." + ((bits >>> 8) & 0xff) + "." + (bits & 0xff);
    }
}
