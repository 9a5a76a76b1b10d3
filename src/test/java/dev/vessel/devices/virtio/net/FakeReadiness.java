package dev.vessel.devices.virtio.net;

import dev.vessel.devices.FdReadiness;

import java.util.function.IntConsumer;

/**
 * The event loop as a test drives it: records what the device armed, and {@link #fire} reports
 * readiness the way a one-shot epoll watch does (once, then disarmed).
 */
final class FakeReadiness implements FdReadiness {
    int fd = -1;
    IntConsumer handler;
    int armed;
    int armCalls;
    boolean closed;

    @Override
    public Registration register(int fd, IntConsumer onReady) {
        if (handler != null) {
            throw new AssertionError("registered twice");
        }
        this.fd = fd;
        this.handler = onReady;
        return new Registration() {
            @Override
            public void arm(int events) {
                if ((events & ~(READABLE | WRITABLE)) != 0) {
                    throw new AssertionError("armed for 0x" + Integer.toHexString(events));
                }
                armCalls++;
                armed = closed ? 0 : events;
            }

            @Override
            public void close() {
                closed = true;
                armed = 0;
            }
        };
    }

    boolean watchingReadable() {
        return (armed & READABLE) != 0;
    }

    boolean watchingWritable() {
        return (armed & WRITABLE) != 0;
    }

    /**
     * The descriptor became ready for {@code events}: reported if the device waits for one of
     * them (errors always), then the watch is idle until armed again. Returns whether it was reported.
     */
    boolean fire(int events) {
        int reported = events & (armed | ERROR);
        if (armed == 0 || reported == 0) {
            return false;
        }
        armed = 0;
        handler.accept(reported);
        return true;
    }
}
