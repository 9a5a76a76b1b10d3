package dev.vessel.devices.block.nbd;

import java.io.IOException;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;

/**
 * Bounds the blocking socket I/O of every {@link NbdClient}: one daemon thread for all of them
 * wakes every {@link #TICK} and closes the channel of any operation past its deadline, which
 * makes the blocked read, write or connect fail at once (AsynchronousCloseException).
 *
 * <p>Why not non-blocking channels and a selector: replies are read straight into guest memory
 * with plain blocking reads, and a request costs no allocation and no extra system call; the
 * watchdog only touches two fields per operation. The price is a deadline precise to a tick,
 * which does not matter for timeouts of seconds.
 */
final class NbdWatchdog {
    private NbdWatchdog() {}

    /** How often deadlines are checked; a timeout fires up to this much late. */
    static final Duration TICK = Duration.ofMillis(200);

    private static final System.Logger LOG = System.getLogger(NbdWatchdog.class.getName());
    private static final Set<Watch> WATCHES = ConcurrentHashMap.newKeySet();
    private static final ScheduledThreadPoolExecutor SCHEDULER = scheduler();
    private static ScheduledFuture<?> ticking; // guarded by NbdWatchdog.class; null while nothing is watched

    private static ScheduledThreadPoolExecutor scheduler() {
        var s = new ScheduledThreadPoolExecutor(1, Thread.ofPlatform().name("nbd-watchdog").daemon(true).factory());
        s.setRemoveOnCancelPolicy(true);
        // No thread lingers in a process without NBD disks, or after they are closed.
        s.setKeepAliveTime(5, TimeUnit.SECONDS);
        s.allowCoreThreadTimeOut(true);
        return s;
    }

    /** A new watch, checked until it is {@linkplain Watch#close() closed}. */
    static Watch watch() {
        Watch w = new Watch();
        synchronized (NbdWatchdog.class) {
            WATCHES.add(w);
            if (ticking == null) {
                long tick = TICK.toNanos();
                ticking = SCHEDULER.scheduleWithFixedDelay(NbdWatchdog::tick, tick, tick, TimeUnit.NANOSECONDS);
            }
        }
        return w;
    }

    private static synchronized void forget(Watch w) {
        WATCHES.remove(w);
        if (WATCHES.isEmpty() && ticking != null) {
            ticking.cancel(false);
            ticking = null;
        }
    }

    private static void tick() {
        // An exception would end the periodic task, and with it every timeout.
        try {
            long now = System.nanoTime();
            for (Watch w : WATCHES) {
                w.expireIfLate(now);
            }
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.WARNING, "NBD watchdog: " + e, e);
        }
    }

    /**
     * One client's current operation: the channel it blocks on and its deadline. The client's
     * own thread begins and ends operations; the watchdog and {@link #close()} may end one early
     * by closing its channel. The lock is uncontended but for those two.
     */
    static final class Watch {
        private SocketChannel busy; // null while idle
        private long deadline;      // System.nanoTime() by which busy must be done
        private boolean expired;    // the watchdog closed the current operation's channel
        private boolean closed;

        private Watch() {}

        /** Starts an operation on {@code ch}; false (and nothing started) once the watch is closed. */
        synchronized boolean begin(SocketChannel ch, Duration timeout) {
            if (closed) {
                return false;
            }
            busy = ch;
            deadline = System.nanoTime() + timeout.toNanos();
            expired = false;
            return true;
        }

        /** Ends the current operation, if any. */
        synchronized void end() {
            busy = null;
        }

        /** Whether the watchdog cut the current (or last) operation short. */
        synchronized boolean expired() {
            return expired;
        }

        synchronized boolean closed() {
            return closed;
        }

        private synchronized void expireIfLate(long now) {
            if (busy != null && now - deadline >= 0) {
                expired = true;
                // Under the lock, so the channel closed is the late operation's: its owner cannot
                // have ended it and begun another meanwhile. Closing a blocking channel does not
                // wait for the blocked thread; it signals it.
                closeQuietly(busy);
                busy = null;
            }
        }

        /**
         * Closes the current operation's channel, so the thread blocked in it returns at once,
         * refuses any later operation, and stops watching. Returns false if already closed.
         */
        boolean close() {
            synchronized (this) {
                if (closed) {
                    return false;
                }
                closed = true;
                if (busy != null) {
                    closeQuietly(busy);
                    busy = null;
                }
            }
            forget(this);
            return true;
        }
    }

    static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException e) {
            // Nothing more can be done with it; the operation on it fails either way.
        }
    }
}
