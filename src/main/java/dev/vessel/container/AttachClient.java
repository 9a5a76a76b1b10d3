package dev.vessel.container;

import dev.vessel.guest.agent.AgentProtocol;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;

/**
 * One client attached to a running container's main process through its supervisor
 * ({@link ShimProtocol}): the process's output comes as frames of stdout and stderr until its
 * exit status; input goes as stdin frames, terminal sizes as resize frames. Streams are the
 * caller's (a terminal, or a socket of an API client). Thread-safe: input, resizes and the output
 * loop may run on different threads.
 */
public final class AttachClient implements AutoCloseable {
    /** How an attachment ended: the container stopped with {@code exitStatus}, or the client detached. */
    public record Outcome(boolean detached, int exitStatus) {}

    private final Path socket;
    private final SocketChannel channel;
    private final boolean stdin;
    private final boolean tty;
    private final Object writeLock = new Object();
    private volatile boolean detached;

    private AttachClient(Path socket, SocketChannel channel, boolean stdin, boolean tty) {
        this.socket = socket;
        this.channel = channel;
        this.stdin = stdin;
        this.tty = tty;
    }

    /**
     * Connects to the supervisor listening on {@code socket} and attaches. With {@code tty} and a
     * size (rows and cols above 0), the size is the main process's terminal when it has not
     * started yet (it waits for the first client when started for attaching).
     *
     * @throws IOException when no supervisor listens (the container is not running)
     */
    public static AttachClient connect(Path socket, boolean stdin, boolean tty, int rows, int cols) throws IOException {
        SocketChannel ch = ShimProtocol.connect(socket);
        try {
            boolean sized = tty && rows > 0 && cols > 0;
            ByteBuffer attach = ByteBuffer.allocate(sized ? 5 : 1).put((byte) (stdin ? ShimProtocol.ATTACH_STDIN : 0));
            if (sized) {
                attach.putShort((short) rows).putShort((short) cols);
            }
            AgentProtocol.write(ch, ShimProtocol.ATTACH, attach.array());
            return new AttachClient(socket, ch, stdin, tty);
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** Whether input goes to the main process (the container keeps its stdin open and the caller asked for it). */
    public boolean stdin() {
        return stdin;
    }

    /** Whether the main process has a terminal (then stdout and stderr come as one stream). */
    public boolean tty() {
        return tty;
    }

    /** Passes input to the main process; ignored by the supervisor when this client did not attach stdin. */
    public void writeStdin(byte[] b, int off, int len) throws IOException {
        synchronized (writeLock) {
            AgentProtocol.write(channel, AgentProtocol.STDIN, b, off, len);
        }
    }

    /** Ends the main process's input (EOF). */
    public void closeStdin() throws IOException {
        synchronized (writeLock) {
            AgentProtocol.write(channel, AgentProtocol.STDIN, new byte[0]);
        }
    }

    /** The caller's terminal changed size. */
    public void resize(int rows, int cols) throws IOException {
        if (rows <= 0 || cols <= 0 || rows > 0xFFFF || cols > 0xFFFF) {
            return;
        }
        byte[] p = ByteBuffer.allocate(4).putShort((short) rows).putShort((short) cols).array();
        synchronized (writeLock) {
            AgentProtocol.write(channel, AgentProtocol.RESIZE, p);
        }
    }

    /** Sends {@code signo} to the main process (a request of its own to the supervisor). */
    public void signal(int signo) throws IOException {
        ShimProtocol.signal(socket, signo);
    }

    /**
     * Copies {@code in} to the main process until its end (then the process's stdin is closed) or
     * until {@code keys} are typed (then this client detaches). Blocks; returns whether it detached.
     */
    public boolean pumpStdin(InputStream in, DetachKeys keys) {
        return pumpStdin(in, keys, false);
    }

    /**
     * As {@link #pumpStdin(InputStream, DetachKeys)}; with {@code endDetaches} the input's end
     * detaches instead of closing the process's stdin (dockerd's attach with a terminal).
     */
    public boolean pumpStdin(InputStream in, DetachKeys keys, boolean endDetaches) {
        DetachKeys.Matcher matcher = keys.matcher();
        byte[] buf = new byte[8192];
        try {
            int n;
            while ((n = in.read(buf)) >= 0) {
                DetachKeys.Scan scan = matcher.scan(buf, 0, n);
                if (scan.forward().length > 0) {
                    writeStdin(scan.forward(), 0, scan.forward().length);
                }
                if (scan.detach()) {
                    detach();
                    return true;
                }
            }
            if (endDetaches) {
                detach();
                return true;
            }
            closeStdin();
        } catch (IOException e) {
            // the container ended, or this client was closed
        }
        return false;
    }

    /** Leaves the container running; {@link #copyOutput} then ends as detached. */
    public void detach() {
        detached = true;
        close();
    }

    public boolean isDetached() {
        return detached;
    }

    /**
     * Copies the main process's output to {@code out} and {@code err} until the container stops
     * or this client detaches.
     *
     * @throws ContainerException when the supervisor reports a failure (the VM did not boot) or
     *     the connection ends without an exit status
     */
    public Outcome copyOutput(OutputStream out, OutputStream err) throws IOException, ContainerException {
        while (true) {
            AgentProtocol.Frame f;
            try {
                f = AgentProtocol.read(channel, ShimProtocol.SHIM_TYPES);
            } catch (IOException e) {
                if (detached) {
                    return new Outcome(true, 0);
                }
                throw e;
            }
            if (f == null) {
                if (detached) {
                    return new Outcome(true, 0);
                }
                throw ContainerException.failed("lost the connection to the container's supervisor");
            }
            switch (f.type()) {
                case AgentProtocol.STDOUT -> {
                    out.write(f.payload());
                    out.flush();
                }
                case AgentProtocol.STDERR -> {
                    err.write(f.payload());
                    err.flush();
                }
                case AgentProtocol.EXIT -> {
                    if (f.payload().length != 4) {
                        throw ContainerException.failed("the container's supervisor sent a malformed exit status");
                    }
                    return new Outcome(false, ByteBuffer.wrap(f.payload()).getInt());
                }
                case AgentProtocol.FAILURE -> throw ContainerException.failed(ShimProtocol.failureMessage(f.payload()));
                default -> { }
            }
        }
    }

    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            // gone already
        }
    }
}
