package dev.vessel.vmm;

import dev.vessel.sys.Epoll;
import dev.vessel.sys.EventFd;
import dev.vessel.sys.Libc;
import org.junit.jupiter.api.Test;

import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
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
        assertTrue(loop.isAlive());
        loop.close();
        assertFalse(loop.isAlive(), "close() returned with the loop thread still running");
    }

    @Test
    void aThrowingHandlerDoesNotEndTheLoop() throws Exception {
        try (EventLoop loop = new EventLoop("test-throwing");
             EventFd bad = new EventFd(Libc.EFD_NONBLOCK);
             EventFd good = new EventFd(Libc.EFD_NONBLOCK)) {
            CountDownLatch badCalls = new CountDownLatch(2);
            loop.addEventFd(bad, () -> {
                badCalls.countDown();
                throw new IllegalStateException("a device bug");
            });
            CountDownLatch goodSeen = new CountDownLatch(1);
            loop.addEventFd(good, goodSeen::countDown);
            loop.start();
            bad.signal();
            good.signal();
            assertTrue(goodSeen.await(5, TimeUnit.SECONDS), "the other watch is still served");
            bad.signal();
            assertTrue(badCalls.await(5, TimeUnit.SECONDS), "the failing eventfd watch stays");
            assertTrue(loop.isAlive());
        }
    }

    @Test
    void aFailingHandlerIsReportedToItsOwnerAndTheOthersGoOn() throws Exception {
        BlockingQueue<Throwable> deviceFailures = new LinkedBlockingQueue<>();
        BlockingQueue<Throwable> vmFailures = new LinkedBlockingQueue<>();
        EventLoop.Owner device = new EventLoop.Owner("virtio-blk0", deviceFailures::add);
        try (EventLoop loop = new EventLoop("test-owners", new EventLoop.Owner("the VM", vmFailures::add));
             EventFd kick = new EventFd(Libc.EFD_NONBLOCK);
             EventFd other = new EventFd(Libc.EFD_NONBLOCK);
             EventFd unowned = new EventFd(Libc.EFD_NONBLOCK)) {
            StackOverflowError deep = new StackOverflowError("deep");
            loop.addEventFd(kick, () -> {
                throw deep;
            }, device);
            CountDownLatch otherSeen = new CountDownLatch(1);
            loop.addEventFd(other, otherSeen::countDown, new EventLoop.Owner("virtio-rng", e -> {
                throw new AssertionError("not this one");
            }));
            loop.addEventFd(unowned, () -> {
                throw new IllegalArgumentException("no owner of its own");
            });
            loop.start();
            kick.signal();
            assertSame(deep, deviceFailures.poll(5, TimeUnit.SECONDS), "the device that owns the watch is told");
            other.signal();
            assertTrue(otherSeen.await(5, TimeUnit.SECONDS));
            unowned.signal();
            Throwable vm = vmFailures.poll(5, TimeUnit.SECONDS);
            assertNotNull(vm, "a watch without an owner of its own goes to the loop's fallback");
            assertTrue(vm instanceof IllegalArgumentException, vm.toString());
            assertTrue(deviceFailures.isEmpty());
            assertTrue(loop.isAlive());
        }
    }

    @Test
    void aFailingPlainWatchIsDroppedSoItCannotSpin() throws Exception {
        AtomicInteger failures = new AtomicInteger();
        AtomicInteger calls = new AtomicInteger();
        try (EventLoop loop = new EventLoop("test-spin");
             EventFd stuck = new EventFd(Libc.EFD_NONBLOCK);
             EventFd after = new EventFd(Libc.EFD_NONBLOCK)) {
            // The handler never reads the eventfd: it stays readable, as a broken socket would.
            loop.add(stuck.fd(), Epoll.EPOLLIN, events -> {
                calls.incrementAndGet();
                throw new IllegalStateException("cannot read");
            }, new EventLoop.Owner("a host socket", e -> failures.incrementAndGet()));
            loop.start();
            stuck.signal();
            CountDownLatch seen = new CountDownLatch(1);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(5);
            while (failures.get() == 0 && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            // A watch added after the failure is served once the loop has been round again.
            loop.addEventFd(after, seen::countDown);
            after.signal();
            assertTrue(seen.await(5, TimeUnit.SECONDS));
            assertEquals(1, calls.get(), "the still-readable descriptor is no longer watched");
            assertEquals(1, failures.get());
        }
    }

    @Test
    void tasksFromOtherThreadsRunOnTheLoopThreadInOrder() throws Exception {
        try (EventLoop loop = new EventLoop("test-tasks")) {
            loop.start();
            BlockingQueue<String> seen = new LinkedBlockingQueue<>();
            for (int i = 0; i < 200; i++) {
                int n = i;
                loop.execute(() -> seen.add(n + "@" + Thread.currentThread().getName()));
            }
            for (int i = 0; i < 200; i++) {
                assertEquals(i + "@test-tasks", seen.poll(5, TimeUnit.SECONDS));
            }
        }
    }

    @Test
    void aTaskFromAHandlerRunsRightAfterItOnTheSameThread() throws Exception {
        try (EventLoop loop = new EventLoop("test-inline");
             EventFd kick = new EventFd(Libc.EFD_NONBLOCK)) {
            BlockingQueue<String> order = new LinkedBlockingQueue<>();
            loop.addEventFd(kick, () -> {
                assertTrue(loop.inLoop());
                loop.execute(() -> order.add("task on " + Thread.currentThread().getName()));
                order.add("handler");
            });
            loop.start();
            kick.signal();
            assertEquals("handler", order.poll(5, TimeUnit.SECONDS));
            assertEquals("task on test-inline", order.poll(5, TimeUnit.SECONDS));
            assertFalse(loop.inLoop());
        }
    }

    @Test
    void aFailingTaskIsToldToTheFallbackOwnerAndTheLoopGoesOn() throws Exception {
        BlockingQueue<Throwable> told = new LinkedBlockingQueue<>();
        try (EventLoop loop = new EventLoop("test-task-failure", new EventLoop.Owner("vm", told::add))) {
            loop.start();
            loop.execute(() -> {
                throw new StackOverflowError("task failure (expected by the test)");
            });
            CountDownLatch after = new CountDownLatch(1);
            loop.execute(after::countDown);
            assertTrue(after.await(5, TimeUnit.SECONDS), "the loop stopped running tasks");
            assertTrue(told.poll(5, TimeUnit.SECONDS) instanceof StackOverflowError);
            assertTrue(loop.isAlive());
        }
    }

    @Test
    void aClosedLoopRefusesTasks() throws Exception {
        EventLoop loop = new EventLoop("test-closed");
        loop.start();
        loop.close();
        assertThrows(RejectedExecutionException.class, () -> loop.execute(() -> {}));
    }

    @Test
    void aDeviceLoopRunsWhatWasQueuedBeforeItsShutdownThenCloses() throws Exception {
        EventLoop loop = new EventLoop("test-device-loop");
        loop.start();
        DeviceLoop worker = new DeviceLoop(loop);
        CountDownLatch gate = new CountDownLatch(1);
        AtomicInteger ran = new AtomicInteger();
        worker.execute(() -> {
            try {
                gate.await();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            ran.incrementAndGet();
        });
        worker.execute(ran::incrementAndGet);
        worker.shutdown();
        assertThrows(RejectedExecutionException.class, () -> worker.execute(ran::incrementAndGet));
        assertFalse(worker.awaitTermination(50, TimeUnit.MILLISECONDS), "terminated while a task still ran");
        gate.countDown();
        assertTrue(worker.awaitTermination(5, TimeUnit.SECONDS));
        assertEquals(2, ran.get());
        assertTrue(worker.isTerminated());
        assertFalse(loop.isAlive(), "the loop's thread outlived its worker");
    }
}
