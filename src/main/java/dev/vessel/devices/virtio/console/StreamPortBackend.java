package dev.vessel.devices.virtio.console;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Objects;

/**
 * A named port backed by a pair of streams: guest output is written (and flushed) to {@code out};
 * {@code in} is read on a thread of its own and fed to the guest. The host side counts as
 * connected from the start until {@code in} ends (end-of-file or an error): the guest then reads
 * end-of-file once it has everything. With no input stream ({@code null}) the port is output-only
 * and stays connected.
 */
public final class StreamPortBackend implements PortBackend {
    private final InputStream in;
    private final OutputStream out;
    private volatile boolean closed;
    private Thread reader;

    public StreamPortBackend(InputStream in, OutputStream out) {
        this.in = in;
        this.out = Objects.requireNonNull(out, "out");
    }

    @Override
    public synchronized void start(HostPort port) {
        if (reader != null) {
            throw new IllegalStateException("already started");
        }
        port.setHostConnected(true);
        if (in == null) {
            reader = Thread.currentThread(); // marks it started
            return;
        }
        reader = Thread.ofPlatform().name("virtio-console-port" + port.id() + "-in").daemon(true).start(() -> {
            byte[] buf = new byte[16 * 1024];
            try {
                int n;
                while (!closed && (n = in.read(buf)) >= 0) {
                    if (n > 0) {
                        port.receiveBlocking(buf, 0, n);
                    }
                }
            } catch (IOException e) {
                // The host side is gone, as at end-of-file.
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                port.setHostConnected(false);
            }
        });
    }

    @Override
    public void write(byte[] data, int off, int len) throws IOException {
        out.write(data, off, len);
        out.flush();
    }

    @Override
    public void close() {
        Thread t;
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            t = reader;
        }
        try {
            if (in != null) {
                in.close();
            }
        } catch (IOException e) {
            // Closing is best effort.
        }
        try {
            out.close();
        } catch (IOException e) {
            // Closing is best effort.
        }
        if (t != null && t != Thread.currentThread() && in != null) {
            t.interrupt();
        }
    }
}
