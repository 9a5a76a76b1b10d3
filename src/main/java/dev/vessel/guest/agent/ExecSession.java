package dev.vessel.guest.agent;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.ByteChannel;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.IntConsumer;

/**
 * A process running through the agent. A daemon reader thread copies 'O'/'e' frames to the stdout/stderr streams
 * until 'X' or 'F' arrives; an optional daemon pump thread copies a host InputStream to the process's stdin. Neither
 * keeps the JVM alive, and {@link #waitFor()} never waits for the stdin pump (which may be blocked reading a terminal
 * after the process has ended).
 *
 * <p>Closing the session before the exit status arrived drops the connection, and the agent then kills the process's
 * whole process group.
 */
public final class ExecSession implements AutoCloseable {
    private final ByteChannel channel;
    private final ReentrantLock writeLock;
    private final OutputStream stdout;
    private final OutputStream stderr;
    private final CountDownLatch done = new CountDownLatch(1);
    /** The status (-1: the connection broke), completed before {@link #done}: see {@link #whenEnded}. */
    private final CompletableFuture<Integer> ended = new CompletableFuture<>();
    private volatile boolean stdinClosed;
    private volatile boolean finished;

    // Written by the reader thread before done.countDown(), read after done.await().
    private int status = -1;
    private ExecFailure failure;
    private IOException error;

    ExecSession(ByteChannel channel, ReentrantLock writeLock, InputStream stdin, OutputStream stdout,
            OutputStream stderr) {
        this.channel = channel;
        this.writeLock = writeLock;
        this.stdout = Objects.requireNonNull(stdout, "stdout");
        this.stderr = Objects.requireNonNull(stderr, "stderr");
        Thread reader = new Thread(this::readLoop, "vessel-agent-reader");
        reader.setDaemon(true);
        reader.start();
        if (stdin != null) {
            Thread pump = new Thread(() -> pumpStdin(stdin), "vessel-agent-stdin");
            pump.setDaemon(true);
            pump.start();
        }
    }

    private void readLoop() {
        try {
            while (true) {
                AgentProtocol.Frame f = AgentProtocol.read(channel, AgentProtocol.AGENT_TYPES);
                if (f == null) {
                    throw new IOException("vessel-agent closed the connection before the exit status");
                }
                switch (f.type()) {
                    case AgentProtocol.STDOUT -> {
                        stdout.write(f.payload());
                        stdout.flush();
                    }
                    case AgentProtocol.STDERR -> {
                        stderr.write(f.payload());
                        stderr.flush();
                    }
                    case AgentProtocol.EXIT -> {
                        status = AgentProtocol.decodeExit(f.payload());
                        return;
                    }
                    case AgentProtocol.FAILURE -> {
                        failure = AgentProtocol.decodeFailure(f.payload());
                        status = failure.exitStatus();
                        return;
                    }
                    default -> throw new AgentProtocolException(
                            "unexpected frame " + AgentProtocol.typeName(f.type()) + " during exec");
                }
            }
        } catch (IOException | RuntimeException e) {
            error = e instanceof IOException io ? io : new IOException(e);
        } finally {
            finished = true;
            stdinClosed = true;
            closeQuietly();
            ended.complete(error != null ? -1 : status);
            done.countDown();
        }
    }

    private void pumpStdin(InputStream in) {
        byte[] buf = new byte[64 * 1024];
        try {
            while (!isDone()) {
                int n;
                try {
                    n = in.read(buf);
                } catch (IOException e) {
                    n = -1; // an unreadable stdin counts as EOF
                }
                if (n < 0) {
                    closeStdin();
                    return;
                }
                if (n > 0) {
                    writeStdin(buf, 0, n);
                }
            }
        } catch (IOException e) {
            // The connection is gone; the reader thread reports why.
        }
    }

    /**
     * Sends bytes to the process's stdin (split into frames as needed). Ignored after {@link #closeStdin()} and once
     * the process has ended. Blocks while the process does not consume its stdin (the agent applies backpressure).
     */
    public void writeStdin(byte[] b, int off, int len) throws IOException {
        Objects.checkFromIndexSize(off, len, b.length);
        while (len > 0) {
            int n = Math.min(len, AgentProtocol.MAX_PAYLOAD);
            send(AgentProtocol.STDIN, b, off, n, true);
            off += n;
            len -= n;
        }
    }

    public void writeStdin(byte[] b) throws IOException {
        writeStdin(b, 0, b.length);
    }

    /** Stdin EOF (in tty mode the agent types the terminal's EOF character). Idempotent. */
    public void closeStdin() throws IOException {
        writeLock.lock();
        try {
            if (stdinClosed) {
                return;
            }
            stdinClosed = true;
            AgentProtocol.write(channel, AgentProtocol.STDIN, new byte[0]);
        } catch (IOException e) {
            if (!finished) {
                throw e;
            }
        } finally {
            writeLock.unlock();
        }
    }

    /** Changes the terminal size (the process gets SIGWINCH); ignored by the agent without tty or after the end. */
    public void resize(int rows, int cols) throws IOException {
        byte[] p = AgentProtocol.encodeResize(rows, cols);
        send(AgentProtocol.RESIZE, p, 0, p.length, false);
    }

    /** Sends a signal (1..64) to the process's process group; ignored once the process has ended. */
    public void signal(int signo) throws IOException {
        byte[] p = AgentProtocol.encodeSignal(signo);
        send(AgentProtocol.SIGNAL, p, 0, p.length, false);
    }

    private void send(byte type, byte[] b, int off, int len, boolean stdinData) throws IOException {
        writeLock.lock();
        try {
            if (finished || (stdinData && stdinClosed)) {
                return; // the process has ended: nothing to deliver to
            }
            AgentProtocol.write(channel, type, b, off, len);
        } catch (IOException e) {
            if (!finished) {
                throw e;
            }
        } finally {
            writeLock.unlock();
        }
    }

    /**
     * Waits for the process to end.
     *
     * @return its exit status (0..255, 128+signal when killed), or for a process that could not be started 127
     *     (not found) or 126 (not executable, or any other failure; see {@link #failure()})
     * @throws IOException if the connection broke or the agent broke the protocol before the exit status arrived
     */
    public int waitFor() throws IOException, InterruptedException {
        done.await();
        return result();
    }

    /** Like {@link #waitFor()}, but gives up after {@code timeout}: empty if the process still runs. */
    public Optional<Integer> waitFor(Duration timeout) throws IOException, InterruptedException {
        if (!done.await(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
            return Optional.empty();
        }
        return Optional.of(result());
    }

    private int result() throws IOException {
        if (error != null) {
            throw new IOException(error.getMessage(), error);
        }
        return status;
    }

    /**
     * Runs {@code action} with the process's status ({@link #waitFor}'s; -1 when the connection
     * broke first) once it ended: on the reader thread before {@link #waitFor} returns, so a caller
     * that exits once it returns does not cut the action short; at once when it ended already.
     */
    public void whenEnded(IntConsumer action) {
        ended.thenAccept(action::accept);
    }

    /** True once the exit status or failure arrived, or the connection broke. */
    public boolean isDone() {
        return done.getCount() == 0;
    }

    /** Why the process could not be started, once {@link #waitFor()} returned; empty if it ran. */
    public Optional<ExecFailure> failure() {
        return isDone() ? Optional.ofNullable(failure) : Optional.empty();
    }

    /** Drops the connection; a process that still runs is killed (with its process group) by the agent. */
    @Override
    public void close() {
        closeQuietly();
    }

    private void closeQuietly() {
        try {
            channel.close();
        } catch (IOException e) {
            // nothing left to do
        }
    }
}
