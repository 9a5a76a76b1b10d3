package dev.vessel.guest.agent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AgentBinaryTest {

    @Test
    void theBuildPutsTheAgentOnTheClasspath() {
        assertTrue(AgentBinary.isAvailable(), "missing " + AgentBinary.RESOURCE + ": the Maven build runs make");
    }

    @Test
    void extractsAnExecutableStaticElf(@TempDir Path dir) throws IOException {
        Path bin = AgentBinary.extractTo(dir.resolve("initramfs/sbin"));
        assertEquals(dir.resolve("initramfs/sbin/vessel-agent"), bin);
        assertEquals("rwxr-xr-x", PosixFilePermissions.toString(Files.getPosixFilePermissions(bin)));
        byte[] b = Files.readAllBytes(bin);
        assertArrayEquals(AgentBinary.bytes(), b);
        assertArrayEquals(new byte[] {0x7f, 'E', 'L', 'F', 2}, Arrays.copyOf(b, 5), "ELF64");
        ByteBuffer h = ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(62, h.getShort(0x12), "x86-64");
        long phoff = h.getLong(0x20);
        int phentsize = Short.toUnsignedInt(h.getShort(0x36));
        int phnum = Short.toUnsignedInt(h.getShort(0x38));
        for (int i = 0; i < phnum; i++) {
            assertNotEquals(3, h.getInt((int) phoff + i * phentsize), "PT_INTERP: not statically linked");
        }
        // extracting again replaces the file and leaves no temporary files behind
        AgentBinary.extractTo(dir.resolve("initramfs/sbin"));
        try (var files = Files.list(dir.resolve("initramfs/sbin"))) {
            assertEquals(1, files.count());
        }
    }
}
