package dev.vessel.vmm;

import dev.vessel.arch.x86.BootImageException;
import dev.vessel.arch.x86.MinimalKernel;
import dev.vessel.kvm.Kvm;
import dev.vessel.vmm.control.ControlClient;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The VM object's life cycle on this host's KVM, with minimal guests that take one exit path in
 * milliseconds: one that powers off, and one that halts for good (its vCPU sleeps inside KVM_RUN,
 * so only a kick from the host gets it out). Real kernels boot in the integration tests.
 */
class VirtualMachineTest {
    static final long MEMORY = 200L << 20;

    @TempDir
    static Path dir;
    static Path powerOff;
    static Path halt;

    @BeforeAll
    static void kernels() throws IOException {
        assumeTrue(Files.isReadable(Kvm.DEVICE) && Files.isWritable(Kvm.DEVICE),
                "these tests run VMs and need read-write access to /dev/kvm, which this host lacks");
        powerOff = MinimalKernel.write(dir, "poweroff.bzImage", MinimalKernel.POWER_OFF);
        halt = MinimalKernel.write(dir, "halt.bzImage", MinimalKernel.HALT);
    }

    static VmConfig config(Path kernel, int cpus) {
        return VmConfig.builder().kernel(kernel).cmdline("").cpus(cpus).memory(MEMORY).build();
    }

    @Test
    void aGuestThatPowersOffEndsTheVm() throws Exception {
        try (VirtualMachine vm = VirtualMachine.create(config(powerOff, 1), OutputStream.nullOutputStream())) {
            assertEquals(VirtualMachine.State.CREATED, vm.state());
            vm.start();
            ExitResult r = vm.awaitExit(Duration.ofMinutes(1)).orElseThrow();
            assertEquals(VmExit.POWER_OFF, r.exit());
            assertEquals(0, r.status());
            assertEquals(VirtualMachine.State.EXITED, vm.state());
            assertTrue(vm.exits() >= 1, "the power-off write is a port I/O exit");
            assertThrows(IllegalStateException.class, vm::start);
        }
    }

    @Test
    void pauseHoldsTheVcpusResumeReleasesThemAndStopKicksThemOutOfTheGuest() throws Exception {
        try (VirtualMachine vm = VirtualMachine.create(config(halt, 2), OutputStream.nullOutputStream())) {
            assertThrows(IllegalStateException.class, vm::pause, "nothing to pause before start");
            vm.start();
            assertTrue(vm.awaitExit(Duration.ofMillis(200)).isEmpty(), "a halted guest does not end by itself");
            vm.pause();
            assertEquals(VirtualMachine.State.PAUSED, vm.state());
            vm.resume();
            assertEquals(VirtualMachine.State.RUNNING, vm.state());
            vm.pause();
            vm.stop();
            ExitResult r = vm.awaitExit(Duration.ofMinutes(1)).orElseThrow(() -> new AssertionError("stop did not end the VM"));
            assertEquals(VmExit.STOPPED, r.exit());
            assertEquals(143, r.status());
        }
    }

    @Test
    void twoVmsRunInOneJvmAndCloseGivesBackEveryFdMappingAndThread() throws Exception {
        runTwoAndClose(); // the first round loads classes and starts the JVM's own helper threads
        ProcessResources before = ProcessResources.now();
        assertEquals(List.of(), before.kvmMappings(), "no VM mapped before");
        Round during = runTwoAndClose();
        assertEquals(3, during.resources().kvmMappings().size(), "one kvm_run page per vCPU (1 + 2): "
                + during.resources().kvmMappings());
        for (long[] ram : during.ram()) {
            assertEquals(ram[1] - ram[0], during.resources().mappedWithin(ram[0], ram[1]), "a running VM's RAM is mapped");
        }
        ProcessResources after = ProcessResources.now();
        assertEquals(before.fds(), after.fds(), "file descriptors after close");
        assertEquals(List.of(), after.kvmMappings(), "kvm_run pages after close");
        for (long[] ram : during.ram()) {
            // The JVM may map something new there; a VM that kept its RAM would keep all of it.
            assertTrue(after.mappedWithin(ram[0], ram[1]) < (16L << 20), "the VM's RAM stayed mapped: "
                    + after.mappedWithin(ram[0], ram[1]) + " bytes");
        }
        assertTrue(after.mappedBytes() <= before.mappedBytes() + (16L << 20), "mapped bytes grew from "
                + before.mappedBytes() + " to " + after.mappedBytes());
        assertTrue(after.threads() <= before.threads(), "threads: " + before.threads() + " before, " + after.threads() + " after");
    }

