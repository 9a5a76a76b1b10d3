package dev.vessel.devices.virtio.console;

import java.io.IOException;

/**
 * The host side of a named virtio-console port (a port other than the console, port 0): where
 * the guest's writes to {@code /dev/vportNpM} go and where what it reads comes from. Two are
 * provided: {@link StreamPortBackend} (a pair of streams, connected for as long as the input
 * stream lasts) and {@link UnixSocketPortBackend} (a listening Unix socket; one client at a time
 * is the host side, connected while it is).
 *
 * <p>Life cycle: {@link VirtioConsole}'s constructor calls {@link #start} once with the port's
 * {@link HostPort}; {@link VirtioConsole#close()} calls {@link #close}. In between, the backend
 * feeds host data to the guest with {@link HostPort#receiveBlocking} from a thread of its own
 * (it blocks while the guest is not reading: backpressure, never loss) and reports its side's
 * connection with {@link HostPort#setHostConnected}; the guest sees that as the port's
 * "host connected" state (reads return end-of-file and writes wait while the host is not connected).
 */
public interface PortBackend extends AutoCloseable {
    /** Starts serving {@code port}. Called once, when the device is built. */
    void start(HostPort port) throws IOException;

    /**
     * Guest output, in order. Called on the port's own output thread, never the device's worker:
     * it may block (the guest's writes then wait for it). An IOException loses these bytes.
     */
    void write(byte[] data, int off, int len) throws IOException;

    /** The guest opened ({@code true}) or closed the port. Called on the device's worker: must not block. */
    default void guestConnected(boolean connected) {}

    /** Stops: releases threads blocked in {@link HostPort#receiveBlocking}, sockets, files. Idempotent. */
    @Override
    void close();
}
