package dev.vessel.network;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/**
 * An IPv4 network in CIDR notation: its network address (host bits zero) and prefix length.
 *
 * @param network the first address; its host bits are zero
 * @param prefix 0 to 32
 */
public record Ipv4Subnet(Ipv4Address network, int prefix) {
    public Ipv4Subnet {
        if (prefix < 0 || prefix > 32) {
            throw new IllegalArgumentException("invalid prefix length: " + prefix);
        }
        if ((network.bits() & ~mask(prefix)) != 0) {
            throw new IllegalArgumentException("invalid subnet " + network + "/" + prefix + ": it should be "
                    + new Ipv4Address(network.bits() & mask(prefix)) + "/" + prefix);
        }
    }

    /**
     * Parses {@code A.B.C.D/N}. Host bits must be zero: {@code 10.0.0.1/24} is refused (as docker
     * does), naming {@code 10.0.0.0/24} instead.
     *
     * @throws IllegalArgumentException when {@code text} is not such a subnet
     */
    @JsonCreator
    public static Ipv4Subnet parse(String text) {
        if (text == null) {
            throw new IllegalArgumentException("invalid CIDR address: null");
        }
        int slash = text.indexOf('/');
        if (slash < 0 || slash == text.length() - 1 || text.length() - slash > 3) {
            throw new IllegalArgumentException("invalid CIDR address: " + text);
        }
        String p = text.substring(slash + 1);
        if (!p.chars().allMatch(c -> c >= '0' && c <= '9') || (p.length() > 1 && p.charAt(0) == '0')) {
            throw new IllegalArgumentException("invalid CIDR address: " + text);
        }
        int prefix = Integer.parseInt(p);
        if (prefix > 32) {
            throw new IllegalArgumentException("invalid CIDR address: " + text);
        }
        Ipv4Address address;
        try {
            address = Ipv4Address.parse(text.substring(0, slash));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException("invalid CIDR address: " + text);
        }
        return new Ipv4Subnet(address, prefix);
    }

    /** The subnet of {@code prefix} bits that holds {@code address}. */
    public static Ipv4Subnet containing(Ipv4Address address, int prefix) {
        return new Ipv4Subnet(new Ipv4Address(address.bits() & mask(prefix)), prefix);
    }

    static int mask(int prefix) {
        return prefix == 0 ? 0 : -1 << (32 - prefix);
    }

    /** How many addresses the subnet spans, network and broadcast included. */
    public long size() {
        return 1L << (32 - prefix);
    }

    /** The last address (the broadcast address of a subnet of two or more addresses). */
    public Ipv4Address broadcast() {
        return network.plus(size() - 1);
    }

    /** The netmask as an address, e.g. {@code 255.255.0.0}. */
    public Ipv4Address netmask() {
        return new Ipv4Address(mask(prefix));
    }

    public boolean contains(Ipv4Address a) {
        return (a.bits() & mask(prefix)) == network.bits();
    }

    /** Whether the two subnets share any address (one then contains the other). */
    public boolean overlaps(Ipv4Subnet other) {
        int shorter = Math.min(prefix, other.prefix);
        return (network.bits() & mask(shorter)) == (other.network.bits() & mask(shorter));
    }

    @JsonValue
    @Override
    public String toString() {
        return network + "/" + prefix;
    }
}
