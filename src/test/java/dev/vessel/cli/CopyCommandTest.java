package dev.vessel.cli;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Which side of `vessel cp` is the container's, as docker's CLI splits its arguments. */
class CopyCommandTest {
    @Test
    void aColonBeforeAnySlashNamesTheContainer() {
        assertEquals(new CopyCommand.Side("web", "/etc/hosts"), CopyCommand.Side.parse("web:/etc/hosts"));
        assertEquals(new CopyCommand.Side("web", "relative"), CopyCommand.Side.parse("web:relative"));
        assertEquals(new CopyCommand.Side(null, "dir/with:colon"), CopyCommand.Side.parse("dir/with:colon"));
        assertEquals(new CopyCommand.Side(null, "./web:x"), CopyCommand.Side.parse("./web:x"), "./ keeps a local name with a colon");
        assertEquals(new CopyCommand.Side(null, "/abs:x"), CopyCommand.Side.parse("/abs:x"));
        assertEquals(new CopyCommand.Side(null, "-"), CopyCommand.Side.parse("-"));
        assertEquals(new CopyCommand.Side(null, "plain"), CopyCommand.Side.parse("plain"));
    }
}
