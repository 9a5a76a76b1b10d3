package dev.vessel.image;

import dev.vessel.host.PrivateFiles;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * Locks that serialise the store's writers across threads and processes: a lock file per lock,
 * locked with fcntl (FileChannel.lock) for other processes and with a read-write lock for the
 * threads of this one. POSIX record locks belong to the process and vanish when any descriptor of
 * the file is closed, so each lock file has one channel per JVM, opened once and never closed.
 * A process that dies loses its locks: nothing stale is left to clean up.
 */
final class FileLocks {
    private FileLocks() {}

    private static final ConcurrentHashMap<Path, State> STATES = new ConcurrentHashMap<>();

    private static final class State {
        final ReentrantReadWriteLock rw = new ReentrantReadWriteLock();
        final FileChannel channel;
        FileLock fileLock;
        int holders; // threads holding the file lock through this JVM (shared) or 1 (exclusive)
        boolean exclusive;

        State(Path file) {
            try {
                channel = PrivateFiles.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        }
    }

    /** A held lock; close releases it. */
    interface Held extends AutoCloseable {
        @Override
        void close();
    }

    private static State state(Path file) throws IOException {
        try {
            return STATES.computeIfAbsent(file.toAbsolutePath().normalize(), State::new);
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    /** Waits for the exclusive lock. Reentrant within a thread. */
    static Held exclusive(Path file) throws IOException {
        State s = state(file);
        s.rw.writeLock().lock();
        boolean ok = false;
        try {
            synchronized (s) {
                if (s.rw.getWriteHoldCount() == 1) {
                    s.fileLock = s.channel.lock(0, Long.MAX_VALUE, false);
                    s.exclusive = true;
                }
            }
            ok = true;
        } finally {
            if (!ok) {
                s.rw.writeLock().unlock();
            }
        }
        return () -> releaseExclusive(s);
    }

    /** The exclusive lock if nobody (in any process) holds it now, else null. */
    static Held tryExclusive(Path file) throws IOException {
        State s = state(file);
        if (!s.rw.writeLock().tryLock()) {
            return null;
        }
        boolean ok = false;
        try {
            synchronized (s) {
                if (s.rw.getWriteHoldCount() == 1) {
                    FileLock fl = s.channel.tryLock(0, Long.MAX_VALUE, false);
                    if (fl == null) {
                        return null;
                    }
                    s.fileLock = fl;
                    s.exclusive = true;
                }
            }
            ok = true;
        } finally {
            if (!ok) {
                s.rw.writeLock().unlock();
            }
        }
        return () -> releaseExclusive(s);
    }

    private static void releaseExclusive(State s) {
        synchronized (s) {
            if (s.rw.getWriteHoldCount() == 1) {
                release(s);
                s.exclusive = false;
            }
        }
        s.rw.writeLock().unlock();
    }

    /** Waits for a shared lock: any number of holders, no exclusive one. */
    static Held shared(Path file) throws IOException {
        State s = state(file);
        s.rw.readLock().lock();
        boolean ok = false;
        try {
            synchronized (s) {
                if (s.holders == 0) {
                    s.fileLock = s.channel.lock(0, Long.MAX_VALUE, true);
                }
                s.holders++;
            }
            ok = true;
        } finally {
            if (!ok) {
                s.rw.readLock().unlock();
            }
        }
        return () -> {
            synchronized (s) {
                if (--s.holders == 0) {
                    release(s);
                }
            }
            s.rw.readLock().unlock();
        };
    }

    private static void release(State s) {
        try {
            if (s.fileLock != null) {
                s.fileLock.release();
                s.fileLock = null;
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
