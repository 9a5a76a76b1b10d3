package dev.vessel.it;

import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Kills a process the tests started (and everything it started) once its time is up. A test that
 * reads a process's output line by line blocks in a read no interrupt ends; when the helper
 * machine goes mute (docs/helper-machine.md), that read would wait for ever. Killing the process
 * closes its pipes, the read ends, the test fails, and {@link MachineDeathRetry} can judge it.
 */
final class ProcessDeadline {
    private ProcessDeadline() {}

    /** Longer than any single command of the ITs takes, shorter than a CI run. */
    static final Duration DEFAULT = Duration.ofMinutes(10);

    private static final ScheduledExecutorService TIMER = Executors.newSingleThreadScheduledExecutor(r ->
            Thread.ofPlatform().daemon(true).name("it-process-deadline").unstarted(r));

    /** Arms the deadline; it does nothing to a process that has ended before. */
    static Process after(Duration limit, Process p) {
        TIMER.schedule(() -> {
            if (p.isAlive()) {
                System.err.println("vessel-it: killing " + p.info().commandLine().orElse("pid " + p.pid())
                        + ": still running after " + limit);
                killTree(p);
            }
        }, limit.toMillis(), TimeUnit.MILLISECONDS);
        return p;
    }

    /** Kills {@code p}'s descendants, then {@code p}: a child left holding a pipe would keep its reader waiting. */
    static void killTree(Process p) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
    }

    /** Waits for a pump thread, but not for ever: a grandchild nobody knew of may hold the pipe. */
    static void join(Thread pump, Duration limit) throws InterruptedException {
        pump.join(limit);
        if (pump.isAlive()) {
            pump.interrupt();
        }
    }
}
