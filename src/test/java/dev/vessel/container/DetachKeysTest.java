package dev.vessel.container;

import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DetachKeysTest {
    @Test
    void specsFollowDockersSyntax() throws Exception {
        assertArrayEquals(new byte[] {16, 17}, DetachKeys.parse("ctrl-p,ctrl-q").sequence());
        assertArrayEquals(new byte[] {'a', 3}, DetachKeys.parse("a,ctrl-c").sequence());
        assertArrayEquals(new byte[] {0, 27, 28, 29, 30, 31}, DetachKeys.parse("ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_").sequence());
        assertArrayEquals(new byte[0], DetachKeys.parse("").sequence());
        for (String bad : new String[] {"ctrl-1", "shift-a", "ab", "ctrl-"}) {
            ContainerException e = assertThrows(ContainerException.class, () -> DetachKeys.parse(bad));
            assertEquals("invalid detach keys: " + bad, e.getMessage());
            assertEquals(125, e.status());
        }
    }

    @Test
    void inputBeforeTheSequenceIsSentAndTheSequenceIsNot() throws Exception {
        DetachKeys.Matcher m = DetachKeys.parse("ctrl-p,ctrl-q").matcher();
        DetachKeys.Scan s = m.scan(new byte[] {'x', 'y', 16, 17, 'z'}, 0, 5);
        assertTrue(s.detach());
        assertArrayEquals(new byte[] {'x', 'y'}, s.forward());
    }

    @Test
    void aBeginningIsHeldUntilTheNextByteTells() throws Exception {
        DetachKeys.Matcher m = DetachKeys.parse("ctrl-p,ctrl-q").matcher();
        DetachKeys.Scan first = m.scan(new byte[] {'a', 16}, 0, 2);
        assertArrayEquals(new byte[] {'a'}, first.forward(), "ctrl-p may begin the sequence: held");
        assertFalse(first.detach());
        DetachKeys.Scan second = m.scan(new byte[] {'b'}, 0, 1);
        assertArrayEquals(new byte[] {16, 'b'}, second.forward(), "it did not: sent with what followed");
        assertTrue(m.scan(new byte[] {16}, 0, 1).forward().length == 0);
        assertTrue(m.scan(new byte[] {17}, 0, 1).detach(), "the sequence across two reads");
    }

    @Test
    void overlappingBeginningsAreFound() throws Exception {
        DetachKeys.Matcher m = DetachKeys.parse("a,a,b").matcher();
        DetachKeys.Scan s = m.scan(new byte[] {'a', 'a', 'a', 'b'}, 0, 4);
        assertTrue(s.detach());
        assertArrayEquals(new byte[] {'a'}, s.forward());
    }

    @Test
    void withoutKeysEverythingIsInput() {
        DetachKeys.Scan s = DetachKeys.NONE.matcher().scan(new byte[] {1, 16, 17, 2}, 1, 2);
        assertArrayEquals(new byte[] {16, 17}, s.forward());
        assertFalse(s.detach());
    }

    /** Whatever the chunks, input without the sequence arrives whole and in order. */
    @Property
    void inputWithoutTheSequenceIsPassedOnWhole(@ForAll byte[] input, @ForAll int cut) throws Exception {
        byte[] clean = new byte[input.length];
        for (int i = 0; i < input.length; i++) {
            clean[i] = input[i] == 17 ? 18 : input[i]; // no ctrl-q: the sequence cannot complete
        }
        DetachKeys.Matcher m = DetachKeys.parse("ctrl-p,ctrl-q").matcher();
        int at = clean.length == 0 ? 0 : Math.floorMod(cut, clean.length + 1);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(m.scan(clean, 0, at).forward());
        out.write(m.scan(clean, at, clean.length - at).forward());
        out.write(m.scan(new byte[] {'!'}, 0, 1).forward()); // releases a held ctrl-p at the end
        byte[] expected = java.util.Arrays.copyOf(clean, clean.length + 1);
        expected[clean.length] = '!';
        assertArrayEquals(expected, out.toByteArray());
    }
}
