package dev.vessel.devices.virtio.balloon;

import static dev.vessel.devices.virtio.mmio.VirtioMmioRegisters.*;

import dev.vessel.devices.InterruptLine;
import dev.vessel.devices.virtio.VirtioDevice;
import dev.vessel.devices.virtio.VirtioFeatures;
import dev.vessel.devices.virtio.VirtioStatus;
import dev.vessel.devices.virtio.mmio.VirtioMmioTransport;
import dev.vessel.memory.GuestMemory;
import dev.vessel.memory.GuestMemoryException;
import dev.vessel.sys.ErrnoException;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Plays a virtio driver against a device behind the real virtio-mmio transport, for device tests:
 * real guest RAM ({@link GuestMemory#allocate}, so madvise works on it), the probe and queue set-up
 * Linux's virtio_mmio does, split rings written the way a driver writes them, kicks through
 * QueueNotify. The device's worker runs on the calling thread: a kick returns when the device is done.
 * Public for the other device test packages (virtio-rng).
 */
public final class DriverBench implements AutoCloseable {
    public static final long MMIO_BASE = 0xD000_0000L;
    /** Queue i's rings at RINGS + i * RING_STRIDE: descriptors, avail at +0x4000, used at +0x8000. */
    static final long RINGS = 0x1_0000;
    static final long RING_STRIDE = 0x1_0000;
    /** Buffers are allocated from here up. */
    public static final long DATA = 0x10_0000;

    /** One buffer of a chain: guest address, length, device-writable or not. */
    public record Buf(long gpa, int length, boolean writable) {
        public static Buf in(long gpa, int length) {
            return new Buf(gpa, length, false);
        }

        public static Buf out(long gpa, int length) {
            return new Buf(gpa, length, true);
        }
    }

    /** A used-ring element. */
    public record Used(int id, int length) {}

    public final GuestMemory memory;
    public final VirtioMmioTransport transport;
    public final AtomicInteger interrupts = new AtomicInteger();
    private final int[] sizes;
    private final int[] nextDesc;
    private final int[] availIdx;
    private final int[] usedSeen;
    private long nextData = DATA;

    public DriverBench(VirtioDevice device, long ramSize) throws ErrnoException {
        this.memory = GuestMemory.allocate(ramSize);
        InterruptLine line = new InterruptLine() {
            @Override
            public void trigger() {
                interrupts.incrementAndGet();
            }

            @Override
            public void setLevel(boolean high) {
                throw new AssertionError("virtio-mmio is edge-triggered");
            }
        };
        this.transport = new VirtioMmioTransport(device, memory, MMIO_BASE, line, Runnable::run);
        int n = device.queueCount();
        sizes = new int[n];
        nextDesc = new int[n];
        availIdx = new int[n];
        usedSeen = new int[n];
    }

    public int reg(int offset) {
        return (int) transport.read(offset, 4);
    }

    public void setReg(int offset, int value) {
        transport.write(offset, 4, Integer.toUnsignedLong(value));
    }

    public int status() {
        return reg(STATUS);
    }

    public long offeredFeatures() {
        setReg(DEVICE_FEATURES_SEL, 1);
        long high = Integer.toUnsignedLong(reg(DEVICE_FEATURES));
        setReg(DEVICE_FEATURES_SEL, 0);
        return high << 32 | Integer.toUnsignedLong(reg(DEVICE_FEATURES));
    }

    /**
     * Probe with {@code driverFeatures} (VERSION_1 added), set up {@code queues} queues (each at
     * {@code queueSize}, capped at QueueNumMax), DRIVER_OK. Returns whether the device is active.
     */
    public boolean init(long driverFeatures, int queues, int queueSize) {
        setReg(STATUS, 0);
        setReg(STATUS, VirtioStatus.ACKNOWLEDGE);
        setReg(STATUS, VirtioStatus.ACKNOWLEDGE | VirtioStatus.DRIVER);
        long features = offeredFeatures() & (driverFeatures | VirtioFeatures.bit(VirtioFeatures.VERSION_1));
        setReg(DRIVER_FEATURES_SEL, 1);
        setReg(DRIVER_FEATURES, (int) (features >>> 32));
        setReg(DRIVER_FEATURES_SEL, 0);
        setReg(DRIVER_FEATURES, (int) features);
        setReg(STATUS, status() | VirtioStatus.FEATURES_OK);
        if ((status() & VirtioStatus.FEATURES_OK) == 0) {
            return false;
        }
        for (int q = 0; q < queues; q++) {
            setReg(QUEUE_SEL, q);
            int size = Math.min(queueSize, reg(QUEUE_NUM_MAX));
            sizes[q] = size;
            long desc = RINGS + q * RING_STRIDE;
            // Fresh rings, as a driver allocates them (zeroed) each time it sets the device up.
            write(desc, new byte[(int) RING_STRIDE]);
            nextDesc[q] = 0;
            availIdx[q] = 0;
            usedSeen[q] = 0;
            setReg(QUEUE_NUM, size);
            setReg(QUEUE_DESC_LOW, (int) desc);
            setReg(QUEUE_DESC_HIGH, 0);
            setReg(QUEUE_DRIVER_LOW, (int) (desc + 0x4000));
            setReg(QUEUE_DRIVER_HIGH, 0);
            setReg(QUEUE_DEVICE_LOW, (int) (desc + 0x8000));
            setReg(QUEUE_DEVICE_HIGH, 0);
            setReg(QUEUE_READY, 1);
        }
        setReg(STATUS, status() | VirtioStatus.DRIVER_OK);
        return transport.isActive();
    }

    /** Reserves {@code length} bytes of guest RAM for buffers (8-byte aligned, or page aligned if asked). */
    public long alloc(long length, long align) {
        long gpa = (nextData + align - 1) & -align;
        nextData = gpa + length;
        return gpa;
    }

    public long alloc(long length) {
        return alloc(length, 8);
    }

    /** Writes the chain's descriptors and makes it available (no kick); returns its head. */
    public int add(int queue, Buf... bufs) {
        int size = sizes[queue];
        long table = RINGS + queue * RING_STRIDE;
        int head = nextDesc[queue];
        int d = head;
        for (int i = 0; i < bufs.length; i++) {
            int next = (d + 1) % size;
            int flags = (bufs[i].writable() ? 2 : 0) | (i + 1 < bufs.length ? 1 : 0);
            long at = table + 16L * d;
            put64(at, bufs[i].gpa());
            put32(at + 8, bufs[i].length());
            put16(at + 12, flags);
            put16(at + 14, next);
            d = next;
        }
        nextDesc[queue] = d;
        long avail = table + 0x4000;
        put16(avail + 4 + 2L * (availIdx[queue] % size), head);
        availIdx[queue] = (availIdx[queue] + 1) & 0xFFFF;
        put16(avail + 2, availIdx[queue]);
        return head;
    }

    /** QueueNotify: the device processes the queue before this returns. */
    public void kick(int queue) {
        setReg(QUEUE_NOTIFY, queue);
    }

    /** Adds the chain and kicks. */
    public int submit(int queue, Buf... bufs) {
        int head = add(queue, bufs);
        kick(queue);
        return head;
    }

    /** Used elements published since the last call. */
    /** A statistics buffer as the guest driver writes it: little-endian (u16 tag, u64 value) pairs. */
    public static byte[] statsBuffer(long... tagValue) {
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(5 * tagValue.length).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < tagValue.length; i += 2) {
            b.putShort((short) tagValue[i]);
            b.putLong(tagValue[i + 1]);
        }
        return b.array();
    }

    /** Bounded spin until the device returned something on {@code queue} (the device runs on another thread). */
    public List<Used> awaitUsed(int queue) throws InterruptedException {
        long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.MINUTES.toNanos(1);
        List<Used> done;
        while ((done = used(queue)).isEmpty()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("nothing used on queue " + queue);
            }
            Thread.onSpinWait();
        }
        return done;
    }

    public List<Used> used(int queue) {
        long usedRing = RINGS + queue * RING_STRIDE + 0x8000;
        int idx = get16(usedRing + 2);
        List<Used> out = new ArrayList<>();
        while (usedSeen[queue] != idx) {
            long e = usedRing + 4 + 8L * (usedSeen[queue] % sizes[queue]);
            out.add(new Used(get32(e), get32(e + 4)));
            usedSeen[queue] = (usedSeen[queue] + 1) & 0xFFFF;
        }
        return out;
    }

    public long readConfig(int offset, int size) {
        return transport.read(CONFIG + offset, size);
    }

    public void writeConfig(int offset, int size, long value) {
        transport.write(CONFIG + offset, size, value);
    }

    public int interruptStatus() {
        return reg(INTERRUPT_STATUS);
    }

    public void ack(int bits) {
        setReg(INTERRUPT_ACK, bits);
    }

    public void put16(long gpa, int v) {
        try {
            memory.writeShort(gpa, (short) v);
        } catch (GuestMemoryException e) {
            throw new AssertionError(e);
        }
    }

    public void put32(long gpa, int v) {
        try {
            memory.writeInt(gpa, v);
        } catch (GuestMemoryException e) {
            throw new AssertionError(e);
        }
    }

    public void put64(long gpa, long v) {
        try {
            memory.writeLong(gpa, v);
        } catch (GuestMemoryException e) {
            throw new AssertionError(e);
        }
    }

    public void write(long gpa, byte[] bytes) {
        try {
            memory.write(gpa, bytes);
        } catch (GuestMemoryException e) {
            throw new AssertionError(e);
        }
    }

    public byte[] read(long gpa, int length) {
        try {
            return memory.read(gpa, length);
        } catch (GuestMemoryException e) {
            throw new AssertionError(e);
        }
    }

    public int get16(long gpa) {
        try {
            return Short.toUnsignedInt(memory.readShort(gpa));
        } catch (GuestMemoryException e) {
            throw new AssertionError(e);
        }
    }

    public int get32(long gpa) {
        try {
            return memory.readInt(gpa);
        } catch (GuestMemoryException e) {
            throw new AssertionError(e);
        }
    }

    @Override
    public void close() {
        transport.close();
        memory.close();
    }
}
