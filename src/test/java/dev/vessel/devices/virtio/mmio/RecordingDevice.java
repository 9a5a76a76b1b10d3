package dev.vessel.devices.virtio.mmio;

import dev.vessel.devices.virtio.ConfigSpace;
import dev.vessel.devices.virtio.VirtioContext;
import dev.vessel.devices.virtio.VirtioDevice;
import dev.vessel.devices.virtio.VirtioTransport;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.IntConsumer;

/** A device that records what the transport asks of it, and on which thread. */
class RecordingDevice implements VirtioDevice {
    final int type;
    final long features;
    final int[] maxSizes;
    final ConfigSpace config;
    final List<String> events = new CopyOnWriteArrayList<>();
    final List<String> threads = new CopyOnWriteArrayList<>();
    final List<String> configWrites = new CopyOnWriteArrayList<>();
    volatile VirtioTransport transport;
    volatile VirtioContext context;
    volatile boolean acceptFeatures = true;
    volatile IntConsumer onNotify = i -> {};
    volatile Runnable onReset = () -> {};
    volatile RuntimeException throwOnNotify;
    volatile RuntimeException throwOnConfig;

    RecordingDevice(int type, long features, int configSize, int... maxSizes) {
        this.type = type;
        this.features = features;
        this.maxSizes = maxSizes;
        this.config = new ConfigSpace(configSize);
        for (int i = 0; i < configSize; i++) {
            config.putU8(i, 0x10 + i);
        }
    }

    @Override
    public int deviceType() {
        return type;
    }

    @Override
    public long deviceFeatures() {
        return features;
    }

    @Override
    public int queueCount() {
        return maxSizes.length;
    }

    @Override
    public int queueMaxSize(int index) {
        return maxSizes[index];
    }

    @Override
    public int configSize() {
        return config.size();
    }

    @Override
    public int readConfig(int offset, int size) {
        if (throwOnConfig != null) {
            throw throwOnConfig;
        }
        return (int) config.read(offset, size);
    }

    @Override
    public void writeConfig(int offset, int size, int value) {
        configWrites.add(offset + "/" + size + "=" + Integer.toHexString(value));
        config.write(offset, size, value);
    }

    @Override
    public boolean acceptFeatures(long features) {
        return acceptFeatures;
    }

    @Override
    public void attach(VirtioTransport transport) {
        this.transport = transport;
    }

    @Override
    public void activate(VirtioContext context) {
        this.context = context;
        record("activate");
    }

    @Override
    public void queueNotify(int index) {
        record("notify " + index);
        if (throwOnNotify != null) {
            throw throwOnNotify;
        }
        onNotify.accept(index);
    }

    @Override
    public void reset() {
        record("reset");
        context = null;
        onReset.run();
    }

    private void record(String event) {
        events.add(event);
        threads.add(Thread.currentThread().getName());
    }

    long count(String event) {
        return events.stream().filter(event::equals).count();
    }
}
