package dev.vessel.api;

import java.io.IOException;
import java.io.OutputStream;

/**
 * One of a container's output streams on an attach or exec connection: as it is when the process
 * has a terminal (stdout and stderr are one stream then), else each write behind docker's 8-byte
 * header (stream 1 or 2, zeros, the length big-endian). Writes of the two streams share the
 * connection and never interleave inside a frame.
 */
final class StreamFrames extends OutputStream {
    static final int STDOUT = 1;
    static final int STDERR = 2;

    private final OutputStream connection;
    private final boolean raw;
    private final int stream;

    private StreamFrames(OutputStream connection, boolean raw, int stream) {
        this.connection = connection;
        this.raw = raw;
        this.stream = stream;
    }

    /** Stream {@code stream} (1 or 2) on {@code connection}: raw with a terminal, framed without. */
    static OutputStream of(OutputStream connection, boolean raw, int stream) {
        return new StreamFrames(connection, raw, stream);
    }

    @Override
    public void write(int b) throws IOException {
        write(new byte[] {(byte) b}, 0, 1);
    }

    @Override
    public void write(byte[] b, int off, int len) throws IOException {
        if (len == 0) {
            return;
        }
        synchronized (connection) {
            if (!raw) {
                connection.write(new byte[] {(byte) stream, 0, 0, 0,
                        (byte) (len >>> 24), (byte) (len >>> 16), (byte) (len >>> 8), (byte) len});
            }
            connection.write(b, off, len);
        }
    }

    @Override
    public void flush() throws IOException {
        synchronized (connection) {
            connection.flush();
        }
    }
}
