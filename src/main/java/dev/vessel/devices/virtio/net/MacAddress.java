package dev.vessel.devices.virtio.net;

import java.security.SecureRandom;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * A unicast Ethernet address (EUI-48), the one a virtio-net device offers its guest. Multicast
 * addresses (low bit of the first octet set) and the all-zero address cannot be a card's own and
 * are refused.
 */
public final class MacAddress {
    public static final int LENGTH = 6;

    private final byte[] octets;

    private MacAddress(byte[] octets) {
        this.octets = octets;
    }

    /**
     * The address of these six octets.
     *
     * @throws IllegalArgumentException if they are not six, or not a unicast address
     */
    public static MacAddress of(byte[] octets) {
        if (octets.length != LENGTH) {
            throw new IllegalArgumentException("a MAC address has 6 octets, not " + octets.length);
        }
        byte[] copy = octets.clone();
        if ((copy[0] & 1) != 0) {
            throw new IllegalArgumentException(format(copy) + " is a multicast address, not a card's own");
        }
        if (Arrays.equals(copy, new byte[LENGTH])) {
            throw new IllegalArgumentException("00:00:00:00:00:00 is not a usable MAC address");
        }
        return new MacAddress(copy);
    }

    /**
     * Parses six two-digit hexadecimal octets separated by ':' (or all by '-'), e.g.
     * {@code 02:00:00:12:34:56}.
     *
     * @throws IllegalArgumentException if it is not such an address, or not unicast
     */
    public static MacAddress parse(String text) {
        if (text == null || text.length() != 17) {
            throw new IllegalArgumentException("'" + text + "' is not a MAC address (six hex octets, as 02:00:00:12:34:56)");
        }
        char sep = text.charAt(2);
        if (sep != ':' && sep != '-') {
            throw new IllegalArgumentException("'" + text + "' is not a MAC address (six hex octets, as 02:00:00:12:34:56)");
        }
        byte[] b = new byte[LENGTH];
        for (int i = 0; i < LENGTH; i++) {
            int at = 3 * i;
            if (i > 0 && text.charAt(at - 1) != sep) {
                throw new IllegalArgumentException("'" + text + "' is not a MAC address (six hex octets, as 02:00:00:12:34:56)");
            }
            int hi = hexDigit(text.charAt(at));
            int lo = hexDigit(text.charAt(at + 1));
            if (hi < 0 || lo < 0) {
                throw new IllegalArgumentException("'" + text + "' is not a MAC address (six hex octets, as 02:00:00:12:34:56)");
            }
            b[i] = (byte) (hi << 4 | lo);
        }
        return of(b);
    }

    private static int hexDigit(char c) {
        if (c >= '0' && c <= '9') {
            return c - '0';
        }
        if (c >= 'a' && c <= 'f') {
            return c - 'a' + 10;
        }
        if (c >= 'A' && c <= 'F') {
            return c - 'A' + 10;
        }
        return -1;
    }

    /**
     * A random locally administered unicast address: first octet 0x02 (no vendor prefix to clash
     * with real cards), five random octets.
     */
    public static MacAddress randomLocal(SecureRandom random) {
        byte[] b = new byte[LENGTH];
        random.nextBytes(b);
        b[0] = 0x02;
        if (b[1] == 0 && b[2] == 0 && b[3] == 0 && b[4] == 0 && b[5] == 0) {
            b[5] = 1;
        }
        return new MacAddress(b);
    }

    public static MacAddress randomLocal() {
        return randomLocal(new SecureRandom());
    }

    public byte[] octets() {
        return octets.clone();
    }

    /** Whether the address is locally administered (bit 1 of the first octet) rather than a vendor's. */
    public boolean isLocallyAdministered() {
        return (octets[0] & 2) != 0;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MacAddress m && Arrays.equals(octets, m.octets);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(octets);
    }

    /** Lower-case, colon-separated: {@code 02:00:00:12:34:56}. */
    @Override
    public String toString() {
        return format(octets);
    }

    private static String format(byte[] b) {
        return HexFormat.ofDelimiter(":").formatHex(b);
    }
}
