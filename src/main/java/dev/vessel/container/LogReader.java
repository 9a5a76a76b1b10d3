package dev.vessel.container;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.StandardWatchEventKinds;
import java.nio.file.WatchKey;
import java.nio.file.WatchService;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Reads a container's output ({@link ContainerLog}) by position (bytes over all its files, which
 * rotation does not change), and follows it while the container runs.
 */
public final class LogReader {
    /** Where followed entries go; an exception from it ends the following. */
    @FunctionalInterface
    public interface Sink {
        void accept(ContainerLog.Entry entry) throws IOException;
    }

    private final ContainerStore.Container container;

    LogReader(ContainerStore.Container container) {
        this.container = container;
    }

    /**
     * The entries after position {@code offset} (0: all), up to {@link ContainerLog#MAX_READ}
     * bytes of them; the chunk's {@code next} is where to go on.
     */
    public ContainerLog.Chunk read(long offset) throws IOException {
        return ContainerLog.readFrom(container.log(), offset);
    }

    /** Every entry after position {@code offset} (0: all) that is there now, over all files. */
    public ContainerLog.Chunk readAll(long offset) throws IOException {
        List<ContainerLog.Entry> all = new ArrayList<>();
        long next = offset;
        while (true) {
            ContainerLog.Chunk c = read(next);
            all.addAll(c.entries());
            if (c.next() == next) {
                return new ContainerLog.Chunk(all, next);
            }
            next = c.next();
        }
    }

    /**
     * Passes what is appended after {@code offset} to {@code sink} as it comes, until the container
     * is not running and all its output has been passed on.
     */
    public void follow(long offset, Sink sink) throws IOException, InterruptedException {
        try (WatchService w = FileSystems.getDefault().newWatchService()) {
            container.dir().register(w, StandardWatchEventKinds.ENTRY_MODIFY, StandardWatchEventKinds.ENTRY_CREATE);
            long next = offset;
            while (true) {
                boolean running = container.state().isRunning();
                // Only what was appended since the last read: a long log is not parsed again per wake-up.
                ContainerLog.Chunk more = read(next);
                for (ContainerLog.Entry e : more.entries()) {
                    sink.accept(e);
                }
                if (more.next() != next) {
                    next = more.next();
                    continue; // there may be more already (a read passes on a bounded amount)
                }
                if (!running) {
                    return; // the writer is gone and all it wrote was passed on
                }
                WatchKey key = w.poll(1, TimeUnit.SECONDS); // a wake-up also when the supervisor died silently
                if (key != null) {
                    key.pollEvents();
                    key.reset();
                }
            }
        }
    }
}
