package dev.vessel.network;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;

/**
 * Docker's default address pools for bridge networks, in the order it takes from them: the /16s
 * from 172.17.0.0 to 172.31.0.0, then the /20s of 192.168.0.0/16. A new network gets the first
 * that overlaps neither another network nor a route of the host where its bridge will live (a
 * subnet that overlaps a route would hide that route's destinations from the containers).
 */
public final class SubnetPools {
    private SubnetPools() {}

    /** Every candidate, in order. */
    public static final List<Ipv4Subnet> DEFAULTS = defaults();

    private static List<Ipv4Subnet> defaults() {
        List<Ipv4Subnet> out = new ArrayList<>();
        for (int second = 17; second <= 31; second++) {
            out.add(Ipv4Subnet.parse("172." + second + ".0.0/16"));
        }
        for (int third = 0; third < 256; third += 16) {
            out.add(Ipv4Subnet.parse("192.168." + third + ".0/20"));
        }
        return List.copyOf(out);
    }

    /**
     * The first default subnet that overlaps none of {@code taken} (other networks' subnets) and
     * none of {@code routes} (the default route, 0.0.0.0/0, is no obstacle: it covers everything).
     */
    public static Optional<Ipv4Subnet> choose(Collection<Ipv4Subnet> taken, Collection<Ipv4Subnet> routes) {
        for (Ipv4Subnet candidate : DEFAULTS) {
            if (taken.stream().noneMatch(candidate::overlaps)
                    && routes.stream().filter(r -> r.prefix() > 0).noneMatch(candidate::overlaps)) {
                return Optional.of(candidate);
            }
        }
        return Optional.empty();
    }
}
