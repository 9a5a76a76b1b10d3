package dev.vessel.network;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Example;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Addresses and subnets reach shell scripts and guests as their printed form: a string is either
 * refused with IllegalArgumentException or read as a value that prints back as exactly that string.
 */
class Ipv4Properties {
    @Property
    void anAddressPrintsBackAsItself(@ForAll int bits) {
        Ipv4Address a = new Ipv4Address(bits);
        assertEquals(a, Ipv4Address.parse(a.toString()));
    }

    @Property(tries = 2000)
    void aStringIsAnAddressThatPrintsAsItOrRefused(@ForAll("addressLike") String s) {
        try {
            assertEquals(s, Ipv4Address.parse(s).toString());
        } catch (IllegalArgumentException refused) {
            assertTrue(refused.getMessage().startsWith("invalid IPv4 address"), refused.getMessage());
        }
    }

    @Property(tries = 2000)
    void aStringIsASubnetThatPrintsAsItOrRefused(@ForAll("subnetLike") String s) {
        try {
            Ipv4Subnet subnet = Ipv4Subnet.parse(s);
            assertEquals(s, subnet.toString());
            assertTrue(subnet.contains(subnet.network()) && subnet.contains(subnet.broadcast()));
        } catch (IllegalArgumentException refused) {
            assertTrue(refused.getMessage().startsWith("invalid"), refused.getMessage());
        }
    }

    @Provide
    Arbitrary<String> addressLike() {
        Arbitrary<String> octet = Arbitraries.oneOf(Arbitraries.integers().between(0, 300).map(String::valueOf),
                Arbitraries.strings().withChars("0123456789-+ x").ofMinLength(0).ofMaxLength(4));
        return octet.list().ofMinSize(1).ofMaxSize(5).map(l -> String.join(".", l));
    }

    @Provide
    Arbitrary<String> subnetLike() {
        return addressLike().flatMap(a -> Arbitraries.oneOf(Arbitraries.integers().between(0, 40).map(String::valueOf),
                Arbitraries.strings().withChars("0123456789/ ").ofMaxLength(3)).map(p -> a + "/" + p));
    }

    @Property
    void overlapIsSymmetricAndMeansASharedAddress(@ForAll int a, @ForAll @IntRange(min = 8, max = 32) int pa,
                                                  @ForAll int b, @ForAll @IntRange(min = 8, max = 32) int pb) {
        Ipv4Subnet x = Ipv4Subnet.containing(new Ipv4Address(a), pa);
        Ipv4Subnet y = Ipv4Subnet.containing(new Ipv4Address(b), pb);
        assertEquals(x.overlaps(y), y.overlaps(x));
        // Subnets are nested or disjoint: they overlap exactly when one holds the other's first address.
        assertEquals(x.overlaps(y), x.contains(y.network()) || y.contains(x.network()));
    }

    @Example
    void strictForms() {
        for (String bad : List.of("", "1.2.3", "1.2.3.4.5", "01.2.3.4", "1.2.3.256", "1.2.3.-1", " 1.2.3.4", "1.2.3.4 ",
                "+1.2.3.4", "1..2.3", "0x1.2.3.4")) {
            assertThrows(IllegalArgumentException.class, () -> Ipv4Address.parse(bad), bad);
        }
        assertEquals("invalid subnet 10.1.2.3/24: it should be 10.1.2.0/24",
                assertThrows(IllegalArgumentException.class, () -> Ipv4Subnet.parse("10.1.2.3/24")).getMessage());
        for (String bad : List.of("10.0.0.0", "10.0.0.0/", "10.0.0.0/33", "10.0.0.0/08", "10.0.0.0/-1", "/8", "10.0.0.0/8/8")) {
            assertThrows(IllegalArgumentException.class, () -> Ipv4Subnet.parse(bad), bad);
        }
        Ipv4Subnet s = Ipv4Subnet.parse("192.168.16.0/20");
        assertEquals("192.168.31.255", s.broadcast().toString());
        assertEquals("255.255.240.0", s.netmask().toString());
        assertEquals(4096, s.size());
        assertTrue(s.contains(Ipv4Address.parse("192.168.20.7")));
        assertFalse(s.contains(Ipv4Address.parse("192.168.32.0")));
    }
}
