package dev.vessel.network;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SubnetPoolsTest {
    private static List<Ipv4Subnet> subnets(String... s) {
        return java.util.Arrays.stream(s).map(Ipv4Subnet::parse).toList();
    }

    @Test
    void dockersOrderFirstThe172SixteensThenThe192168Twenties() {
        assertEquals(15 + 16, SubnetPools.DEFAULTS.size());
        assertEquals("172.17.0.0/16", SubnetPools.DEFAULTS.get(0).toString());
        assertEquals("172.31.0.0/16", SubnetPools.DEFAULTS.get(14).toString());
        assertEquals("192.168.0.0/20", SubnetPools.DEFAULTS.get(15).toString());
        assertEquals("192.168.240.0/20", SubnetPools.DEFAULTS.get(30).toString());
    }

    @Test
    void theFirstFreeOneIsChosen() {
        assertEquals(Optional.of(Ipv4Subnet.parse("172.17.0.0/16")), SubnetPools.choose(List.of(), List.of()));
        assertEquals(Optional.of(Ipv4Subnet.parse("172.19.0.0/16")),
                SubnetPools.choose(subnets("172.17.0.0/16", "172.18.0.0/16"), List.of()));
    }

    @Test
    void routesOfTheHostAreAvoidedButNotTheDefaultRoute() {
        // A docker0 on the host, a VPN's host route into 172.18, the helper machine's own network.
        List<Ipv4Subnet> routes = subnets("0.0.0.0/0", "172.17.0.0/16", "172.18.40.7/32", "10.0.2.0/24");
        assertEquals(Optional.of(Ipv4Subnet.parse("172.19.0.0/16")), SubnetPools.choose(List.of(), routes));
        // A route that covers all of 172.16.0.0/12 sends the choice to 192.168.
        assertEquals(Optional.of(Ipv4Subnet.parse("192.168.16.0/20")),
                SubnetPools.choose(subnets("192.168.0.0/24"), subnets("172.16.0.0/12")));
    }

    @Test
    void nothingWhenEveryPoolIsTaken() {
        List<Ipv4Subnet> taken = new ArrayList<>(SubnetPools.DEFAULTS);
        assertEquals(Optional.empty(), SubnetPools.choose(taken, List.of()));
        assertEquals(Optional.empty(), SubnetPools.choose(List.of(), subnets("172.16.0.0/12", "192.168.0.0/16")));
        taken.remove(20);
        assertEquals(Optional.of(SubnetPools.DEFAULTS.get(20)), SubnetPools.choose(taken, List.of()));
    }
}
