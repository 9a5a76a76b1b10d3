package dev.vessel.guest.agent;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * The vessel-agent in a VM, reached through the VM's hybrid vsock socket: the container init, or
 * the built-in initramfs's {@code agent} action ({@link dev.vessel.guest.GuestImages#agentInitramfs()}).
 *
 * <pre>{@code
 * try (GuestAgent agent = GuestAgent.listen(vsockSocket)) {   // before the guest can get ready
 *     vm.start();
 *     agent.awaitReady(Duration.ofMinutes(2));
 *     System.out.print(agent.run("uname", "-r").stdout());
 * }
 * }</pre>
 *
 * The agent says {@code READY <port>} to the host's vsock port
 * {@value AgentProtocol#READY_PORT} once it listens; the VM's vsock device hands that connection
 * to a listener on {@code <vsockSocket>_1025}, which {@link #listen} binds. Commands go to vsock
 * port {@value AgentProtocol#CONTAINER_PORT} ({@code CONNECT 1024} on the VM's socket).
 */
public final class GuestAgent implements AutoCloseable {
    /** The longest first line the agent sends on the ready port. */
    private static final int READY_LINE_MAX = 64;

    private final Path vsockSocket;
    private final Path readySocket;
    private final ServerSocketChannel ready;

    private GuestAgent(Path vsockSocket, Path readySocket, ServerSocketChannel ready) {
        this.vsockSocket = vsockSocket;
        this.readySocket = readySocket;
        this.ready = ready;
    }

    /** What a command printed and how it ended. */
    public record Result(int exitCode, String stdout, String stderr) {}

    /**
     * Listens for the agent's READY on the host side of the VM's vsock socket {@code vsockSocket}:
     * call it before the guest runs, since the agent says READY once.
     */
    public static GuestAgent listen(Path vsockSocket) throws IOException {
        Path readySocket = Path.of(vsockSocket + "_" + AgentProtocol.READY_PORT);
        Files.deleteIfExists(readySocket);
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.bind(UnixDomainSocketAddress.of(readySocket));
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
        return new GuestAgent(vsockSocket, readySocket, ch);
    }

    /**
     * Waits until the agent says it listens (other connections to the ready port are not it, and
     * are closed). Returns this.
     *
     * @throws AgentTimeoutException if it did not within {@code timeout}
     */
    public GuestAgent awaitReady(Duration timeout) throws IOException {
        long deadline = System.nanoTime() + timeout.toNanos();
        ready.configureBlocking(false);
        try (Selector selector = Selector.open()) {
            ready.register(selector, SelectionKey.OP_ACCEPT);
            while (true) {
                long left = (deadline - System.nanoTime()) / 1_000_000;
                if (left <= 0) {
                    throw new AgentTimeoutException("the guest's vessel-agent did not get ready within " + timeout.toSeconds() + " s");
                }
                selector.select(left);
                selector.selectedKeys().clear();
                SocketChannel c = ready.accept();
                if (c != null && isReadyLine(c)) {
                    return this;
                }
            }
        }
    }

    private static boolean isReadyLine(SocketChannel c) {
        try (c) {
            c.configureBlocking(true);
            InputStream in = Channels.newInputStream(c);
            byte[] line = in.readNBytes(READY_LINE_MAX);
            return new String(line, StandardCharsets.US_ASCII).startsWith("READY ");
        } catch (IOException e) {
            return false;
        }
    }

    /** A new connection to the agent, hello done: one exec (or power-off) per connection. */
    public AgentClient connect() throws IOException {
        return connect(vsockSocket);
    }

    /** Connects to the agent behind the VM's vsock socket {@code vsockSocket} ({@code CONNECT 1024}) and says hello. */
    public static AgentClient connect(Path vsockSocket) throws IOException {
        SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            ch.connect(UnixDomainSocketAddress.of(vsockSocket));
            ch.write(ByteBuffer.wrap(("CONNECT " + AgentProtocol.CONTAINER_PORT + "\n").getBytes(StandardCharsets.US_ASCII)));
            InputStream in = Channels.newInputStream(ch);
            StringBuilder b = new StringBuilder();
            int c;
            while ((c = in.read()) >= 0 && c != '\n' && b.length() < READY_LINE_MAX) {
                b.append((char) c);
            }
            if (!b.toString().startsWith("OK ")) {
                throw new IOException("the guest's vessel-agent did not accept the connection");
            }
            AgentClient client = new AgentClient(ch);
            client.hello(null, AgentClient.DEFAULT_TIMEOUT);
            return client;
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** Runs {@code argv} in the guest with no input and returns what it printed (UTF-8) and its status. */
    public Result run(String... argv) throws IOException, InterruptedException {
        return run(List.of(argv));
    }

    public Result run(List<String> argv) throws IOException, InterruptedException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try (AgentClient client = connect(); ExecSession s = client.exec(ExecRequest.of(argv), null, out, err)) {
            s.closeStdin();
            int status = s.waitFor();
            if (s.failure().isPresent()) {
                throw new IOException("cannot run " + argv.getFirst() + " in the guest: " + s.failure().get().message());
            }
            return new Result(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        }
    }

    /** Stops listening for READY and removes the listener's socket. */
    @Override
    public void close() throws IOException {
        ready.close();
        Files.deleteIfExists(readySocket);
    }
}
