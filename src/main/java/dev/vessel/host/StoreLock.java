package dev.vessel.host;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * An exclusive lock on a store's lock file, between the threads of this JVM and between processes.
 * This process's threads queue on a lock of their own first: a second fcntl lock from this JVM
 * would be refused ({@code OverlappingFileLockException}), not queued, and closing another channel
 * of the file would drop the lock. Then the file lock keeps other processes out. The channel is
 * closed on release, which is safe because only the thread holding the thread lock has it open.
 * Reentrant within a thread.
 */
public final class StoreLock {
    private StoreLock() {}

    /** A held lock; closing it releases it. */
    public interface Held extends AutoCloseable {
        @Override
        void close() throws IOException;
    }

    private static final ConcurrentHashMap<Path, ReentrantLock> THREAD_LOCKS = new ConcurrentHashMap<>();

    /** Waits for the lock on {@code file} (created private if missing). */
    public static Held acquire(Path file) throws IOException {
        ReentrantLock threads = THREAD_LOCKS.computeIfAbsent(file.toAbsolutePath().normalize(), k -> new ReentrantLock());
        threads.lock();
        if (threads.getHoldCount() > 1) {
            // Reentrant use from this thread: the outer holder has the file lock.
            return threads::unlock;
        }
        FileChannel ch = null;
        try {
            ch = PrivateFiles.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
            FileLock fileLock = ch.lock();
            FileChannel held = ch;
            return () -> {
                try {
                    fileLock.release();
                    held.close();
                } finally {
                    threads.unlock();
                }
            };
        } catch (IOException | RuntimeException e) {
            if (ch != null) {
                ch.close();
            }
            threads.unlock();
            throw e;
        }
    }
}
