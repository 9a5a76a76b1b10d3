package dev.vessel.devices.virtio.net;

import java.io.IOException;

/**
 * Where a virtio-net device's frames go and come from: a TAP ({@link TapBackend}), or in tests a
 * socket pair that keeps frame boundaries. Every frame is preceded by a 12-byte
 * {@link NetHeader}, in both directions.
 */
public interface NetBackend extends AutoCloseable {
    /**
     * The descriptor: non-blocking, one frame per read and per write (the device reads and writes
     * it from its worker; the VMM's event loop polls it).
     */
    int fd();

    /**
     * Which offloads the device's reader takes in frames from the host ({@code Tap.TUN_F_*}
     * bits, from the driver's receive features); 0 before the driver set them and after a reset.
     */
    void setOffload(int tunFlags) throws IOException;

    /** What to call it in messages (the TAP's name). */
    String name();

    /** Closes the descriptor. Idempotent. */
    @Override
    void close();
}
