package dev.vessel.cli;


/** VESSEL_TIMING=1 prints start-up milestones to stderr, for finding where start-up time goes. */
final class Timing {
    private Timing() {}

    private static volatile boolean on = System.getenv("VESSEL_TIMING") != null;

    /** A standby VMM started without VESSEL_TIMING takes a command that has it. */
    static void enable() {
        on = true;
    }

    static void mark(String what) {
        if (on) {
            long sinceJvmStart = System.currentTimeMillis() - ProcessHandle.current().info().startInstant()
                    .map(java.time.Instant::toEpochMilli).orElse(System.currentTimeMillis());
            System.err.printf("timing: %6d ms %s (at %d)%n", sinceJvmStart, what, System.currentTimeMillis() % 1_000_000);
        }
    }
}
