package dev.vessel.host;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The store lock between threads of one JVM: they queue instead of failing, and a thread may take it again. */
class StoreLockTest {
    @TempDir
    Path dir;

    private int counter;

    @Test
    void threadsOfOneProcessQueueForTheLock() throws Exception {
        Path file = dir.resolve(".lock");
        int threads = 8;
        int rounds = 200;
        List<Future<?>> done = new ArrayList<>();
        try (ExecutorService pool = Executors.newFixedThreadPool(threads)) {
            for (int t = 0; t < threads; t++) {
                done.add(pool.submit(() -> {
                    for (int i = 0; i < rounds; i++) {
                        try (StoreLock.Held l = StoreLock.acquire(file)) {
                            int seen = counter; // a lost update shows two holders at once
                            Thread.yield();
                            counter = seen + 1;
                        }
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get(); // an OverlappingFileLockException would surface here
            }
        }
        assertEquals(threads * rounds, counter);
        try (StoreLock.Held outer = StoreLock.acquire(file); StoreLock.Held inner = StoreLock.acquire(file)) {
            counter++; // reentrant: no deadlock, no refusal
        }
        assertEquals(threads * rounds + 1, counter);
    }
}
