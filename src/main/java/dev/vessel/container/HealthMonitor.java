package dev.vessel.container;

import dev.vessel.guest.agent.AgentClient;
import dev.vessel.guest.agent.ExecRequest;
import dev.vessel.guest.agent.ExecSession;
import dev.vessel.image.GoDuration;
import dev.vessel.image.HealthConfig;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A running container's health check, as dockerd runs it (daemon/health.go): the first check one
 * interval after the start, each next one an interval after the end of the last (the start
 * interval instead while the container is starting within its start period); a check that runs
 * past its timeout is killed and fails. Each result goes to a {@link Listener}, which keeps it.
 * Time, the scheduling and the checks themselves come from outside, so tests drive them.
 */
final class HealthMonitor implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(HealthMonitor.class.getName());
    /** The most output docker keeps of one check. */
    static final int MAX_OUTPUT = 4096;

    /** One check running in the container. */
    interface Check extends AutoCloseable {
        /**
         * Waits for its end, at most {@code timeout}: its exit status, or empty while it still runs.
         *
         * @throws IOException when it could not run, or the connection to it broke (the message says why)
         */
        Optional<Integer> await(Duration timeout) throws IOException, InterruptedException;

        /** Kills it if it still runs, and lets go of it. */
        @Override
        void close();
    }

    /** Starts checks: {@code argv} in the container, its stdout and stderr both to {@code output}. */
    @FunctionalInterface
    interface Runner {
        Check start(List<String> argv, OutputStream output) throws IOException;
    }

    /** Runs a task after a delay; {@link #scheduler} in production, tests step through them. */
    @FunctionalInterface
    interface Scheduler {
        void schedule(Duration delay, Runnable task);
    }

    /** Where each new health goes; {@code changed} when its status differs from the one before. */
    @FunctionalInterface
    interface Listener {
        void update(Health health, boolean changed);
    }

    /** A connection to the container's agent. */
    @FunctionalInterface
    interface Dialer {
        AgentClient connect() throws IOException;
    }

    private final HealthConfig config;
    private final List<String> argv;
    private final Instant started;
    private final Clock clock;
    private final Runner runner;
    private final Scheduler scheduler;
    private final Listener listener;
    private Health health;
    private Check running;
    private boolean stopped;

    /**
     * @param health where the container's health starts ({@link Health#starting})
     * @param started when the container started, which its start period counts from
     */
    HealthMonitor(HealthConfig config, Health health, Instant started, Clock clock, Runner runner, Scheduler scheduler,
                  Listener listener) {
        this.config = config;
        this.argv = config.probe();
        if (argv.isEmpty()) {
            throw new IllegalArgumentException("no health check to run: " + config.test());
        }
        this.health = health;
        this.started = started;
        this.clock = clock;
        this.runner = runner;
        this.scheduler = scheduler;
        this.listener = listener;
    }

    /** Schedules the first check. */
    HealthMonitor start() {
        scheduler.schedule(nextDelay(), this::check);
        return this;
    }

    synchronized Health health() {
        return health;
    }

    /** dockerd's getInterval: the start interval while starting within the start period, else the interval. */
    private synchronized Duration nextDelay() {
        boolean inStartPeriod = Duration.between(started, clock.instant()).toNanos() < config.startPeriod();
        return Duration.ofNanos(inStartPeriod && Health.STARTING.equals(health.status())
                ? config.startIntervalOrDefault() : config.intervalOrDefault());
    }

    /** Runs one check, keeps its result and schedules the next; nothing once stopped. */
    void check() {
        synchronized (this) {
            if (stopped) {
                return;
            }
        }
        Instant start = clock.instant();
        LimitedOutput output = new LimitedOutput();
        int exitCode;
        String text;
        try (Check c = runner.start(argv, output)) {
            synchronized (this) {
                if (stopped) {
                    return; // closing it kills it
                }
                running = c;
            }
            Optional<Integer> status = c.await(Duration.ofNanos(config.timeoutOrDefault()));
            c.close(); // killed when it ran out of time: a dying check must not linger
            exitCode = status.orElse(-1);
            text = output.toString();
            if (status.isEmpty()) {
                String limit = GoDuration.format(config.timeoutOrDefault());
                text = text.isEmpty() ? "Health check exceeded timeout (" + limit + ")"
                        : "Health check exceeded timeout (" + limit + "): " + text;
            }
        } catch (IOException e) {
            exitCode = -1; // dockerd's result for a check that could not run
            text = e.getMessage();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
        } finally {
            synchronized (this) {
                running = null;
            }
        }
        Health.Result result = new Health.Result(start.toString(), clock.instant().toString(), exitCode, text);
        Health now;
        boolean changed;
        synchronized (this) {
            if (stopped) {
                return; // dockerd drops the result of a check its stop cut short
            }
            boolean inStartPeriod = Duration.between(started, start).toNanos() < config.startPeriod();
            Health before = health;
            health = health.after(result, config.retriesOrDefault(), inStartPeriod);
            now = health;
            changed = !before.status().equals(now.status());
        }
        try {
            listener.update(now, changed);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot keep the container's health: " + e);
        }
        scheduler.schedule(nextDelay(), this::check);
    }

    /** Stops the checks: the one running is killed and its result dropped. */
    @Override
    public void close() {
        Check c;
        synchronized (this) {
            stopped = true;
            c = running;
        }
        if (c != null) {
            c.close();
        }
    }

    /**
     * The production scheduler: one daemon thread, which runs each check to its end. Stopping it
     * ({@link ScheduledExecutorService#shutdownNow}) drops what is not due yet.
     */
    static ScheduledExecutorService scheduler() {
        return Executors.newSingleThreadScheduledExecutor(r -> Thread.ofPlatform().daemon(true).name("shim-health").unstarted(r));
    }

    static Scheduler on(ScheduledExecutorService executor) {
        return (delay, task) -> {
            if (!executor.isShutdown()) {
                executor.schedule(task, delay.toNanos(), TimeUnit.NANOSECONDS);
            }
        };
    }

    /**
     * Checks through the container's agent, as {@code docker exec} would run them: the container's
     * environment, user and working directory, no terminal, no input.
     */
    static Runner agentRunner(ContainerConfig container, Dialer dialer) {
        return (argv, output) -> {
            ExecRequest request;
            try {
                request = ContainerService.execRequest(container, ExecOptions.of(argv));
            } catch (ContainerException e) {
                throw new IOException(e.getMessage(), e);
            }
            AgentClient client = dialer.connect();
            ExecSession session;
            try {
                session = client.exec(request, null, output, output);
            } catch (IOException | RuntimeException e) {
                client.close();
                throw e;
            }
            try {
                session.closeStdin(); // no input, as docker's (a check that reads gets EOF)
            } catch (IOException e) {
                // a quick check ended and the agent closed the connection first: its status tells
            }
            return new Check() {
                @Override
                public Optional<Integer> await(Duration timeout) throws IOException, InterruptedException {
                    Optional<Integer> status = session.waitFor(timeout);
                    if (status.isPresent() && session.failure().isPresent()) {
                        throw new IOException(session.failure().get().message());
                    }
                    return status;
                }

                @Override
                public void close() {
                    session.close(); // the agent kills what still runs when its connection goes
                    client.close();
                }
            };
        };
    }

    /** docker's limitedBuffer: the first {@value #MAX_OUTPUT} bytes, "..." when more came. */
    static final class LimitedOutput extends OutputStream {
        private final ByteArrayOutputStream kept = new ByteArrayOutputStream();
        private boolean truncated;

        @Override
        public synchronized void write(int b) {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) {
            int keep = Math.min(MAX_OUTPUT - kept.size(), len);
            if (keep > 0) {
                kept.write(b, off, keep);
            }
            if (keep < len) {
                truncated = true;
            }
        }

        @Override
        public synchronized String toString() {
            String s = kept.toString(StandardCharsets.UTF_8);
            return truncated ? s + "..." : s;
        }
    }
}
