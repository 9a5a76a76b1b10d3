package dev.vessel.network;

import java.nio.file.Files;
import java.nio.file.Path;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;

/**
 * The IPv4 routes of a host, from the kernel's {@code /proc/net/route}: each route's destination
 * subnet. The default route is left out (it overlaps everything, and hides nothing).
 */
public final class Routes {
    private Routes() {}

    /** This host's routes (its main routing table). */
    public static List<Ipv4Subnet> ofThisHost() throws IOException {
        return parse(Files.readString(Path.of("/proc/net/route")));
    }

    /**
     * Parses {@code /proc/net/route}: a header line, then one route per line with the interface,
     * destination, gateway, flags, ... and mask, the addresses in hex in the kernel's byte order
     * (little-endian on x86-64, the only architecture Vessel runs on). Lines it cannot read are
     * skipped.
     */
    public static List<Ipv4Subnet> parse(String procNetRoute) {
        LinkedHashSet<Ipv4Subnet> out = new LinkedHashSet<>();
        List<String> lines = procNetRoute.lines().toList();
        for (int i = 1; i < lines.size(); i++) {
            String[] f = lines.get(i).trim().split("\\s+");
            if (f.length < 8) {
                continue;
            }
            try {
                int destination = Integer.reverseBytes(Integer.parseUnsignedInt(f[1], 16));
                int mask = Integer.reverseBytes(Integer.parseUnsignedInt(f[7], 16));
                int prefix = Integer.bitCount(mask);
                if (mask != Ipv4Subnet.mask(prefix) || prefix == 0) {
                    continue;
                }
                out.add(Ipv4Subnet.containing(new Ipv4Address(destination), prefix));
            } catch (NumberFormatException e) {
                // not a route line
            }
        }
        return new ArrayList<>(out);
    }
}
