package dev.vessel.machine;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

class FileHashesTest {
    @TempDir
    Path dir;

    @AfterEach
    void forget() {
        FileHashes.rememberIn(null);
        FileHashes.forgetInMemory();
    }

    static String sha(String s) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(s.getBytes(StandardCharsets.UTF_8)));
    }

    @Test
    void aLaterProcessReadsTheRememberedHashWithoutReadingTheFile() throws Exception {
        Path f = Files.writeString(dir.resolve("disk.img"), "image bytes");
        Path cache = dir.resolve("hashes");
        FileHashes.rememberIn(cache);
        assertEquals(sha("image bytes"), FileHashes.sha256(f));
        try (var l = Files.list(cache)) {
            assertEquals(1, l.count());
        }
        // A new process: nothing in memory. The remembered value is what it returns (a planted
        // one proves the file was not read again).
        FileHashes.forgetInMemory();
        Path entry;
        try (var l = Files.list(cache)) {
            entry = l.findFirst().orElseThrow();
        }
        String planted = "ab".repeat(32);
        Files.writeString(entry, planted + "\n");
        assertEquals(planted, FileHashes.sha256(f));
    }

    @Test
    void newContentOfTheSameSizeAndModificationTimeIsHashedAgain() throws Exception {
        Path f = Files.writeString(dir.resolve("kernel"), "version one");
        FileHashes.rememberIn(dir.resolve("hashes"));
        FileTime mtime = FileTime.fromMillis(1_700_000_000_000L);
        Files.setLastModifiedTime(f, mtime);
        assertEquals(sha("version one"), FileHashes.sha256(f));
        FileHashes.forgetInMemory();
        // Same size, same mtime put back: only the change time (and the bytes) differ.
        Files.writeString(f, "version two");
        Files.setLastModifiedTime(f, mtime);
        assertEquals(sha("version two"), FileHashes.sha256(f));
    }

    @Test
    void aDamagedRememberedHashIsIgnored() throws Exception {
        Path f = Files.writeString(dir.resolve("initrd"), "cpio");
        Path cache = dir.resolve("hashes");
        FileHashes.rememberIn(cache);
        String good = FileHashes.sha256(f);
        FileHashes.forgetInMemory();
        List<Path> entries;
        try (var l = Files.list(cache)) {
            entries = l.toList();
        }
        Files.writeString(entries.get(0), "not a hash\n");
        assertEquals(good, FileHashes.sha256(f));
        assertNotEquals("not a hash", Files.readString(entries.get(0)).strip(), "the entry is written again");
    }
}
