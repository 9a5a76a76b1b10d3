package dev.vessel.cli;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class SizeParserTest {
    @Test
    void parsesUnits() {
        assertEquals(256L << 20, SizeParser.parse("256"));
        assertEquals(256L << 20, SizeParser.parse("256M"));
        assertEquals(256L << 20, SizeParser.parse("256MiB"));
        assertEquals(256L << 20, SizeParser.parse("256mb"));
        assertEquals(2L << 30, SizeParser.parse("2G"));
        assertEquals(512L << 10, SizeParser.parse("512k"));
        assertEquals(100, SizeParser.parse("100b"));
    }

    @Test
    void rejectsNonsense() {
        for (String s : new String[] {"", "M", "-5M", "1.5G", "lots", "99999999999999999G", "12X"}) {
            assertThrows(IllegalArgumentException.class, () -> SizeParser.parse(s), s);
        }
    }
}
