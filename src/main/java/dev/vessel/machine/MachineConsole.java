package dev.vessel.machine;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * Reads the helper machine's serial console for signs that the machine itself died: its own
 * kernel panicked, locked up or oopsed. Only the machine's kernel and init write there; its VMs'
 * consoles go to their VMM's stdout, so a guest's panic never shows up here. Kernel messages are
 * recognised at the start of a line (after the printk time), so a command line or a process name
 * that quotes them does not count.
 */
public final class MachineConsole {
    private MachineConsole() {}

    private static final String TIME = "^(\\[\\s*\\d+\\.\\d+\\]\\s?)?";

    /** Messages of a kernel that is dead or beyond recovery, in the wording of Linux 6.1. */
    private static final List<Pattern> FATAL = Stream.of(
                    "Kernel panic - not syncing",
                    "watchdog: BUG: soft lockup",
                    "watchdog: Watchdog detected hard LOCKUP",
                    "rcu: INFO: rcu_\\w+ (self-)?detected stall",
                    "BUG: kernel NULL pointer dereference",
                    "BUG: unable to handle",
                    "kernel BUG at ",
                    "BUG: TASK stack guard page was hit",
                    "Oops: ",
                    "general protection fault",
                    "invalid opcode: \\d+ \\[#\\d+\\]")
            .map(p -> Pattern.compile(TIME + p)).toList();

    /**
     * A task stuck in the kernel for minutes (the hung-task detector). Not fatal by itself: a task
     * that waits on a host service (an NBD disk export) is reported the same way.
     */
    private static final Pattern STUCK_TASK = Pattern.compile(TIME + "INFO: task \\S+ blocked for more than \\d+ seconds");

    /** The first line of {@code console} that shows the machine's kernel died, if any. */
    public static Optional<String> fatalLine(String console) {
        return firstLine(console, FATAL);
    }

    /** The first hung-task report in {@code console}, if any. */
    public static Optional<String> stuckTaskLine(String console) {
        return firstLine(console, List.of(STUCK_TASK));
    }

    private static Optional<String> firstLine(String console, List<Pattern> patterns) {
        for (String line : console.split("\r?\n|\r")) {
            for (Pattern p : patterns) {
                Matcher m = p.matcher(line);
                if (m.find()) {
                    return Optional.of(line.strip());
                }
            }
        }
        return Optional.empty();
    }

    /**
     * The text of {@code file} from byte {@code offset} on, at most its last {@code maxBytes}
     * (a machine's console grows for as long as it runs); empty if the file is gone.
     */
    public static String readFrom(Path file, long offset, long maxBytes) throws IOException {
        if (!Files.isRegularFile(file)) {
            return "";
        }
        long size = Files.size(file);
        long start = Math.max(Math.max(0, offset), size - maxBytes);
        if (start >= size) {
            return "";
        }
        try (InputStream in = Files.newInputStream(file)) {
            in.skipNBytes(start);
            return new String(in.readNBytes((int) Math.min(size - start, maxBytes)), StandardCharsets.UTF_8);
        }
    }
}
