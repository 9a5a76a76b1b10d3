package dev.vessel.devices.virtio.vsock;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

/** The 44-byte header: every byte pattern parses, and parsing and encoding are inverse. */
class VsockHeaderProperties {
    @Property
    void anyFortyFourBytesParseAndEncodeBackToThemselves(@ForAll @Size(min = VsockHeader.SIZE, max = 80) byte[] raw) {
        VsockHeader h = VsockHeader.decode(raw);
        assertArrayEquals(Arrays.copyOf(raw, VsockHeader.SIZE), h.encode());
        assertNotNull(h.toString());
        assertEquals(h, VsockHeader.decode(h.encode()));
    }

    @Property
    void fieldsSurviveARoundTrip(@ForAll long srcCid, @ForAll long dstCid, @ForAll int srcPort, @ForAll int dstPort,
            @ForAll int len, @ForAll @IntRange(max = 0xFFFF) int type, @ForAll @IntRange(max = 0xFFFF) int op,
            @ForAll int flags, @ForAll int bufAlloc, @ForAll int fwdCnt) {
        VsockHeader h = new VsockHeader(srcCid, dstCid, srcPort, dstPort, len, type, op, flags, bufAlloc, fwdCnt);
        assertEquals(h, VsockHeader.decode(h.encode()));
        assertEquals(h.withLen(7), VsockHeader.decode(h.withLen(7).encode()));
    }

    @Property
    void shorterInputIsAnIllegalArgumentNothingElse(@ForAll @Size(max = VsockHeader.SIZE - 1) byte[] raw) {
        assertThrows(IllegalArgumentException.class, () -> VsockHeader.decode(raw));
    }
}
