package dev.vessel.machine;

import dev.vessel.arch.x86.MinimalKernel;
import dev.vessel.vmm.VmConfig;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Run in a child JVM by VmLauncherSandboxTest: runs a halted guest the way `vm run` does
 * ({@link VmLauncher#runHere}) and, while its VM runs, tries to start a program from the VMM.
 */
public final class VmmSandboxProbe {
    private VmmSandboxProbe() {}

    public static void main(String[] args) throws Exception {
        Path dir = Files.createTempDirectory("vmm-sandbox");
        Path kernel = MinimalKernel.write(dir, "halt.bzImage", MinimalKernel.HALT);
        VmConfig config = VmConfig.builder().kernel(kernel).cmdline("").memory(64L << 20).build();
        PrintStream out = System.out;
        System.out.println("before: " + tryStart());
        int status = VmLauncher.runHere(config, false, System.err, VmLauncher.Sandbox.valueOf(args[0]), vm -> {
            out.println("while the VM runs: " + tryStart());
            vm.stop();
        });
        System.out.println("vm status " + status);
        System.exit(0);
    }

    static String tryStart() {
        try {
            new ProcessBuilder("true").start().waitFor();
            return "started";
        } catch (IOException | InterruptedException e) {
            return "refused: " + e.getMessage();
        }
    }
}
