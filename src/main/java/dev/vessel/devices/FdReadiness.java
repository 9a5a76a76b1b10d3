package dev.vessel.devices;

import dev.vessel.sys.Epoll;

import java.io.IOException;
import java.util.function.IntConsumer;

/**
 * Readiness of a device's host file descriptors (a TAP), as the VMM's event loop reports it: the
 * device's way to wait for host I/O without a thread of its own. Each {@link Registration#arm}
 * asks for one report: when the descriptor is ready for any of the events asked for, the callback
 * runs once, on the event loop's thread (it must not block: a device hands the work to its
 * worker), and nothing more is reported until the device arms it again. So a ready descriptor
 * whose work is still queued never keeps the loop busy, and a device that has no use for input
 * (no guest buffers) simply does not arm it.
 */
public interface FdReadiness {
    /** The descriptor has data to read (or its end). */
    int READABLE = Epoll.EPOLLIN;
    /** The descriptor takes writes again. */
    int WRITABLE = Epoll.EPOLLOUT;
    /** The descriptor failed or its peer is gone; reported whenever armed, whatever was asked for. */
    int ERROR = Epoll.EPOLLERR | Epoll.EPOLLHUP;

    /**
     * Watches {@code fd} for its owner; nothing is reported until {@link Registration#arm}.
     * {@code onReady} gets the events that were ready ({@link #READABLE}, {@link #WRITABLE},
     * {@link #ERROR} bits).
     */
    Registration register(int fd, IntConsumer onReady) throws IOException;

    /** One watched descriptor. Arm and close from one thread at a time (the device's worker). */
    interface Registration extends AutoCloseable {
        /**
         * Asks for one report of {@code events} ({@link #READABLE} and/or {@link #WRITABLE});
         * 0 stops watching. Replaces what was asked before.
         */
        void arm(int events) throws IOException;

        /** Stops watching for good; the descriptor stays open (it is the device's). */
        @Override
        void close();
    }
}
