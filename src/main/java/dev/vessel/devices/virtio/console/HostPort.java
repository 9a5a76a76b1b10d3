package dev.vessel.devices.virtio.console;

import dev.vessel.devices.ConsoleSink;

/**
 * One port of a {@link VirtioConsole} as its host side sees it. Port 0 is the console
 * ({@link VirtioConsole#console()}); ports 1.. are the named ports, each served by a
 * {@link PortBackend}. Safe from any thread.
 */
public interface HostPort extends ConsoleSink {
    /** The port number the guest sees (its /dev/vportNpM has M = id). */
    int id();

    /** The port's name (/sys/class/virtio-ports/vport*&#47;name), or null for the console. */
    String name();

    /**
     * Host input for the guest: held (at most {@link VirtioConsole#INPUT_CAPACITY} bytes per port)
     * until the driver has posted receive buffers and the guest has the port open, and delivered
     * in order. Blocks while that much is held; returns early only when the device is closed.
     */
    @Override
    void receiveBlocking(byte[] data, int off, int len) throws InterruptedException;

    /**
     * The host side opened ({@code true}) or closed the port: the guest is told with a
     * PORT_OPEN control message (multiport only). The console is always connected.
     */
    void setHostConnected(boolean connected);

    /** Whether the host side is connected. */
    boolean isHostConnected();

    /** Whether the guest has the port open right now (the console: once its driver is up). */
    boolean isGuestConnected();
}
