package dev.vessel.cli;

import dev.vessel.host.HostCapabilities;
import dev.vessel.machine.HelperMachine;
import dev.vessel.machine.MachineException;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Finds and starts the helper machine for CLI commands. */
final class MachineSupport {
    private MachineSupport() {}

    static HelperMachine machine(Main main) throws IOException {
        return new HelperMachine(main.stateRoot().dir("machine"), main.stateRoot().dir("kernels"));
    }

    /** Default machine size: 4 GiB (at most half the host's RAM), all host cores. */
    static long defaultMemory() {
        return Math.max(1L << 30, Math.min(HelperMachine.DEFAULT_MEMORY, HostCapabilities.totalMemory() / 2)) & ~((1L << 20) - 1);
    }

    static int defaultCpus() {
        return Math.max(1, Runtime.getRuntime().availableProcessors());
    }

    /** The running machine, started on demand. */
    static HelperMachine.Endpoint ensureRunning(Main main) throws IOException, UserError {
        // Files sent to the machine are named by hash: later commands need not hash them again.
        dev.vessel.machine.FileHashes.rememberIn(main.stateRoot().dir("cache").resolve("file-hashes"));
        HelperMachine m = machine(main);
        try {
            var running = m.running();
            if (running.isPresent()) {
                return running.get();
            }
            return m.start(System.err, defaultMemory(), defaultCpus());
        } catch (MachineException e) {
            throw new UserError(e.getMessage(), 125);
        }
    }

    /**
     * Stops a helper machine that no longer answers (its agent accepted but did not say hello:
     * the machine's kernel is stuck, which nested virtualization under emulation can do) and
     * starts a fresh one.
     */
    static HelperMachine.Endpoint restartUnresponsive(Main main) throws IOException, UserError {
        System.err.println("vessel: the helper machine does not answer; restarting it");
        machine(main).stop(java.time.Duration.ofSeconds(5));
        return ensureRunning(main);
    }

    /** This Vessel's own jar, which the machine runs too. */
    static Path ownJar() throws UserError {
        try {
            Path p = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
            if (Files.isRegularFile(p) && p.toString().endsWith(".jar")) {
                return p;
            }
        } catch (URISyntaxException | SecurityException e) {
            // Fall through.
        }
        throw new UserError("the helper machine runs Vessel's jar, and this Vessel is not running from one (use ./vessel)", 125);
    }
}
