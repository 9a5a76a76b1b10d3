package dev.vessel.host;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;

/** What this host's CPU and kernel can do for virtualization. */
public final class HostCapabilities {
    private HostCapabilities() {}

    private static final Pattern FLAGS = Pattern.compile("(?m)^flags\\s*:.*\\b(vmx|svm)\\b");

    /**
     * True when the CPU advertises VMX or SVM and /dev/kvm exists: KVM can then run an unmodified
     * guest directly. Without them (e.g. a PVM-flavoured KVM, or no KVM at all) Vessel uses its
     * helper machine.
     */
    public static boolean hardwareVirtualization() {
        try {
            return Files.exists(Path.of("/dev/kvm")) && FLAGS.matcher(Files.readString(Path.of("/proc/cpuinfo"))).find();
        } catch (IOException e) {
            return false;
        }
    }

    /** Total host RAM in bytes (MemTotal), or Long.MAX_VALUE if unknown. */
    public static long totalMemory() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            // Fall through: unknown.
        }
        return Long.MAX_VALUE;
    }
}
