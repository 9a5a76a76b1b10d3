package dev.vessel.vmm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.vessel.devices.FdReadiness;
import dev.vessel.sys.EventFd;
import dev.vessel.sys.Libc;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** A device's readiness watch on the VM's event loop: one report per arm, none while disarmed. */
class LoopReadinessTest {
    /** Returns once the loop has served everything that was ready before this call (a later eventfd's handler ran). */
    static void barrier(EventLoop loop) throws Exception {
        try (EventFd efd = new EventFd(Libc.EFD_NONBLOCK)) {
            CountDownLatch seen = new CountDownLatch(1);
            long token = loop.addEventFd(efd, seen::countDown);
            efd.signal();
            assertTrue(seen.await(10, TimeUnit.SECONDS), "the loop runs");
            loop.remove(efd.fd(), token);
        }
    }

    @Test
    void reportsOncePerArmAndNothingWhileDisarmed() throws Exception {
        int[] pair = Libc.socketpair(Libc.AF_UNIX, Libc.SOCK_SEQPACKET | Libc.SOCK_NONBLOCK);
        try (EventLoop loop = new EventLoop("test-readiness"); Arena arena = Arena.ofConfined()) {
            loop.start();
            BlockingQueue<Integer> reports = new LinkedBlockingQueue<>();
            FdReadiness readiness = new LoopReadiness(loop, new EventLoop.Owner("test", t -> {}));
            FdReadiness.Registration watch = readiness.register(pair[0], reports::add);
            MemorySegment one = arena.allocate(1);
            Libc.write(pair[1], one, 1); // pair[0] is readable from now on

            barrier(loop);
            assertNull(reports.poll(), "registered but not armed: no report");

            watch.arm(FdReadiness.READABLE);
            Integer first = reports.poll(10, TimeUnit.SECONDS);
            assertNotNull(first);
            assertEquals(FdReadiness.READABLE, first & FdReadiness.READABLE);
            barrier(loop);
            assertNull(reports.poll(), "still readable, but reported once until armed again");

            watch.arm(FdReadiness.READABLE);
            assertNotNull(reports.poll(10, TimeUnit.SECONDS), "re-armed: reported again");

            watch.arm(0);
            barrier(loop);
            assertNull(reports.poll(), "disarmed");

            watch.arm(FdReadiness.WRITABLE);
            Integer w = reports.poll(10, TimeUnit.SECONDS);
            assertNotNull(w);
            assertEquals(FdReadiness.WRITABLE, w & (FdReadiness.READABLE | FdReadiness.WRITABLE), "only what was asked for");

            watch.close();
            watch.arm(FdReadiness.READABLE);
            barrier(loop);
            assertNull(reports.poll(), "closed: arming does nothing");
        } finally {
            Libc.close(pair[0]);
            Libc.close(pair[1]);
        }
    }
}
