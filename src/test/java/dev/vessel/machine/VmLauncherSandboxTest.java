package dev.vessel.machine;

import dev.vessel.kvm.Kvm;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** A VMM run as `vm run` runs it sandboxes itself once its VM is built: it can start no program. */
class VmLauncherSandboxTest {
    static String probe(String sandbox) throws Exception {
        assumeTrue(Files.isReadable(Kvm.DEVICE) && Files.isWritable(Kvm.DEVICE),
                "this test runs a VM and needs read-write access to /dev/kvm, which this host lacks");
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process p = new ProcessBuilder(java, "--enable-native-access=ALL-UNNAMED", "-cp",
                System.getProperty("java.class.path"), VmmSandboxProbe.class.getName(), sandbox)
                .redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), out);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("before: started\n"), out);
        assertTrue(out.contains("vm status 143"), "the VM ran and was stopped\n" + out);
        return out;
    }

    @Test
    void theRunningVmmCanNoLongerStartAProgram() throws Exception {
        String out = probe("ON");
        assertTrue(out.contains("while the VM runs: refused"), out);
    }

    @Test
    void withoutTheSandboxItStill() throws Exception {
        String out = probe("OFF");
        assertTrue(out.contains("while the VM runs: started"), out);
    }
}
