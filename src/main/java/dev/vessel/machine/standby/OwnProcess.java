package dev.vessel.machine.standby;

import dev.vessel.sys.ErrnoException;
import dev.vessel.sys.Libc;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/** What a standby learns and changes of its own process, through /proc (Linux). */
final class OwnProcess {
    private OwnProcess() {}

    /** This process's command line, as its successor is started with. */
    static List<String> commandLine() throws IOException {
        byte[] raw = Files.readAllBytes(Path.of("/proc/self/cmdline"));
        List<String> args = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < raw.length; i++) {
            if (raw[i] == 0) {
                args.add(new String(raw, start, i - start, StandardCharsets.UTF_8));
                start = i + 1;
            }
        }
        if (args.isEmpty()) {
            throw new IOException("empty /proc/self/cmdline");
        }
        return args;
    }

    /** Does this process ignore SIGHUP, SIGINT or SIGTERM (SigIgn in /proc/self/status)? */
    static boolean ignoresStopSignals() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("SigIgn:")) {
                    long ignored = Long.parseUnsignedLong(line.substring("SigIgn:".length()).strip(), 16);
                    long stop = 1L << (1 - 1) | 1L << (2 - 1) | 1L << (15 - 1);
                    return (ignored & stop) != 0;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // Unknown: assume not.
        }
        return false;
    }

    /**
     * Resets this process's peak RSS (VmHWM, and so its rusage maximum) to what it holds now: one
     * VM is one process, and the warm-up's short-lived guest is no part of this VM's peak (Linux:
     * 5 written to clear_refs).
     */
    static void resetPeakRss() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
        } catch (IOException | SecurityException e) {
            // No /proc or an older kernel: the peak then includes the warm-up.
        }
    }

    static long peakRssKb() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | NumberFormatException e) {
            // Unknown.
        }
        return -1;
    }

    /** Every thread back to nice 0 (only root may lower it; standbys are niced only as root). */
    static void backToNormalPriority() {
        if (Libc.geteuid() != 0) {
            return;
        }
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
            for (Path t : tasks) {
                try {
                    Libc.setThreadNice(Integer.parseInt(t.getFileName().toString()), 0);
                } catch (ErrnoException | NumberFormatException e) {
                    // The thread ended meanwhile.
                }
            }
        } catch (IOException e) {
            // No /proc: stay as we are.
        }
    }
}
