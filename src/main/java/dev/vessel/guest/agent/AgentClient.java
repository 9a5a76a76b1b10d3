package dev.vessel.guest.agent;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.StandardProtocolFamily;
import java.net.StandardSocketOptions;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ByteChannel;
import java.nio.channels.SelectableChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Client of one vessel-agent connection: hello, then one exec (see {@link AgentProtocol}).
 *
 * <pre>{@code
 * var address = new InetSocketAddress("10.0.2.15", 7000);
 * try (AgentClient c = AgentClient.connect(address, token, Duration.ofSeconds(10))) {
 *     ExecRequest req = ExecRequest.of("java", "-jar", "vessel.jar").withEnv(env);
 *     ExecSession s = c.exec(req, System.in, System.out, System.err);
 *     System.exit(s.waitFor());
 * }
 * }</pre>
 *
 * <p>The transport is any connected, blocking {@link ByteChannel} that supports a read and a write concurrently from
 * two threads, e.g. a TCP or Unix-domain {@link SocketChannel}, or a channel another component connected (vsock).
 */
public final class AgentClient implements AutoCloseable {
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(10);

    private final ByteChannel channel;
    private final ReentrantLock writeLock = new ReentrantLock();
    private String agentVersion;
    private boolean execStarted;

    /** Wraps an already connected channel; call {@link #hello(byte[])} next. */
    public AgentClient(ByteChannel channel) {
        this.channel = Objects.requireNonNull(channel, "channel");
        if (channel instanceof SelectableChannel sc && !sc.isBlocking()) {
            throw new IllegalArgumentException("the channel must be in blocking mode");
        }
    }

    /**
     * Connects to a TCP ({@link InetSocketAddress}) or Unix-domain ({@link UnixDomainSocketAddress}) address and says
     * hello.
     *
     * @param token the shared secret, or null/empty when the agent has none
     * @param timeout bounds the TCP connect and the hello exchange
     * @throws AgentRejectedException if the agent refused the token
     */
    public static AgentClient connect(SocketAddress address, byte[] token, Duration timeout) throws IOException {
        SocketChannel ch;
        if (address instanceof UnixDomainSocketAddress) {
            ch = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                ch.connect(address);
            } catch (IOException | RuntimeException e) {
                ch.close();
                throw e;
            }
        } else if (address instanceof InetSocketAddress inet) {
            ch = SocketChannel.open();
            try {
                ch.socket().connect(inet, Math.clamp(timeout.toMillis(), 1, Integer.MAX_VALUE));
                ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
                ch.setOption(StandardSocketOptions.SO_KEEPALIVE, true);
            } catch (IOException | RuntimeException e) {
                ch.close();
                throw e;
            }
        } else {
            throw new IllegalArgumentException("unsupported address type: " + address);
        }
        AgentClient c = new AgentClient(ch);
        try {
            c.hello(token, timeout);
            return c;
        } catch (IOException | RuntimeException e) {
            c.close();
            throw e;
        }
    }

    public static AgentClient connect(SocketAddress address, byte[] token) throws IOException {
        return connect(address, token, DEFAULT_TIMEOUT);
    }

    /** Says hello without a time limit. */
    public String hello(byte[] token) throws IOException {
        return hello(token, null);
    }

    /**
     * Sends the hello with the token and checks the agent's version.
     *
     * @param timeout null for none; when it expires the connection is closed and this throws
     * @return the agent's protocol version string
     */
    public String hello(byte[] token, Duration timeout) throws IOException {
        if (agentVersion != null) {
            throw new IllegalStateException("hello already done");
        }
        byte[] t = token == null ? new byte[0] : token;
        if (t.length > AgentProtocol.MAX_TOKEN) {
            throw new IllegalArgumentException("token longer than " + AgentProtocol.MAX_TOKEN + " bytes");
        }
        AtomicBoolean timedOut = new AtomicBoolean();
        CountDownLatch answered = new CountDownLatch(1);
        if (timeout != null) {
            Thread.ofVirtual().name("vessel-agent-hello-timeout").start(() -> {
                try {
                    if (!answered.await(timeout.toNanos(), TimeUnit.NANOSECONDS)) {
                        timedOut.set(true);
                        close();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
        }
        try {
            writeFrame(AgentProtocol.HELLO, t);
            AgentProtocol.Frame f = AgentProtocol.read(channel, AgentProtocol.AGENT_TYPES);
            if (f == null) {
                throw new IOException("vessel-agent closed the connection during the hello");
            }
            if (f.type() == AgentProtocol.FAILURE) {
                throw new AgentRejectedException(AgentProtocol.decodeFailure(f.payload()));
            }
            if (f.type() != AgentProtocol.HELLO_REPLY) {
                throw new AgentProtocolException("expected a hello reply, got " + AgentProtocol.typeName(f.type()));
            }
            String version = new String(f.payload(), StandardCharsets.UTF_8);
            String ours = AgentProtocol.PROTOCOL_VERSION;
            if (!version.equals(ours) && !version.startsWith(ours + " ")) {
                throw new AgentProtocolException(
                        "agent speaks " + version + ", this client " + ours);
            }
            agentVersion = version;
            return version;
        } catch (IOException e) {
            if (timedOut.get()) {
                throw new AgentTimeoutException("vessel-agent did not answer the hello within " + timeout, e);
            }
            throw e;
        } finally {
            answered.countDown();
        }
    }

    /** The version the agent announced, or null before the hello. */
    public String agentVersion() {
        return agentVersion;
    }

    /**
     * Starts the (only) process of this connection.
     *
     * @param stdin copied to the process by a daemon thread (EOF becomes stdin EOF); null to feed stdin yourself
     *     through {@link ExecSession#writeStdin} / {@link ExecSession#closeStdin}
     * @param stdout receives stdout (everything, in tty mode)
     * @param stderr receives stderr
     */
    public ExecSession exec(ExecRequest request, InputStream stdin, OutputStream stdout, OutputStream stderr)
            throws IOException {
        if (agentVersion == null) {
            throw new IllegalStateException("hello first");
        }
        if (execStarted) {
            throw new IllegalStateException("one exec per connection");
        }
        execStarted = true;
        writeFrame(AgentProtocol.EXEC, AgentProtocol.encodeExec(request));
        return new ExecSession(channel, writeLock, stdin, stdout, stderr);
    }

    /**
     * Container mode: asks the agent (the guest's init) to kill every process, sync the disks and
     * power the VM off. The agent does not answer; the VM's exit is the acknowledgement.
     */
    public void powerOff() throws IOException {
        if (agentVersion == null) {
            throw new IllegalStateException("hello first");
        }
        if (execStarted) {
            throw new IllegalStateException("one request per connection");
        }
        execStarted = true;
        writeFrame(AgentProtocol.POWEROFF, new byte[0]);
    }

    private void writeFrame(byte type, byte[] payload) throws IOException {
        writeLock.lock();
        try {
            AgentProtocol.write(channel, type, payload);
        } finally {
            writeLock.unlock();
        }
    }

    /** Closes the connection (a running process is killed by the agent). */
    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException e) {
            // nothing left to do
        }
    }
}
