package dev.vessel.network;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class RoutesTest {
    @Test
    void destinationsOfProcNetRouteWithoutTheDefaultRoute() {
        String proc = """
                Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT
                eth0\t00000000\t0202000A\t0003\t0\t0\t0\t00000000\t0\t0\t0
                eth0\t0002000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
                docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0
                tun0\t072812AC\t00000000\t0005\t0\t0\t0\tFFFFFFFF\t0\t0\t0
                bad\tzz\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0
                odd\t0002000A\t00000000\t0001\t0\t0\t0\t00FF00FF\t0\t0\t0
                """;
        assertEquals(List.of(Ipv4Subnet.parse("10.0.2.0/24"), Ipv4Subnet.parse("172.17.0.0/16"),
                Ipv4Subnet.parse("172.18.40.7/32")), Routes.parse(proc));
    }
}
