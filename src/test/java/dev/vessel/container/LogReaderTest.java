package dev.vessel.container;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LogReaderTest {
    @TempDir
    Path dir;

    private ContainerStore.Container container() throws Exception {
        ContainerStore store = ContainerStore.open(dir.resolve("containers"));
        return store.create(ContainerStoreTest.config("ab" + "0".repeat(62), "logs", "2026-01-01T00:00:00Z"));
    }

    private static String text(List<ContainerLog.Entry> entries) {
        StringBuilder b = new StringBuilder();
        for (ContainerLog.Entry e : entries) {
            b.append(e.stream()).append(':').append(new String(e.data(), StandardCharsets.UTF_8));
        }
        return b.toString();
    }

    @Test
    void readsGoOnWhereTheLastOneEnded() throws Exception {
        ContainerStore.Container c = container();
        LogReader r = new LogReader(c);
        assertEquals(0, r.read(0).entries().size(), "no log yet");
        try (ContainerLog log = ContainerLog.append(c.log())) {
            log.write("stdout", "one\n".getBytes(StandardCharsets.UTF_8), 0, 4);
            ContainerLog.Chunk first = r.read(0);
            assertEquals("stdout:one\n", text(first.entries()));
            log.write("stderr", "two\n".getBytes(StandardCharsets.UTF_8), 0, 4);
            ContainerLog.Chunk second = r.read(first.next());
            assertEquals("stderr:two\n", text(second.entries()));
            assertEquals(0, r.read(second.next()).entries().size());
        }
    }

    @Test
    @Timeout(30)
    void followingEndsOnceTheContainerStoppedAndAllWasPassedOn() throws Exception {
        ContainerStore.Container c = container();
        long start = ProcessHandle.current().info().startInstant().map(Instant::toEpochMilli).orElseThrow();
        c.writeState(c.state().running(ProcessHandle.current().pid(), start, false));
        List<ContainerLog.Entry> seen = new CopyOnWriteArrayList<>();
        CountDownLatch firstSeen = new CountDownLatch(1);
        try (ContainerLog log = ContainerLog.append(c.log())) {
            log.write("stdout", "before\n".getBytes(StandardCharsets.UTF_8), 0, 7);
            CompletableFuture<Void> follow = CompletableFuture.runAsync(() -> {
                try {
                    new LogReader(c).follow(0, e -> {
                        seen.add(e);
                        firstSeen.countDown();
                    });
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            assertTrue(firstSeen.await(10, TimeUnit.SECONDS));
            log.write("stderr", "after\n".getBytes(StandardCharsets.UTF_8), 0, 6);
            c.writeState(c.state().exited(0, null));
            follow.get(20, TimeUnit.SECONDS);
        }
        assertEquals("stdout:before\nstderr:after\n", text(seen));
    }

    /**
     * The supervisor writes while the log rotates every few entries; a follower started at 0 gets
     * every entry once, in order. The writer keeps at most a few entries ahead of the follower
     * (fewer than the files kept hold), so nothing is rotated away unread.
     */
    @Test
    @Timeout(120)
    void followingWhileTheLogRotatesLosesAndRepeatsNothing() throws Exception {
        ContainerStore.Container c = container();
        long start = ProcessHandle.current().info().startInstant().map(Instant::toEpochMilli).orElseThrow();
        c.writeState(c.state().running(ProcessHandle.current().pid(), start, false));
        int total = 1500;
        Semaphore ahead = new Semaphore(4);
        List<String> seen = new CopyOnWriteArrayList<>();
        CompletableFuture<Void> follow = CompletableFuture.runAsync(() -> {
            try {
                new LogReader(c).follow(0, e -> {
                    seen.add(new String(e.data(), StandardCharsets.UTF_8));
                    ahead.release();
                });
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        });
        try (ContainerLog log = ContainerLog.append(c.log(), new ContainerLog.Limits(1024, 3))) {
            for (int i = 0; i < total; i++) {
                assertTrue(ahead.tryAcquire(30, TimeUnit.SECONDS), "the follower stopped at " + seen.size());
                byte[] b = ("entry " + i + "\n").getBytes(StandardCharsets.UTF_8);
                log.write(i % 3 == 0 ? "stderr" : "stdout", b, 0, b.length);
            }
        }
        c.writeState(c.state().exited(0, null));
        follow.get(60, TimeUnit.SECONDS);
        List<String> expected = java.util.stream.IntStream.range(0, total).mapToObj(i -> "entry " + i + "\n").toList();
        assertEquals(expected, seen);
        assertTrue(ContainerLog.segments(c.log()).getFirst().start() > 0, "the log did rotate, and its first files are gone");
    }

    @Test
    void readAllGoesAcrossTheFiles() throws Exception {
        ContainerStore.Container c = container();
        try (ContainerLog log = ContainerLog.append(c.log(), new ContainerLog.Limits(200, 100))) {
            for (int i = 0; i < 30; i++) {
                byte[] b = ("entry " + i + "\n").getBytes(StandardCharsets.UTF_8);
                log.write("stdout", b, 0, b.length);
            }
        }
        assertTrue(ContainerLog.segments(c.log()).size() > 10);
        ContainerLog.Chunk all = new LogReader(c).readAll(0);
        assertEquals(30, all.entries().size());
        assertEquals("stdout:entry 29\n", text(all.entries().subList(29, 30)));
        assertEquals(0, new LogReader(c).readAll(all.next()).entries().size());
    }
}
