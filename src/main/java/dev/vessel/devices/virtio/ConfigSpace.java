package dev.vessel.devices.virtio;

import java.util.Objects;

/**
 * A device configuration space as bytes, little-endian, safe to share between vCPU threads (the
 * driver's accesses) and the device's worker (updates). Accesses outside the space read 0 and are
 * ignored on write; the transport already keeps the driver's inside.
 */
public final class ConfigSpace {
    private final byte[] bytes;

    public ConfigSpace(int size) {
        if (size < 0) {
            throw new IllegalArgumentException("negative size " + size);
        }
        this.bytes = new byte[size];
    }

    public int size() {
        return bytes.length;
    }

    /** Reads {@code size} (1..8) bytes at {@code offset}; 0 if out of bounds. */
    public synchronized long read(int offset, int size) {
        if (!inBounds(offset, size)) {
            return 0;
        }
        long v = 0;
        for (int i = size - 1; i >= 0; i--) {
            v = (v << 8) | (bytes[offset + i] & 0xFF);
        }
        return v;
    }

    /** Writes the low {@code size} (1..8) bytes of {@code value} at {@code offset}; ignored if out of bounds. */
    public synchronized void write(int offset, int size, long value) {
        if (!inBounds(offset, size)) {
            return;
        }
        for (int i = 0; i < size; i++) {
            bytes[offset + i] = (byte) (value >>> (8 * i));
        }
    }

    public void putU8(int offset, int value) {
        checked(offset, 1).write(offset, 1, value);
    }

    public void putU16(int offset, int value) {
        checked(offset, 2).write(offset, 2, value);
    }

    public void putU32(int offset, int value) {
        checked(offset, 4).write(offset, 4, value);
    }

    public void putU64(int offset, long value) {
        checked(offset, 8).write(offset, 8, value);
    }

    public synchronized void putBytes(int offset, byte[] value) {
        Objects.checkFromIndexSize(offset, value.length, bytes.length);
        System.arraycopy(value, 0, bytes, offset, value.length);
    }

    public int getU8(int offset) {
        return (int) checked(offset, 1).read(offset, 1);
    }

    public int getU16(int offset) {
        return (int) checked(offset, 2).read(offset, 2);
    }

    public int getU32(int offset) {
        return (int) checked(offset, 4).read(offset, 4);
    }

    public long getU64(int offset) {
        return checked(offset, 8).read(offset, 8);
    }

    /** A copy of the whole space. */
    public synchronized byte[] toByteArray() {
        return bytes.clone();
    }

    private boolean inBounds(int offset, int size) {
        return size >= 1 && size <= 8 && offset >= 0 && offset <= bytes.length - size;
    }

    /** Device code's own accesses must be in bounds: a wrong offset is a bug, not guest input. */
    private ConfigSpace checked(int offset, int size) {
        Objects.checkFromIndexSize(offset, size, bytes.length);
        return this;
    }
}