    record Round(ProcessResources resources, List<long[]> ram) {}

    /** Two VMs at once (one halted with one vCPU, one with two and devices), both closed while running. */
    private Round runTwoAndClose() throws Exception {
        Path sock = dir.resolve("api.sock");
        VmConfig withDevices = config(halt, 2).toBuilder().rng(true).balloon(true).apiSocket(sock)
                .vsock(dir.resolve("vsock.sock")).disk(Files.write(dir.resolve("disk.img"), new byte[1 << 16]), false)
                .build();
        Round round;
        try (VirtualMachine a = VirtualMachine.create(config(halt, 1), OutputStream.nullOutputStream());
             VirtualMachine b = VirtualMachine.create(withDevices, OutputStream.nullOutputStream())) {
            a.start();
            b.start();
            assertEquals("running", ControlClient.parseReply(
                    ControlClient.call(sock, "{\"describe\": true}", Duration.ofSeconds(30))).get("state"));
            List<long[]> ram = new java.util.ArrayList<>(a.hostRamRanges());
            ram.addAll(b.hostRamRanges());
            round = new Round(ProcessResources.now(), ram);
        }
        assertTrue(Files.notExists(sock), "the control socket goes with its VM");
        assertTrue(Files.notExists(dir.resolve("vsock.sock")), "so does the vsock socket");
        return round;
    }

    @Test
    void aVmThatFailsToBuildLeavesNothingBehind() throws Exception {
        Path notAKernel = Files.write(dir.resolve("not-a-kernel"), new byte[4096]);
        assertThrows(BootImageException.class, () -> VirtualMachine.create(config(notAKernel, 1), OutputStream.nullOutputStream()));
        ProcessResources before = ProcessResources.now();
        assertThrows(BootImageException.class, () -> VirtualMachine.create(config(notAKernel, 1), OutputStream.nullOutputStream()));
        VmConfig missingDisk = config(powerOff, 1).toBuilder().disk(dir.resolve("missing.img"), true).build();
        assertThrows(IOException.class, () -> VirtualMachine.create(missingDisk, OutputStream.nullOutputStream()));
        ProcessResources after = ProcessResources.now();
        assertEquals(before.fds(), after.fds());
        assertEquals(List.of(), after.kvmMappings());
        assertTrue(after.mappedBytes() < before.mappedBytes() + MEMORY, "the failed VMs' RAM stayed mapped");
    }

    @Test
    void theControlSocketPausesResumesAndStopsTheVm() throws Exception {
        Path sock = dir.resolve("control.sock");
        try (VirtualMachine vm = VirtualMachine.create(config(halt, 1).toBuilder().apiSocket(sock).build(),
                OutputStream.nullOutputStream())) {
            vm.start();
            assertEquals("paused", call(sock, "{\"pause\": true}").get("state"));
            assertEquals(VirtualMachine.State.PAUSED, vm.state());
            assertEquals("running", call(sock, "{\"resume\": true}").get("state"));
            Map<String, Object> d = call(sock, "{\"describe\": true}");
            assertEquals(200L, d.get("memory_mib"));
            assertEquals(halt.toString(), d.get("kernel"));
            assertEquals(Boolean.FALSE, call(sock, "{\"stats\": true}").get("ok"), "no balloon: no stats");
            call(sock, "{\"stop\": true}");
            assertEquals(VmExit.STOPPED, vm.awaitExit(Duration.ofMinutes(1)).orElseThrow().exit());
        }
    }

    private static Map<String, Object> call(Path sock, String request) throws IOException {
        return ControlClient.parseReply(ControlClient.call(sock, request, Duration.ofSeconds(30)));
    }

    @Test
    void theConsoleGoesWhereTheCallerSays() throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        Path print = MinimalKernel.write(dir, "print.bzImage", MinimalKernel.PRINT_AND_SPIN);
        try (VirtualMachine vm = VirtualMachine.create(config(print, 1), out)) {
            vm.start();
            long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
            while (!out.toString().contains("ready") && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
        }
        assertTrue(out.toString().contains("ready\n"), "console: " + out);
    }
}
