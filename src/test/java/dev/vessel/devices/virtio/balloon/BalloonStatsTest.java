package dev.vessel.devices.virtio.balloon;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.Map;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.Test;

class BalloonStatsTest {
    static byte[] entries(long... tagValue) {
        ByteBuffer b = ByteBuffer.allocate(5 * tagValue.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < tagValue.length; i += 2) {
            b.putShort((short) tagValue[i]);
            b.putLong(tagValue[i + 1]);
        }
        return b.array();
    }

    @Test
    void parsesLittleEndianTagValuePairs() throws Exception {
        BalloonStats s = BalloonStats.parse(entries(4, 0x1122334455667788L, 5, 42, 0xFFFF, -1L), 7);
        assertEquals(0x1122334455667788L, s.get(BalloonStats.FREE_MEMORY));
        assertEquals(42, s.get(BalloonStats.TOTAL_MEMORY));
        assertEquals(-1L, s.get(0xFFFF));
        assertEquals(7, s.receivedAtMillis());
        Map<String, Long> expected = new LinkedHashMap<>();
        expected.put("free_bytes", 0x1122334455667788L);
        expected.put("total_bytes", 42L);
        expected.put("tag_65535", -1L);
        assertEquals(expected, s.named());
    }

    @Test
    void aLaterDuplicateWins() throws Exception {
        assertEquals(2, BalloonStats.parse(entries(6, 1, 6, 2), 0).get(BalloonStats.AVAILABLE_MEMORY));
    }

    @Test
    void malformedBuffersAreRejected() {
        assertThrows(BalloonStats.MalformedException.class, () -> BalloonStats.parse(new byte[0], 0));
        assertThrows(BalloonStats.MalformedException.class, () -> BalloonStats.parse(new byte[11], 0));
        assertThrows(BalloonStats.MalformedException.class, () -> BalloonStats.parse(new byte[9], 0));
        assertThrows(BalloonStats.MalformedException.class,
                () -> BalloonStats.parse(new byte[10 * (BalloonStats.MAX_ENTRIES + 1)], 0));
    }

    @Test
    void namesCoverLinuxTags() {
        assertEquals("swap_in_bytes", BalloonStats.name(0));
        assertEquals("hugetlb_failures", BalloonStats.name(9));
        assertEquals("direct_reclaims", BalloonStats.name(15));
        assertEquals("tag_16", BalloonStats.name(16));
    }

    @Property
    void anyWholeBufferParsesAndAnyOtherIsRejected(@ForAll byte[] raw) {
        boolean ok = raw.length > 0 && raw.length % 10 == 0 && raw.length <= 10 * BalloonStats.MAX_ENTRIES;
        try {
            BalloonStats s = BalloonStats.parse(raw, 0);
            assertEquals(true, ok);
            assertEquals(true, s.values().size() <= raw.length / 10);
        } catch (BalloonStats.MalformedException e) {
            assertEquals(false, ok);
        }
    }
}
