package dev.vessel.host;

/** VESSEL_TIMING=1 prints start-up milestones to stderr, for finding where start-up time goes. */
public final class Timing {
    private Timing() {}

    private static volatile boolean on = System.getenv("VESSEL_TIMING") != null;
    /** Set for a standby VMM: its milestones count from the moment it took the command, not from its JVM's start. */
    private static volatile String standby;
    private static volatile long takenMillis;

    /** A standby VMM (started without VESSEL_TIMING) took a command that has it. */
    public static void enableForStandbyCommand(long pid) {
        standby = "standby pid " + pid;
        takenMillis = System.currentTimeMillis();
        on = true;
    }

    public static void mark(String what) {
        if (!on) {
            return;
        }
        long now = System.currentTimeMillis();
        if (standby != null) {
            System.err.printf("timing: %s, %d ms after taking the command: %s (at %d)%n", standby, now - takenMillis, what,
                    now % 1_000_000);
            return;
        }
        long sinceJvmStart = now - ProcessHandle.current().info().startInstant()
                .map(java.time.Instant::toEpochMilli).orElse(now);
        System.err.printf("timing: %6d ms %s (at %d)%n", sinceJvmStart, what, now % 1_000_000);
    }
}
