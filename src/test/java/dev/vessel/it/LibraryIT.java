package dev.vessel.it;

import dev.vessel.guest.DebianKernel;
import dev.vessel.host.HostCapabilities;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.ToolProvider;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Vessel as a library, as a user's project uses it: the README's example (examples/HelloVm.java)
 * compiled against the artifact the build installed in the local Maven repository, then run —
 * on this host's KVM where it has hardware virtualization, else in the helper machine through
 * `vessel machine java`, as the README says.
 */
@ExtendWith(HelperMachineExtension.class)
class LibraryIT {
    @TempDir
    Path work;

    @Test
    void theReadmeExampleBootsAGuestRunsACommandOverVsockAndCloses() throws Exception {
        String version = System.getProperty("vessel.version");
        Path repo = Path.of(System.getProperty("vessel.local.repository"));
        Path installed = repo.resolve("dev/vessel/vessel/" + version + "/vessel-" + version + ".jar");
        assertTrue(Files.isRegularFile(installed), "the build did not install the library: no " + installed);
        assertTrue(Files.isRegularFile(installed.resolveSibling("vessel-" + version + ".pom")), "nor its pom");

        Path classes = Files.createDirectories(work.resolve("classes"));
        ByteArrayOutputStream diagnostics = new ByteArrayOutputStream();
        int javac = ToolProvider.getSystemJavaCompiler().run(null, diagnostics, diagnostics,
                "-cp", installed.toString(), "-d", classes.toString(), Path.of("examples/HelloVm.java").toString());
        assertEquals(0, javac, "the README's example does not compile against the installed artifact:\n" + diagnostics);
        Path jar = jar(classes, work.resolve("hello.jar"));

        DebianKernel.Release kernel = new DebianKernel(VesselCli.root().resolve("kernels")).cached();
        assertTrue(kernel != null, "no cached kernel under " + VesselCli.root());
        VesselCli.Result r;
        if (HostCapabilities.hardwareVirtualization()) {
            List<String> cmd = List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "--enable-native-access=ALL-UNNAMED", "-cp", jar + ":" + VesselCli.jar(), "HelloVm");
            ProcessBuilder pb = new ProcessBuilder(cmd);
            pb.environment().put("VESSEL_ROOT", VesselCli.root().toString());
            r = VesselCli.finish(ProcessDeadline.after(ProcessDeadline.DEFAULT, pb.start()), Duration.ofMinutes(3), null, "HelloVm");
        } else {
            r = VesselCli.run(Duration.ofMinutes(5), null, "machine", "java", "-cp", jar.toString(), "HelloVm");
        }
        assertEquals(0, r.status(), r.toString());
        assertEquals("Linux " + kernel.name() + "\n", r.stdout(), "what `uname -sr` printed in the guest\n" + r);
    }

    private static Path jar(Path classes, Path target) throws IOException {
        try (OutputStream out = Files.newOutputStream(target); JarOutputStream jar = new JarOutputStream(out);
             Stream<Path> files = Files.walk(classes)) {
            List<Path> list = new ArrayList<>(files.filter(Files::isRegularFile).toList());
            for (Path f : list) {
                jar.putNextEntry(new JarEntry(classes.relativize(f).toString()));
                jar.write(Files.readAllBytes(f));
                jar.closeEntry();
            }
        }
        return target;
    }
}
