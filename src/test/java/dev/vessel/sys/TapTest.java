package dev.vessel.sys;

import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * TAP names are checked before anything reaches the kernel. (Opening real TAPs is tested in a
 * network namespace of its own: VirtioNetTapTest; never here, in the host's.)
 */
class TapTest {
    @Test
    void namesTheKernelAndToolsTakeAsTheyAre() {
        for (String ok : new String[] {"tap0", "vessel-net.1", "T_9", "a", "abcdefghijklmno"}) {
            assertNull(Tap.checkName(ok), ok);
        }
    }

    @Test
    void namesThatAreRefused() {
        for (String bad : new String[] {"", "abcdefghijklmnop", "tap%d", "a/b", "a:1", "a b", "tap\n", ".", "..",
            "-tap", "t\u00e4p", "tap\u0000"}) {
            assertNotNull(Tap.checkName(bad), bad);
            assertThrows(IllegalArgumentException.class, () -> Tap.open(bad, 12), bad);
        }
        assertNotNull(Tap.checkName(null));
        assertTrue(Tap.checkName("abcdefghijklmnop").contains("15"));
    }

    @Test
    void headerSizesOutsideWhatTheKernelTakesAreRefusedFirst() {
        assertThrows(IllegalArgumentException.class, () -> Tap.open("tap0", 9));
        assertThrows(IllegalArgumentException.class, () -> Tap.open("tap0", 100));
    }
}
