package dev.vessel.devices.virtio.blk;

import dev.vessel.devices.virtio.VirtioContext;
import dev.vessel.devices.virtio.queue.Virtqueue;
import dev.vessel.memory.GuestMemory;

import java.util.ArrayDeque;

/** A one-queue activation without a transport: counts interrupts, records a failure, runs deferred tasks on demand. */
final class TestContext implements VirtioContext {
    final GuestMemory memory;
    final long features;
    final Virtqueue queue;
    final ArrayDeque<Runnable> tasks = new ArrayDeque<>();
    int interrupts;
    String failure;
    boolean live = true;

    TestContext(GuestMemory memory, long features, Virtqueue queue) {
        this.memory = memory;
        this.features = features;
        this.queue = queue;
    }

    @Override
    public GuestMemory memory() {
        return memory;
    }

    @Override
    public long features() {
        return features;
    }

    @Override
    public int queueCount() {
        return 1;
    }

    @Override
    public Virtqueue queue(int index) {
        return index == 0 && live ? queue : null;
    }

    @Override
    public void signalUsed() {
        if (live) {
            interrupts++;
        }
    }

    @Override
    public boolean notifyIfNeeded(Virtqueue q) {
        if (live && q.shouldNotify()) {
            interrupts++;
            return true;
        }
        return false;
    }

    @Override
    public void configChanged() {}

    @Override
    public void fail(String reason) {
        if (!live) {
            return;
        }
        failure = reason;
        live = false;
        queue.deactivate();
    }

    @Override
    public void execute(Runnable task) {
        if (live) {
            tasks.add(task);
        }
    }

    @Override
    public boolean isLive() {
        return live;
    }

    /** Runs what the device deferred to its worker, including what those tasks defer. */
    void runTasks() {
        Runnable t;
        while ((t = tasks.poll()) != null) {
            if (live) {
                t.run();
            }
        }
    }
}
