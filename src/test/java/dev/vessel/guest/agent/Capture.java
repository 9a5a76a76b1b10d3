package dev.vessel.guest.agent;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeoutException;

/** A thread-safe output sink that tests can wait on. */
final class Capture extends OutputStream {
    private final ByteArrayOutputStream buf = new ByteArrayOutputStream();

    @Override
    public synchronized void write(int b) {
        buf.write(b);
        notifyAll();
    }

    @Override
    public synchronized void write(byte[] b, int off, int len) {
        buf.write(b, off, len);
        notifyAll();
    }

    synchronized byte[] bytes() {
        return buf.toByteArray();
    }

    synchronized String text() {
        return buf.toString(StandardCharsets.UTF_8);
    }

    synchronized int size() {
        return buf.size();
    }

    /** Waits until the captured text contains {@code s}; returns the text. */
    synchronized String awaitContains(String s, Duration timeout) throws InterruptedException, TimeoutException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!text().contains(s)) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                throw new TimeoutException("no '" + s + "' in output: '" + text() + "'");
            }
            wait(Math.max(1, left / 1_000_000));
        }
        return text();
    }
}
