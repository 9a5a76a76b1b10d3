package dev.vessel.cli;

import dev.vessel.kvm.Kvm;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The warm-up boots its guests without the VMM's sandbox: its process must still start programs
 * afterwards (the JVM assembling the start-up cache, a standby its successor).
 */
class VmWarmUpCommandTest {
    @Test
    void theWarmUpLeavesItsProcessAbleToStartPrograms() throws Exception {
        assumeTrue(Files.isReadable(Kvm.DEVICE) && Files.isWritable(Kvm.DEVICE),
                "this test runs a VM and needs read-write access to /dev/kvm, which this host lacks");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), WarmUpProbe.class.getName())
                .redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(4, TimeUnit.MINUTES), out);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("warm-up status 0\n"), out);
        assertTrue(out.contains("after: started\n"), out);
    }
}
