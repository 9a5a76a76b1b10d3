import dev.vessel.vmm.ExitResult;
import dev.vessel.vmm.VirtualMachine;
import dev.vessel.vmm.VmConfig;
import dev.vessel.vmm.VmExit;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

/**
 * bench/library.sh's program, run inside the helper machine with `vessel machine java`: VMs booted
 * by one warm JVM through Vessel's library API, against QEMU processes started fresh, side by
 * side, same kernel, initramfs and command line, 1 vCPU, 256 MiB. Usage:
 *
 *   LibraryBench KERNEL INITRD RUNS QEMU-COMMAND
 *
 * QEMU-COMMAND is a shell prefix that runs qemu-system-x86_64. Prints one CSV line per run on
 * stdout: kind,round,init_ms,total_ms,close_ms,rss_kb,status (kind: library, qemu, library-pair).
 * The init's marker line is "vessel-bench: init"; every time is taken with this JVM's clock.
 */
public class LibraryBench {
    static final String MARKER = "vessel-bench: init";
    static final String CMDLINE = "console=ttyS0 quiet panic=-1 pci=off";

    public static void main(String[] args) throws Exception {
        Path kernel = Path.of(args[0]);
        Path initrd = Path.of(args[1]);
        int runs = Integer.parseInt(args[2]);
        String qemu = args[3];
        VmConfig config = VmConfig.builder().kernel(kernel).initrd(initrd).cmdline(CMDLINE).memory(256L << 20).build();
        System.out.println("kind,round,init_ms,total_ms,close_ms,rss_kb,status");
        // A discarded warm-up of each: the JVM has loaded and compiled the VMM's code after it.
        library(config, 0, false);
        qemu(qemu, kernel, initrd, 0, false);
        for (int round = 1; round <= runs; round++) {
            library(config, round, true);
            qemu(qemu, kernel, initrd, round, true);
            pair(config, round);
        }
    }

    /** One VM in this JVM: create to the init's marker, to power-off, and close; this process's RSS growth at the marker. */
    static void library(VmConfig config, int round, boolean print) throws Exception {
        long base = rssKb();
        Marker m = new Marker();
        long t0 = System.nanoTime();
        long exitAt;
        ExitResult r;
        long rssAtInit;
        VirtualMachine vm = VirtualMachine.create(config, m);
        try {
            vm.start();
            rssAtInit = m.await(Duration.ofMinutes(2)) ? rssKb() - base : -1;
            r = vm.awaitExit(Duration.ofMinutes(2)).orElse(null);
            exitAt = System.nanoTime();
        } finally {
            vm.close();
        }
        long closed = System.nanoTime();
        if (print) {
            System.out.printf("library,%d,%.1f,%.1f,%.1f,%d,%s%n", round, rssAtInit < 0 ? -1 : ms(m.at - t0),
                    ms(exitAt - t0), ms(closed - exitAt),
                    rssAtInit, r == null ? "timeout" : r.exit() == VmExit.POWER_OFF ? "0" : r.exit().name());
        }
    }

    /** Two VMs at once in this JVM: from creating the first to both markers, to both powered off; RSS growth with both running. */
    static void pair(VmConfig config, int round) throws Exception {
        long base = rssKb();
        Marker a = new Marker();
        Marker b = new Marker();
        long t0 = System.nanoTime();
        try (VirtualMachine x = VirtualMachine.create(config, a); VirtualMachine y = VirtualMachine.create(config, b)) {
            x.start();
            y.start();
            boolean both = a.await(Duration.ofMinutes(2)) & b.await(Duration.ofMinutes(2));
            long rss = both ? rssKb() - base : -1;
            long init = Math.max(a.at, b.at) - t0;
            ExitResult rx = x.awaitExit(Duration.ofMinutes(2)).orElse(null);
            ExitResult ry = y.awaitExit(Duration.ofMinutes(2)).orElse(null);
            long total = System.nanoTime() - t0;
            boolean ok = rx != null && ry != null && rx.poweredOff() && ry.poweredOff();
            System.out.printf("library-pair,%d,%.1f,%.1f,,%d,%s%n", round, ms(init), ms(total), rss, ok ? "0" : rx + "/" + ry);
        }
    }

    /** One fresh QEMU process: start to the marker, to its exit; its peak RSS (VmHWM) read at the marker. */
    static void qemu(String prefix, Path kernel, Path initrd, int round, boolean print) throws Exception {
        String cmd = prefix + " -accel kvm -cpu host -m 256 -smp 1 -M microvm,x-option-roms=off,rtc=on"
                + " -nodefaults -no-user-config -nographic -serial stdio -no-reboot"
                + " -kernel " + kernel + " -initrd " + initrd + " -append '" + CMDLINE + "'";
        Marker m = new Marker();
        long t0 = System.nanoTime();
        // `exec env`: the prefix starts with a variable assignment; QEMU then keeps the shell's pid.
        Process p = new ProcessBuilder("sh", "-c", "exec env " + cmd).redirectErrorStream(true).start();
        p.getOutputStream().close();
        CompletableFuture<Void> pump = CompletableFuture.runAsync(() -> copy(p.getInputStream(), m));
        long rss = m.await(Duration.ofMinutes(2)) ? hwmKb(p.pid()) : -1;
        boolean ended = p.waitFor(2, TimeUnit.MINUTES);
        long exitAt = System.nanoTime();
        if (!ended) {
            p.destroyForcibly().waitFor();
        }
        pump.get(1, TimeUnit.MINUTES);
        if (print) {
            System.out.printf("qemu,%d,%.1f,%.1f,,%d,%s%n", round, rss < 0 ? -1 : ms(m.at - t0), ms(exitAt - t0), rss,
                    ended ? Integer.toString(p.exitValue()) : "timeout");
        }
    }

    static void copy(InputStream in, OutputStream out) {
        try (in) {
            in.transferTo(out);
        } catch (IOException e) {
            // the process ended
        }
    }

    /** The console: notes when the marker line first appears. */
    static final class Marker extends OutputStream {
        private final StringBuilder seen = new StringBuilder();
        private final CompletableFuture<Void> found = new CompletableFuture<>();
        volatile long at;

        @Override
        public void write(int b) {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) {
            if (found.isDone()) {
                return;
            }
            seen.append(new String(b, off, len, StandardCharsets.ISO_8859_1));
            if (seen.indexOf(MARKER) >= 0) {
                at = System.nanoTime();
                found.complete(null);
            } else if (seen.length() > 4096) {
                seen.delete(0, seen.length() - MARKER.length());
            }
        }

        boolean await(Duration timeout) throws InterruptedException {
            try {
                found.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
                return true;
            } catch (java.util.concurrent.ExecutionException | java.util.concurrent.TimeoutException e) {
                return false;
            }
        }
    }

    static double ms(long nanos) {
        return nanos / 1e6;
    }

    static long rssKb() throws IOException {
        return statusKb("/proc/self/status", "VmRSS:");
    }

    static long hwmKb(long pid) throws IOException {
        return statusKb("/proc/" + pid + "/status", "VmHWM:");
    }

    static long statusKb(String file, String key) throws IOException {
        for (String line : Files.readAllLines(Path.of(file))) {
            if (line.startsWith(key)) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return -1;
    }
}
