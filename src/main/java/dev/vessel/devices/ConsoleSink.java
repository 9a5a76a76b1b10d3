package dev.vessel.devices;

/**
 * Where host console input goes: the guest's active console, whichever device that is (the
 * emulated 16550 UART, {@code Uart16550::receiveBlocking}, or port 0 of virtio-console,
 * {@code VirtioConsole.console()}). The VMM's stdin reader writes into it and nothing else.
 *
 * <p>Input is never dropped: {@link #receiveBlocking} holds bytes the guest has not taken yet in a
 * bounded buffer and blocks while that buffer is full, so the reader stops reading host stdin
 * until the guest catches up (backpressure instead of loss).
 */
@FunctionalInterface
public interface ConsoleSink {
    /**
     * Hands {@code data[off..off+len)} to the guest console, in order after earlier calls. Blocks
     * while the console's input buffer is full; returns when every byte was accepted, or early
     * (dropping the rest) once the console is closed because the VM is stopping.
     *
     * @throws InterruptedException if the calling thread is interrupted while it waits
     */
    void receiveBlocking(byte[] data, int off, int len) throws InterruptedException;
}
