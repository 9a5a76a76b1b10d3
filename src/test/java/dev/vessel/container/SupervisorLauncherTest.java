package dev.vessel.container;

import dev.vessel.host.StateRoot;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SupervisorLauncherTest {
    @TempDir
    Path dir;

    @Test
    void theSupervisorIsVesselsJarInItsOwnSession() {
        List<String> cmd = SupervisorLauncher.command(Path.of("/jdk/bin/java"), Path.of("/opt/vessel.jar"), List.of("-XX:A"),
                Path.of("/state"), "abc", true, true, true);
        List<String> expected = new ArrayList<>(List.of("setsid", "/jdk/bin/java"));
        expected.addAll(SupervisorLauncher.JVM_OPTIONS);
        expected.addAll(List.of("-XX:A", "-jar", "/opt/vessel.jar", "--root", "/state", "container-shim", "abc",
                "--wait-attach", "--restart"));
        assertEquals(expected, cmd);
        assertTrue(cmd.contains("--enable-native-access=ALL-UNNAMED"));

        List<String> plain = SupervisorLauncher.command(Path.of("/jdk/bin/java"), Path.of("/opt/vessel.jar"), List.of(),
                Path.of("/state"), "abc", false, false, false);
        assertEquals("/jdk/bin/java", plain.getFirst(), "without setsid on the host");
        assertEquals(List.of("container-shim", "abc"), plain.subList(plain.size() - 2, plain.size()));
    }

    @Test
    void theClassDataArchiveIsPerBuildAndStaleOnesGo() throws Exception {
        Path jar = Files.writeString(dir.resolve("vessel.jar"), "jar");
        Path cache = dir.resolve("cache").resolve("jvm");
        Files.createDirectories(cache);
        Path stale = Files.writeString(cache.resolve("container-shim-1-1.jsa"), "old");
        Files.setLastModifiedTime(stale, FileTime.from(Instant.now().minus(Duration.ofDays(15))));
        Path recent = Files.writeString(cache.resolve("container-shim-2-2.jsa"), "another build, in use");

        List<String> options = SupervisorLauncher.classDataArchive(cache, jar);
        String archive = options.stream().filter(o -> o.startsWith("-XX:SharedArchiveFile=")).findFirst().orElseThrow()
                .substring("-XX:SharedArchiveFile=".length());
        assertTrue(archive.startsWith(cache.resolve("container-shim-" + Long.toHexString(3) + "-").toString()), archive);
        assertTrue(options.contains("-XX:+AutoCreateSharedArchive"));
        assertFalse(Files.exists(stale), "an archive of a build untouched for two weeks is deleted");
        assertTrue(Files.exists(recent));

        assertEquals(List.of(), SupervisorLauncher.classDataArchive(jar.resolve("not-a-dir"), jar), "no folder: no archive");
    }

    @Test
    void withoutAJarThereIsNoSupervisor() throws Exception {
        // The tests run from classes, not from a jar.
        ContainerStore store = ContainerStore.open(dir.resolve("containers"));
        ContainerStore.Container c = store.create(ContainerStoreTest.config("ab" + "0".repeat(62), "x", "2026-01-01T00:00:00Z"));
        ContainerException e = assertThrows(ContainerException.class,
                () -> new SupervisorLauncher(StateRoot.resolve(dir)).start(c, false, false));
        assertEquals(ContainerException.Kind.FAILED, e.kind());
        assertEquals(125, e.status());
        assertTrue(e.getMessage().contains("Vessel's jar"), e.getMessage());
    }
}
