package dev.vessel.vmm;

import dev.vessel.devices.FdReadiness;
import dev.vessel.sys.Epoll;
import dev.vessel.sys.ErrnoException;

import java.io.IOException;
import java.util.Objects;
import java.util.function.IntConsumer;

/**
 * {@link FdReadiness} on the VM's {@link EventLoop}, for one device: each arm is an epoll
 * one-shot watch (re-armed with EPOLL_CTL_MOD), so a descriptor reports once and then stays quiet
 * until its device has done the work and asks again. Disarming removes the descriptor from the
 * loop, so an error on it (which epoll reports whatever was asked) is not reported to a device
 * that waits for nothing. What the callback throws fails the owner, as for the device's kicks.
 */
final class LoopReadiness implements FdReadiness {
    private final EventLoop loop;
    private final EventLoop.Owner owner;

    LoopReadiness(EventLoop loop, EventLoop.Owner owner) {
        this.loop = Objects.requireNonNull(loop);
        this.owner = Objects.requireNonNull(owner);
    }

    @Override
    public Registration register(int fd, IntConsumer onReady) {
        Objects.requireNonNull(onReady, "onReady");
        return new Watch(fd, onReady);
    }

    private final class Watch implements Registration {
        private final int fd;
        private final IntConsumer onReady;
        /** The loop's token while the descriptor is in its epoll set; 0 when it is not. */
        private long token;
        private boolean closed;

        Watch(int fd, IntConsumer onReady) {
            this.fd = fd;
            this.onReady = onReady;
        }

        @Override
        public synchronized void arm(int events) throws IOException {
            if (closed) {
                return;
            }
            int wanted = events & (READABLE | WRITABLE);
            if (wanted == 0) {
                removeFromLoop();
                return;
            }
            int epollEvents = wanted | Epoll.EPOLLONESHOT;
            if (token == 0) {
                token = loop.add(fd, epollEvents, onReady::accept, owner);
            } else {
                loop.modify(fd, token, epollEvents);
            }
        }

        private void removeFromLoop() {
            if (token != 0) {
                long t = token;
                token = 0;
                try {
                    loop.remove(fd, t);
                } catch (ErrnoException e) {
                    // The loop dropped it already (a failed handler), or the descriptor is closed.
                }
            }
        }

        @Override
        public synchronized void close() {
            if (!closed) {
                closed = true;
                removeFromLoop();
            }
        }
    }
}
