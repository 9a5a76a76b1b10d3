package dev.vessel.machine;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What goes on the helper machine's network tools disk, where, and when it is built again. */
class NetworkToolsDiskTest {
    private static final String LDD = """
            /usr/sbin/nft:
            \tlinux-vdso.so.1 (0x00007fbc4795d000)
            \tlibnftables.so.1 => /lib/x86_64-linux-gnu/libnftables.so.1 (0x00007fbc47869000)
            \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007fbc4764d000)
            \t/lib64/ld-linux-x86-64.so.2 (0x00007fbc4795f000)
            /usr/lib/jvm/jdk/lib/libnet.so:
            \tlibjvm.so => not found
            \tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007efd2f9e4000)
            """;

    @Test
    void lddLinesGiveTheLibrariesFoundAndTheNamesMissingButNotTheFilesAskedAbout() {
        MachineImage.Libraries l = MachineImage.parseLdd(LDD);
        assertEquals(List.of(Path.of("/lib/x86_64-linux-gnu/libnftables.so.1"), Path.of("/lib/x86_64-linux-gnu/libc.so.6"),
                Path.of("/lib64/ld-linux-x86-64.so.2")), List.copyOf(l.found()));
        assertEquals(Set.of("libjvm.so"), l.missing());
    }

    @Test
    void aLibraryKeepsItsDirectoryUnderLibByTheNameTheLoaderAskedFor() throws IOException {
        assertEquals("lib/x86_64-linux-gnu/libz.so.1", NetworkToolsDisk.libraryTarget(Path.of("/lib/x86_64-linux-gnu/libz.so.1")));
        assertEquals("lib/x86_64-linux-gnu/libz.so.1", NetworkToolsDisk.libraryTarget(Path.of("/usr/lib/x86_64-linux-gnu/libz.so.1")));
        assertEquals("lib/libfoo.so.2", NetworkToolsDisk.libraryTarget(Path.of("/usr/lib/libfoo.so.2")));
    }

    @Test
    void aLibraryOutsideTheLoadersDirectoriesIsRefusedNotPutElsewhere() {
        assertThrows(IOException.class, () -> NetworkToolsDisk.libraryTarget(Path.of("/opt/x/libfoo.so")));
        assertThrows(IOException.class, () -> NetworkToolsDisk.libraryTarget(Path.of("/lib64/ld-linux-x86-64.so.2")));
        assertThrows(IOException.class, () -> NetworkToolsDisk.libraryTarget(Path.of("/lib/../etc/passwd")));
        assertThrows(IOException.class, () -> NetworkToolsDisk.libraryTarget(Path.of("/lib/")));
    }

    @Test
    void aProgramIsFoundThroughItsLinkAndAMissingOneNamesThePackages(@TempDir Path dir) throws IOException {
        Path real = Files.createFile(dir.resolve("ip-real"), PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        Path bin = Files.createDirectory(dir.resolve("bin"));
        Files.createSymbolicLink(bin.resolve("ip"), real);
        Files.createFile(bin.resolve("nft")); // not executable
        assertEquals(real.toRealPath(), NetworkToolsDisk.findOnHost("ip", List.of(dir.resolve("none"), bin)));
        IOException e = assertThrows(IOException.class, () -> NetworkToolsDisk.findOnHost("nft", List.of(bin)));
        assertTrue(e.getMessage().contains("apt-get install iproute2 nftables dnsmasq-base"), e.getMessage());
    }

    @Test
    void aProgramsLibrariesGoOnTheDiskExceptThoseTheInitramfsHas() throws IOException {
        // ls is on every Debian host and links more than glibc (libselinux at least).
        Path ls = Path.of("/usr/bin/ls").toRealPath();
        Set<Path> glibc = MachineImage.glibcForJava();
        List<NetworkToolsDisk.Entry> entries = NetworkToolsDisk.entries(Map.of("ls", ls), glibc);
        assertEquals(new NetworkToolsDisk.Entry("sbin/ls", ls, true), entries.get(0));
        assertTrue(entries.size() > 1, entries.toString());
        Set<Path> glibcReal = new java.util.HashSet<>();
        for (Path p : glibc) {
            glibcReal.add(p.toRealPath());
        }
        for (NetworkToolsDisk.Entry e : entries.subList(1, entries.size())) {
            assertTrue(e.target().startsWith("lib/") && !e.executable(), e.toString());
            assertFalse(glibcReal.contains(e.source()), "glibc is the initramfs's: " + e);
            assertFalse(e.target().endsWith("/libc.so.6") || e.target().contains("ld-linux"), e.toString());
        }
    }

    @Test
    void theKeyChangesWithAnyFilesSizeOrTimeAndOnlyThen(@TempDir Path dir) throws IOException {
        Path lib = Files.writeString(dir.resolve("libx.so.1"), "one");
        List<NetworkToolsDisk.Entry> entries = List.of(new NetworkToolsDisk.Entry("lib/x86_64-linux-gnu/libx.so.1", lib, false));
        String first = NetworkToolsDisk.key(NetworkToolsDisk.manifest(entries));
        assertEquals(first, NetworkToolsDisk.key(NetworkToolsDisk.manifest(entries)));
        Files.setLastModifiedTime(lib, FileTime.fromMillis(Files.getLastModifiedTime(lib).toMillis() + 1000));
        String touched = NetworkToolsDisk.key(NetworkToolsDisk.manifest(entries));
        assertNotEquals(first, touched);
        FileTime t = Files.getLastModifiedTime(lib);
        Files.writeString(lib, "three");
        Files.setLastModifiedTime(lib, t);
        assertNotEquals(touched, NetworkToolsDisk.key(NetworkToolsDisk.manifest(entries)));
    }

    @Test
    void theNetworkModulesComeAfterTheCoreAndEachOnce() {
        List<String> all = MachineImage.KERNEL_MODULES;
        assertEquals(MachineImage.CORE_MODULES, all.subList(0, MachineImage.CORE_MODULES.size()));
        assertEquals(MachineImage.NETWORK_MODULES, all.subList(MachineImage.CORE_MODULES.size(), all.size()));
        assertEquals(all.size(), Set.copyOf(all).size(), all.toString());
    }
}
