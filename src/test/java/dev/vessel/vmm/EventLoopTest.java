package dev.vessel.vmm;

import dev.vessel.sys.EventFd;
import dev.vessel.sys.Libc;
import org.junit.jupiter.api.Test;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EventLoopTest {
    @Test
    void eventFdSignalsReachTheirHandlerOnTheLoopThread() throws Exception {
        try (EventLoop loop = new EventLoop("test-events");
             EventFd a = new EventFd(Libc.EFD_NONBLOCK);
             EventFd b = new EventFd(Libc.EFD_NONBLOCK)) {
            CountDownLatch aSeen = new CountDownLatch(3);
            CountDownLatch bSeen = new CountDownLatch(1);
            AtomicInteger aCount = new AtomicInteger();
            String[] thread = new String[1];
            loop.addEventFd(a, () -> {
                thread[0] = Thread.currentThread().getName();
                aCount.incrementAndGet();
                aSeen.countDown();
            });
            loop.addEventFd(b, bSeen::countDown);
            loop.start();
            for (int i = 0; i < 3; i++) {
                a.signal();
                // Each signal is drained before the next, so each one is seen.
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
                while (aCount.get() < i + 1 && System.nanoTime() < deadline) {
                    Thread.onSpinWait();
                }
            }
            b.signal();
            assertTrue(aSeen.await(5, TimeUnit.SECONDS));
            assertTrue(bSeen.await(5, TimeUnit.SECONDS));
            assertEquals(3, aCount.get());
            assertEquals("test-events", thread[0]);
        }
    }

    @Test
    void closeStopsTheLoop() throws Exception {
        EventLoop loop = new EventLoop("test-stop");
        loop.start();
        loop.close();
    }
}
