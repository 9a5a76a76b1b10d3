package dev.vessel.devices.virtio.net;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import org.junit.jupiter.api.Test;

class MacAddressTest {
    @Test
    void parsesSixHexOctets() {
        MacAddress m = MacAddress.parse("02:00:5E:10:ab:CD");
        assertArrayEquals(new byte[] {2, 0, 0x5e, 0x10, (byte) 0xab, (byte) 0xcd}, m.octets());
        assertEquals("02:00:5e:10:ab:cd", m.toString());
        assertEquals(m, MacAddress.parse("02-00-5e-10-ab-cd"));
        assertTrue(m.isLocallyAdministered());
        assertEquals(MacAddress.parse("52:54:00:12:34:56"), MacAddress.of(new byte[] {0x52, 0x54, 0, 0x12, 0x34, 0x56}));
    }

    @Test
    void refusesWhatIsNotAUnicastAddress() {
        for (String bad : new String[] {"", "02:00:00:00:00", "02:00:00:00:00:00:00", "02:00:00:00:00:0g",
            "02:00:00-00:00:00", "02.00.00.00.00.00", "2:0:0:0:0:0:0", " 02:00:00:00:00:01", "02:00:00:00:00:01 ",
            "0x:00:00:00:00:01", "02:00:00:00:00:\u0661\u0662", "02:00:00:00:00:\uff11\uff12", "+2:00:00:00:00:01"}) {
            assertThrows(IllegalArgumentException.class, () -> MacAddress.parse(bad), bad);
        }
        IllegalArgumentException multicast = assertThrows(IllegalArgumentException.class,
                () -> MacAddress.parse("01:00:5e:00:00:01"));
        assertTrue(multicast.getMessage().contains("multicast"), multicast.getMessage());
        assertThrows(IllegalArgumentException.class, () -> MacAddress.parse("ff:ff:ff:ff:ff:ff"), "broadcast");
        assertThrows(IllegalArgumentException.class, () -> MacAddress.parse("00:00:00:00:00:00"));
        assertThrows(IllegalArgumentException.class, () -> MacAddress.parse(null));
        assertThrows(IllegalArgumentException.class, () -> MacAddress.of(new byte[5]));
    }

    @Test
    void randomAddressesAreLocallyAdministeredUnicastAndDiffer() {
        Set<MacAddress> seen = new HashSet<>();
        for (int i = 0; i < 100; i++) {
            MacAddress m = MacAddress.randomLocal();
            assertEquals(0x02, m.octets()[0], "02: prefix");
            assertTrue(m.isLocallyAdministered());
            assertEquals(m, MacAddress.parse(m.toString()));
            seen.add(m);
        }
        assertTrue(seen.size() > 95, "random: " + seen.size() + " distinct of 100");
    }

    @Test
    void octetsAreACopy() {
        MacAddress m = MacAddress.parse("02:00:00:00:00:01");
        m.octets()[5] = 9;
        assertEquals("02:00:00:00:00:01", m.toString());
        byte[] b = {2, 0, 0, 0, 0, 1};
        MacAddress n = MacAddress.of(b);
        b[5] = 7;
        assertNotEquals(MacAddress.parse("02:00:00:00:00:07"), n);
    }

    @Provide
    Arbitrary<byte[]> unicast() {
        return Arbitraries.bytes().array(byte[].class).ofSize(6)
                .filter(b -> (b[0] & 1) == 0 && !java.util.Arrays.equals(b, new byte[6]));
    }

    @Property(tries = 300)
    void everyUnicastAddressSurvivesItsTextForm(@ForAll("unicast") byte[] octets, @ForAll boolean upper) {
        MacAddress m = MacAddress.of(octets);
        String text = upper ? m.toString().toUpperCase(java.util.Locale.ROOT) : m.toString();
        assertEquals(m, MacAddress.parse(text));
        assertEquals(m.toString(), MacAddress.parse(text.replace(':', '-')).toString());
    }
}
