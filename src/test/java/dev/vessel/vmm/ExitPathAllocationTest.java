package dev.vessel.vmm;

import dev.vessel.devices.Bus;
import dev.vessel.devices.BusDevice;
import dev.vessel.kvm.FakeKvmRun;
import dev.vessel.kvm.KvmRun;
import dev.vessel.kvm.VcpuFd;
import dev.vessel.machine.MachineCommandScript;
import dev.vessel.sys.Libc;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The exit path allocates nothing: the KVM_RUN call, the dispatch of port-I/O and MMIO exits
 * from a kvm_run page, the frozen buses' lookup. Measured with this thread's allocation counter
 * around many exits after a warm-up, both in the test JVM (tiered compilation, whose escape
 * analysis hides short-lived boxes) and in a JVM with the options the VMM runs with (C1 only:
 * no escape analysis, so every Long key or MemorySegment slice would show).
 */
class ExitPathAllocationTest {
    static final int EXITS = 200_000;
    /** Bytes per exit above which the path counts as allocating; a boxed Long alone is 16. */
    static final double LIMIT = 0.01;

    @Test
    void theExitPathAllocatesNothingInThisJvm() throws Exception {
        assumeTrue(System.getenv("VESSEL_TRACE_IO") == null, "VESSEL_TRACE_IO makes every port exit print");
        assertAllocationFree(measure(), "tiered compilation (the test JVM)");
    }

    @Test
    void theExitPathAllocatesNothingUnderTheVmmJvmOptions() throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        cmd.addAll(MachineCommandScript.JVM_OPTIONS);
        cmd.addAll(List.of("-cp", System.getProperty("java.class.path"), ExitPathAllocationTest.class.getName()));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove("VESSEL_TRACE_IO");
        Process p = pb.start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(2, TimeUnit.MINUTES), "the measuring JVM did not end");
        assertEquals(0, p.exitValue(), "the measuring JVM failed:\n" + out);
        Map<String, Double> perExit = new LinkedHashMap<>();
        for (String line : out.lines().toList()) {
            String[] f = line.split(" ");
            if (f.length == 2 && f[0].startsWith("exit:")) {
                perExit.put(f[0].substring(5), Double.parseDouble(f[1]));
            }
        }
        assertEquals(measure().keySet(), perExit.keySet(), "the measuring JVM's report:\n" + out);
        assertAllocationFree(perExit, String.join(" ", MachineCommandScript.JVM_OPTIONS));
    }

    /** Run by the second test in a JVM of its own: prints "exit:NAME BYTES_PER_EXIT" lines. */
    public static void main(String[] args) throws Exception {
        measure().forEach((name, bytes) -> System.out.println("exit:" + name + " " + bytes));
    }

    private static void assertAllocationFree(Map<String, Double> perExit, String jvm) {
        for (Map.Entry<String, Double> e : perExit.entrySet()) {
            assertTrue(e.getValue() < LIMIT, String.format("%s allocates %.2f bytes per exit under %s (all: %s)",
                    e.getKey(), e.getValue(), jvm, perExit));
        }
    }

    /** Bytes allocated per exit on this thread, by kind of exit, after a warm-up of each. */
    static Map<String, Double> measure() throws Exception {
        Bus pio = new Bus("port I/O");
        Bus mmio = new Bus("MMIO");
        Sink uart = new Sink();
        Sink virtio = new Sink();
        pio.register(0x3f8, 8, "COM1", uart);
        pio.register(0x70, 2, "RTC", new Sink());
        pio.register(0x600, 1, "ACPI power", new Sink());
        mmio.register(0xd000_0000L, 0x200, "virtio-blk0", new Sink());
        mmio.register(0xd000_0200L, 0x200, "virtio-rng", virtio);
        pio.freeze();
        mmio.freeze();
        BusExitHandler handler = new BusExitHandler(pio, mmio, 0);

        Map<String, Double> perExit = new LinkedHashMap<>();
        try (Arena arena = Arena.ofConfined()) {
            FakeKvmRun fake = new FakeKvmRun(arena);
            KvmRun run = fake.run();
            perExit.put("out-to-a-device", perExit(i -> {
                fake.io(KvmRun.IO_OUT, 1, 0x3f8 + (int) (i & 7), 1, FakeKvmRun.PIO_DATA);
                handler.handleIo(run);
            }));
            perExit.put("out-to-no-device", perExit(i -> {
                fake.io(KvmRun.IO_OUT, 1, 0x80, 1, FakeKvmRun.PIO_DATA);
                handler.handleIo(run);
            }));
            perExit.put("in-from-a-device", perExit(i -> {
                fake.io(KvmRun.IO_IN, 2, 0x3f8, 1, FakeKvmRun.PIO_DATA);
                handler.handleIo(run);
            }));
            perExit.put("outs-of-4", perExit(i -> {
                fake.io(KvmRun.IO_OUT, 4, 0x3f8, 2, FakeKvmRun.PIO_DATA);
                handler.handleIo(run);
            }));
            perExit.put("mmio-write", perExit(i -> {
                fake.mmio(0xd000_0250L, 4, true, i);
                handler.handleMmio(run);
            }));
            perExit.put("mmio-read", perExit(i -> {
                fake.mmio(0xd000_0200L + (i & 0xf8), 8, false, 0);
                handler.handleMmio(run);
            }));
            int devNull = Libc.open("/dev/null", Libc.O_RDWR | Libc.O_CLOEXEC, 0);
            try {
                VcpuFd vcpu = fake.vcpuOver(devNull);
                perExit.put("kvm-run-call", perExit(i -> vcpu.run()));
            } finally {
                Libc.close(devNull);
            }
        }
        if (uart.writes == 0 || virtio.writes == 0) {
            throw new IllegalStateException("the exits did not reach the devices");
        }
        return perExit;
    }

    /** Runs {@code exit} for exit numbers 0..EXITS-1 a few times; the bytes the last round allocated, per exit. */
    private static double perExit(LongConsumer exit) {
        com.sun.management.ThreadMXBean mx = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long bytes = 0;
        for (int round = 0; round < 4; round++) { // the first rounds run while the JIT compiles the path
            long before = mx.getCurrentThreadAllocatedBytes();
            for (long i = 0; i < EXITS; i++) {
                exit.accept(i);
            }
            bytes = mx.getCurrentThreadAllocatedBytes() - before;
        }
        return (double) bytes / EXITS;
    }

    /** A device that keeps what it is given, as a real one would. */
    static final class Sink implements BusDevice {
        long writes;
        long last;

        @Override
        public long read(long offset, int size) {
            return offset ^ last;
        }

        @Override
        public void write(long offset, int size, long value) {
            writes++;
            last = value;
        }
    }
}
