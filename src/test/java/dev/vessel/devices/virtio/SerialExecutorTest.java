package dev.vessel.devices.virtio;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class SerialExecutorTest {
    @Test
    void runsTasksInOrderOneAtATimeOnAPool() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Integer> seen = new ArrayList<>();
            AtomicInteger running = new AtomicInteger();
            AtomicInteger overlaps = new AtomicInteger();
            SerialExecutor serial = new SerialExecutor(pool, e -> {});
            CountDownLatch done = new CountDownLatch(1);
            for (int i = 0; i < 2000; i++) {
                int n = i;
                serial.execute(() -> {
                    if (running.incrementAndGet() != 1) {
                        overlaps.incrementAndGet();
                    }
                    seen.add(n); // unsynchronised on purpose: tasks never overlap
                    running.decrementAndGet();
                });
            }
            serial.execute(done::countDown);
            assertTrue(done.await(10, TimeUnit.SECONDS));
            assertEquals(0, overlaps.get());
            for (int i = 0; i < 2000; i++) {
                assertEquals(i, seen.get(i));
            }
        } finally {
            pool.shutdown();
        }
    }

    @Test
    void exceptionsGoToTheHandlerAndLaterTasksStillRun() {
        List<Throwable> errors = new ArrayList<>();
        List<String> ran = new ArrayList<>();
        SerialExecutor serial = new SerialExecutor(Runnable::run, errors::add);
        serial.execute(() -> {
            throw new IllegalStateException("boom");
        });
        serial.execute(() -> ran.add("after"));
        assertEquals(1, errors.size());
        assertEquals(List.of("after"), ran);
    }

    @Test
    void tasksQueuedFromATaskRunAfterIt() {
        List<String> ran = new ArrayList<>();
        SerialExecutor serial = new SerialExecutor(Runnable::run, e -> {});
        serial.execute(() -> {
            assertTrue(serial.inWorker());
            serial.execute(() -> ran.add("inner"));
            ran.add("outer");
        });
        assertEquals(List.of("outer", "inner"), ran);
        assertFalse(serial.inWorker());
    }

    @Test
    void aRefusingBackingExecutorDropsTheQueue() {
        ArrayDeque<Runnable> later = new ArrayDeque<>();
        boolean[] refuse = {true};
        SerialExecutor serial = new SerialExecutor(r -> {
            if (refuse[0]) {
                throw new RejectedExecutionException("shut down");
            }
            later.add(r);
        }, e -> {});
        assertThrows(RejectedExecutionException.class, () -> serial.execute(() -> {}));
        refuse[0] = false;
        List<String> ran = new ArrayList<>();
        serial.execute(() -> ran.add("next"));
        later.poll().run();
        assertEquals(List.of("next"), ran, "the refused task was dropped, the executor still works");
    }

    @Test
    void anErrorGoesToTheHandlerAndLaterTasksStillRun() {
        List<Throwable> errors = new ArrayList<>();
        List<String> ran = new ArrayList<>();
        SerialExecutor serial = new SerialExecutor(Runnable::run, errors::add);
        StackOverflowError deep = new StackOverflowError("hostile input, deep recursion");
        serial.execute(() -> {
            throw deep;
        });
        serial.execute(() -> ran.add("after"));
        assertEquals(List.of(deep), errors);
        assertEquals(List.of("after"), ran);
        assertFalse(serial.inWorker());
    }

    @Test
    void anErrorOnAPoolThreadDoesNotWedgeTheExecutor() throws Exception {
        ExecutorService pool = Executors.newSingleThreadExecutor();
        try {
            List<Throwable> errors = new java.util.concurrent.CopyOnWriteArrayList<>();
            SerialExecutor serial = new SerialExecutor(pool, errors::add);
            serial.execute(() -> {
                throw new LinkageError("a device bug");
            });
            CountDownLatch later = new CountDownLatch(1);
            serial.execute(later::countDown);
            assertTrue(later.await(10, TimeUnit.SECONDS), "tasks after the Error still run");
            assertEquals(1, errors.size());
            assertTrue(errors.get(0) instanceof LinkageError);
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void aHandlerThatThrowsDoesNotStopLaterTasks() {
        List<String> ran = new ArrayList<>();
        SerialExecutor serial = new SerialExecutor(Runnable::run, e -> {
            throw new IllegalStateException("the handler is broken too");
        });
        serial.execute(() -> {
            throw new IllegalStateException("boom");
        });
        serial.execute(() -> ran.add("after"));
        assertEquals(List.of("after"), ran);
    }
}
