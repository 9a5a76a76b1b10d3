package dev.vessel.vmm;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class VmStatsTest {
    @TempDir
    Path debugfs;

    @Test
    void findsTheVmFolderByAnyOfThisProcesssThreadsAndReadsItsCounters() throws Exception {
        Files.createDirectories(debugfs.resolve("999-12"));
        Path mine = Files.createDirectories(debugfs.resolve("4242-15"));
        Files.writeString(mine.resolve("exits"), "123\n");
        Files.writeString(mine.resolve("io_exits"), "7\n");
        assertEquals(mine, VmStats.kvmDirectory(debugfs, Set.of(100L, 4242L)));
        assertNull(VmStats.kvmDirectory(debugfs, Set.of(1L)));
        assertEquals("vessel-stats: vmm_exits=9 kvm_exits=123 kvm_io_exits=7", VmStats.line(9, mine));
        assertEquals("vessel-stats: vmm_exits=9", VmStats.line(9, null));
    }
}
