package dev.vessel.machine;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A machine knows which image it booted from: the same build's inputs give the same signature, others another. */
class MachineImageSignatureTest {
    @Test
    void sameInputsSameSignatureAndAnyChangeAnother() {
        String s = MachineImage.signature("6.1.0-57-cloud-amd64", "agent-a");
        assertEquals(s, MachineImage.signature("6.1.0-57-cloud-amd64", "agent-a"));
        assertTrue(s.matches("[0-9a-f]{32}"), s);
        assertNotEquals(s, MachineImage.signature("6.1.0-58-cloud-amd64", "agent-a"), "another kernel");
        assertNotEquals(s, MachineImage.signature("6.1.0-57-cloud-amd64", "agent-b"), "another agent");
    }
}
