package dev.vessel.devices.virtio;

import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;

/**
 * Runs tasks one at a time, in submission order, on a backing executor: a device's "worker",
 * whatever threads the backing executor has (one dedicated thread, a pool, or the caller's thread
 * in tests). Whatever a task throws — a RuntimeException, or an Error such as a
 * StackOverflowError on hostile input — is passed to the handler given at construction and does
 * not stop later tasks: nothing a task does can leave the executor scheduled with nobody draining
 * it, which would wedge every later task (and whoever waits for one).
 */
public final class SerialExecutor implements Executor {
    private static final System.Logger LOG = System.getLogger(SerialExecutor.class.getName());

    private final Executor backing;
    private final Consumer<Throwable> onError;
    private final ArrayDeque<Runnable> tasks = new ArrayDeque<>();
    private boolean scheduled;
    private volatile Thread runner;

    /** @param onError told of everything a task throws; what it throws itself is logged and dropped */
    public SerialExecutor(Executor backing, Consumer<Throwable> onError) {
        this.backing = Objects.requireNonNull(backing);
        this.onError = Objects.requireNonNull(onError);
    }

    /**
     * Queues {@code task}.
     *
     * @throws RejectedExecutionException if the backing executor refuses to run the queue (shut down);
     *     the task is then dropped
     */
    @Override
    public void execute(Runnable task) {
        Objects.requireNonNull(task);
        synchronized (tasks) {
            tasks.add(task);
            if (scheduled) {
                return;
            }
            scheduled = true;
        }
        try {
            backing.execute(this::drain);
        } catch (RejectedExecutionException e) {
            synchronized (tasks) {
                tasks.clear();
                scheduled = false;
            }
            throw e;
        }
    }

    /** Whether the calling thread is running one of this executor's tasks right now. */
    public boolean inWorker() {
        return runner == Thread.currentThread();
    }

    private void drain() {
        while (true) {
            Runnable task;
            synchronized (tasks) {
                task = tasks.poll();
                if (task == null) {
                    scheduled = false;
                    return;
                }
            }
            run(task);
        }
    }

    private void run(Runnable task) {
        Thread previous = runner;
        runner = Thread.currentThread();
        try {
            task.run();
        } catch (Throwable t) {
            report(t);
        } finally {
            runner = previous;
        }
    }

    private void report(Throwable t) {
        try {
            onError.accept(t);
        } catch (Throwable again) {
            LOG.log(System.Logger.Level.ERROR, "a worker task failed (" + t + ") and so did its error handler", again);
        }
    }
}
