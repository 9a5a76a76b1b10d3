package dev.vessel.api;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.group.ChannelGroup;
import io.netty.channel.group.DefaultChannelGroup;
import io.netty.util.concurrent.GlobalEventExecutor;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpContent;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.QueryStringDecoder;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * The Engine API's transport: HTTP/1.1 on a Unix socket through Netty's epoll channels. Each
 * request is read whole, then answered by {@link EngineApi} on a virtual thread of its own (the
 * services block on files, locks and programs, which the event loop must not); a connection reads
 * its next request only once the previous one is answered, so answers keep their order. Attach and
 * exec take their connection over: the HTTP codecs leave its pipeline and the endpoint's session
 * reads and writes raw bytes ({@link HijackedChannel}).
 *
 * <p>The socket is mode 0660, as dockerd's (its group may use it); a stale socket file from a
 * server that died is replaced, a live one is not.
 */
public final class ApiServer implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(ApiServer.class.getName());
    /** Bodies larger than this are refused (413): a create request is a few KiB. */
    static final int MAX_BODY = 4 << 20;
    /** A streamed body's bytes queued before the connection stops reading until the endpoint took some. */
    static final int STREAMED_BODY_HIGH_WATER = 1 << 20;

    private final Path socket;
    private final EngineApi api;
    private final EventLoopGroup loop;
    private final ExecutorService workers = Executors.newVirtualThreadPerTaskExecutor();
    private final Channel listener;
    /** The open connections, closed with the server (sessions waiting on them end). */
    private final ChannelGroup connections = new DefaultChannelGroup(GlobalEventExecutor.INSTANCE);

    private final ReentrantLock lock = new ReentrantLock();
    private final Condition changed = lock.newCondition();
    private int inFlight;
    private long lastActivity = System.nanoTime();
    private boolean closed;
    /** Whether this server made its socket file (and so removes it); not when systemd passed the socket. */
    private final boolean ownsSocketFile;
    /** The TCP address asked for, or null for a Unix socket. */
    private final InetSocketAddress tcp;

    /**
     * @param socket the socket file to bind, or (with {@code inheritedFd} at 0 or more) the one
     *     the listening descriptor was made for, shown in messages
     * @param inheritedFd a listening socket passed by systemd, or -1
     */
    private ApiServer(Path socket, int inheritedFd, EngineApi api) throws IOException {
        this(socket, inheritedFd, null, api);
    }

    /** @param tcp the TCP address to listen on instead of a Unix socket, or null */
    private ApiServer(Path socket, int inheritedFd, InetSocketAddress tcp, EngineApi api) throws IOException {
        this.socket = socket;
        this.api = api;
        this.ownsSocketFile = inheritedFd < 0 && tcp == null;
        this.tcp = tcp;
        Epoll.ensureAvailability();
        if (ownsSocketFile) {
            removeStaleSocket(socket);
        }
        loop = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        try {
            ServerBootstrap bootstrap = new ServerBootstrap()
                    .group(loop)
                    // A client that half-closes (stdin's end in attach and exec) still reads the answer.
                    .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                    .childHandler(new ChannelInitializer<Channel>() {
                        @Override
                        protected void initChannel(Channel ch) {
                            connections.add(ch);
                            ch.pipeline().addLast(new HttpServerCodec(), new SelectiveAggregator(), new Handler());
                        }
                    });
            if (tcp != null) {
                listener = bootstrap.channel(EpollServerSocketChannel.class).bind(tcp).sync().channel();
            } else if (ownsSocketFile) {
                listener = bootstrap.channel(EpollServerDomainSocketChannel.class)
                        .bind(new DomainSocketAddress(socket.toFile())).sync().channel();
                Files.setPosixFilePermissions(socket, PosixFilePermissions.fromString("rw-rw----"));
            } else {
                // Already bound and listening: registering it is enough (systemd keeps the file).
                listener = bootstrap.channelFactory(() -> new EpollServerDomainSocketChannel(inheritedFd, true))
                        .register().sync().channel();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            loop.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            throw new IOException("interrupted while binding " + where(), e);
        } catch (IOException | RuntimeException e) {
            loop.shutdownGracefully(0, 0, TimeUnit.SECONDS);
            throw new IOException("cannot listen on " + where() + ": " + e.getMessage(), e);
        }
    }

    /** Listens on {@code socket} (its folder must exist) and answers with {@code api}. */
    public static ApiServer start(Path socket, EngineApi api) throws IOException {
        return new ApiServer(socket.toAbsolutePath(), -1, api);
    }

    /**
     * Answers on a listening socket this process was given (systemd's socket activation passes it
     * as descriptor 3); the socket file stays when the server ends, as it is systemd's.
     */
    public static ApiServer inherit(int fd, EngineApi api) throws IOException {
        return new ApiServer(Path.of("/proc/self/fd/" + fd), fd, api);
    }

    /**
     * Listens on a TCP address: no TLS and no authentication, as dockerd's {@code -H tcp://}
     * without {@code --tlsverify}, so only when a user asks for it.
     */
    public static ApiServer startTcp(InetSocketAddress address, EngineApi api) throws IOException {
        return new ApiServer(null, -1, address, api);
    }

    public Path socket() {
        return socket;
    }

    /** Where clients reach it: {@code unix:///path} or {@code tcp://host:port} (the port bound, when 0 was asked). */
    public String where() {
        if (tcp != null) {
            InetSocketAddress bound = listener != null ? (InetSocketAddress) listener.localAddress() : tcp;
            return "tcp://" + (bound.getAddress() instanceof java.net.Inet6Address ? "[" + bound.getHostString() + "]"
                    : bound.getHostString()) + ":" + bound.getPort();
        }
        return "unix://" + socket;
    }

    /**
     * Blocks until no request has been in flight for {@code idle} (true), or the server is closed
     * (false).
     */
    public boolean awaitIdle(Duration idle) throws InterruptedException {
        lock.lock();
        try {
            while (!closed) {
                if (inFlight > 0) {
                    changed.await();
                    continue;
                }
                long left = lastActivity + idle.toNanos() - System.nanoTime();
                if (left <= 0) {
                    return true;
                }
                changed.awaitNanos(left);
            }
            return false;
        } finally {
            lock.unlock();
        }
    }

    /** Blocks until the server is closed. */
    public void awaitClose() throws InterruptedException {
        lock.lock();
        try {
            while (!closed) {
                changed.await();
            }
        } finally {
            lock.unlock();
        }
    }

    /**
     * Stops listening, closes the connections (a streamed answer or an attach in flight ends; the
     * containers run on), and removes the socket file.
     */
    @Override
    public void close() {
        lock.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
            changed.signalAll();
        } finally {
            lock.unlock();
        }
        listener.close().syncUninterruptibly();
        connections.close().awaitUninterruptibly();
        workers.shutdownNow();
        try {
            if (!workers.awaitTermination(10, TimeUnit.SECONDS)) {
                LOG.log(System.Logger.Level.WARNING, "some requests did not end within 10 s of the server's close");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        loop.shutdownGracefully(0, 1, TimeUnit.SECONDS).syncUninterruptibly();
        try {
            if (ownsSocketFile) {
                Files.deleteIfExists(socket);
            }
        } catch (IOException e) {
            LOG.log(System.Logger.Level.WARNING, "cannot remove " + socket + ": " + e.getMessage());
        }
    }

    private void activity(int delta) {
        lock.lock();
        try {
            inFlight += delta;
            lastActivity = System.nanoTime();
            changed.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /**
     * A socket file left by a server that is gone is removed; one that a server answers on, or a
     * file that is no socket, is an error (nothing is removed).
     */
    static void removeStaleSocket(Path socket) throws IOException {
        BasicFileAttributes a;
        try {
            a = Files.readAttributes(socket, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS);
        } catch (java.nio.file.NoSuchFileException e) {
            return;
        }
        if (!a.isOther()) {
            throw new IOException(socket + " exists and is not a socket");
        }
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(socket));
        } catch (IOException refused) {
            Files.deleteIfExists(socket);
            return;
        }
        throw new IOException("a server listens on " + socket + " already");
    }

    /**
     * Reads bodies whole (up to {@link #MAX_BODY}), except those {@link EngineApi#streamsBody}
     * names: their head and chunks pass on as they come.
     */
    private final class SelectiveAggregator extends HttpObjectAggregator {
        private boolean passing;

        SelectiveAggregator() {
            super(MAX_BODY);
        }

        @Override
        public boolean acceptInboundMessage(Object msg) throws Exception {
            if (msg instanceof HttpRequest r && !(msg instanceof FullHttpRequest)) {
                passing = r.decoderResult().isSuccess()
                        && api.streamsBody(r.method().name(), new QueryStringDecoder(r.uri()).path());
            }
            if (passing) {
                if (msg instanceof LastHttpContent) {
                    passing = false;
                }
                return false;
            }
            return super.acceptInboundMessage(msg);
        }
    }

    /** One connection's requests. */
    private final class Handler extends SimpleChannelInboundHandler<HttpObject> {
        /** The body of the streamed request being read, or null. */
        private InboundBytes body;
        /** A request of this connection is being answered (touched on the event loop only). */
        private boolean answering;
        /** The client half-closed: the connection closes once the answer in flight is written. */
        private boolean inputShut;
        /** The thread writing an answer that ends with its client ({@link ApiResponse.Stream#endsWithClient}). */
        private Thread follower;
        /** The client's input ended or the connection closed (both guarded by the handler's monitor). */
        private boolean clientLeft;

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                inputShut = true;
                clientLeft();
                if (!answering) {
                    ctx.close();
                }
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, HttpObject msg) {
            if (msg instanceof FullHttpRequest full) {
                request(ctx, full, null);
            } else if (msg instanceof HttpRequest head) {
                // A streamed body: the endpoint starts now and reads the chunks as they come.
                Channel ch = ctx.channel();
                if (HttpUtil.is100ContinueExpected(head)) {
                    ch.writeAndFlush(new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.CONTINUE));
                }
                body = new InboundBytes(ch, STREAMED_BODY_HIGH_WATER);
                request(ctx, head, body);
                ch.config().setAutoRead(true);
            } else if (msg instanceof HttpContent chunk && body != null) {
                body.offer(ByteBufUtil.getBytes(chunk.content()));
                if (chunk instanceof LastHttpContent) {
                    body.end();
                    body = null;
                    // The next request waits for this one's answer, as for any other.
                    ctx.channel().config().setAutoRead(false);
                }
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) throws Exception {
            if (body != null) {
                body.fail(new IOException("the client went away before the end of its request's body"));
                body = null;
            }
            clientLeft();
            super.channelInactive(ctx);
        }

        /** Stops the writer that follows for this client, now or as it starts. */
        private synchronized void clientLeft() {
            clientLeft = true;
            if (follower != null) {
                follower.interrupt();
            }
        }

        /** The calling thread writes until its client leaves; false when it left already. */
        private synchronized boolean follow() {
            if (clientLeft) {
                return false;
            }
            follower = Thread.currentThread();
            return true;
        }

        /** The calling thread stopped following: no interrupt reaches it any more, nor stays set. */
        private synchronized void unfollow() {
            follower = null;
            Thread.interrupted();
        }

        private void request(ChannelHandlerContext ctx, HttpRequest req, InboundBytes stream) {
            Channel ch = ctx.channel();
            if (req.decoderResult().isFailure()) {
                FullHttpResponse bad = render(api.error(ApiException.badRequest("malformed HTTP request")), false);
                ch.writeAndFlush(bad).addListener(ChannelFutureListener.CLOSE);
                return;
            }
            ch.config().setAutoRead(false);
            answering = true;
            activity(+1);
            boolean keepAlive = HttpUtil.isKeepAlive(req);
            boolean head = req.method().equals(HttpMethod.HEAD);
            QueryStringDecoder uri = new QueryStringDecoder(req.uri());
            String contentType = req.headers().get(HttpHeaderNames.CONTENT_TYPE);
            byte[] body = req instanceof FullHttpRequest full ? ByteBufUtil.getBytes(full.content()) : new byte[0];
            String method = req.method().name();
            Map<String, String> headers = new HashMap<>();
            req.headers().forEach(h -> headers.put(h.getKey().toLowerCase(Locale.ROOT), h.getValue()));
            try {
                workers.execute(() -> answer(ch, method, uri, contentType, body, stream, headers, keepAlive, head));
            } catch (RejectedExecutionException closing) {
                activity(-1);
                ch.writeAndFlush(render(api.error(new ApiException(503, "the server is stopping")), head))
                        .addListener(ChannelFutureListener.CLOSE);
            }
        }

        /** Answers on a worker thread, then lets the connection read its next request. */
        private void answer(Channel ch, String method, QueryStringDecoder uri, String contentType, byte[] body,
                            InboundBytes streamed, Map<String, String> headers, boolean keepAlive, boolean head) {
            ApiResponse response;
            try {
                response = api.handle(method, uri.path(), uri.parameters(), contentType, body, headers, streamed);
                if (streamed != null && !(response instanceof ApiResponse.Stream)) {
                    // What the endpoint left unread (it failed early) is read and dropped: a
                    // client still sending would not read the answer otherwise.
                    try {
                        streamed.transferTo(OutputStream.nullOutputStream());
                    } catch (IOException gone) {
                        // it will not read the answer either
                    }
                }
            } catch (RuntimeException | Error e) {
                response = api.error(e);
            }
            // After a streamed body the connection closes: what a streamed answer left unread ends with it.
            boolean keep = keepAlive && streamed == null;
            if (response instanceof ApiResponse.Upgrade upgrade && !head) {
                String connection = headers.getOrDefault("connection", "").toLowerCase(Locale.ROOT);
                hijack(ch, upgrade, connection.contains("upgrade") && headers.containsKey("upgrade"));
                return;
            }
            if (response instanceof ApiResponse.Stream stream && !head) {
                stream(ch, stream, keep);
                return;
            }
            FullHttpResponse full = render(response, head);
            HttpUtil.setKeepAlive(full, keep);
            ch.writeAndFlush(full).addListener(f -> finished(ch, keep, f.isSuccess()));
        }

        /** A streamed answer: the head with the first chunk, a chunk per flush of the endpoint's writer, the last chunk. */
        private void stream(Channel ch, ApiResponse.Stream stream, boolean keepAlive) {
            HttpResponse head = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(stream.status()));
            api.headers().forEach((k, v) -> head.headers().set(k, v));
            stream.headers().forEach((k, v) -> head.headers().set(k, v));
            head.headers().set(HttpHeaderNames.CONTENT_TYPE, stream.contentType());
            HttpUtil.setTransferEncodingChunked(head, true);
            HttpUtil.setKeepAlive(head, keepAlive);
            ChunkStream chunks = new ChunkStream(ch, head);
            if (stream.endsWithClient() && !follow()) {
                finished(ch, false, false); // gone before its answer began
                return;
            }
            try {
                stream.writer().write(chunks);
                chunks.close();
            } catch (ApiException e) {
                if (!chunks.started()) {
                    // Nothing was sent yet: an answer like any other.
                    FullHttpResponse full = render(api.error(e), false);
                    HttpUtil.setKeepAlive(full, keepAlive);
                    ch.writeAndFlush(full).addListener(f -> finished(ch, keepAlive, f.isSuccess()));
                    return;
                }
                endEarly(ch, e);
                return;
            } catch (IOException | RuntimeException e) {
                endEarly(ch, e);
                return;
            } finally {
                if (stream.endsWithClient()) {
                    unfollow();
                }
            }
            ch.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT).addListener(f -> finished(ch, keepAlive, f.isSuccess()));
        }

        /**
         * Takes the connection over: the HTTP handlers leave the pipeline (bytes the client sent
         * after its request go to the session), the head goes out, and the session runs on this
         * thread; the connection closes when it returns.
         */
        private void hijack(Channel ch, ApiResponse.Upgrade upgrade, boolean upgradeAsked) {
            StringBuilder head = new StringBuilder(upgradeAsked
                    ? "HTTP/1.1 101 UPGRADED\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                    : "HTTP/1.1 200 OK\r\n");
            head.append("Content-Type: ").append(upgrade.contentType()).append("\r\n");
            api.headers().forEach((k, v) -> head.append(k).append(": ").append(v).append("\r\n"));
            head.append("\r\n");
            HijackedChannel connection = new HijackedChannel(ch);
            Handler self = this;
            try {
                ChannelFuture headSent = ch.eventLoop().submit(() -> {
                    ChannelPipeline p = ch.pipeline();
                    p.remove(HttpObjectAggregator.class);
                    p.replace(self, "hijacked", connection.inbound());
                    p.remove(HttpServerCodec.class);
                    ChannelFuture sent = ch.writeAndFlush(Unpooled.copiedBuffer(head, StandardCharsets.US_ASCII));
                    ch.config().setAutoRead(true);
                    return sent;
                }).syncUninterruptibly().getNow();
                if (!headSent.awaitUninterruptibly().isSuccess()) {
                    return;
                }
                upgrade.session().run(connection);
                connection.output().flush();
            } catch (IOException | RuntimeException e) {
                LOG.log(System.Logger.Level.DEBUG, () -> "an attached stream ended: " + e.getMessage());
            } finally {
                activity(-1);
                ch.close();
            }
        }

        /** A stream that fails once its head is sent: all that is left is to end it, and the connection with it. */
        private void endEarly(Channel ch, Exception e) {
            LOG.log(System.Logger.Level.WARNING, "a streamed answer ended early: " + e.getMessage());
            finished(ch, false, false);
        }

        /** The answer is written: the connection reads its next request, or closes. */
        private void finished(Channel ch, boolean keepAlive, boolean written) {
            activity(-1);
            ch.eventLoop().execute(() -> {
                answering = false;
                if (!keepAlive || !written || inputShut) {
                    ch.close();
                } else {
                    ch.config().setAutoRead(true);
                }
            });
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            // A client that went away mid-request: its connection goes, nothing else.
            ctx.close();
        }
    }

    /**
     * A streamed body's bytes: each flush sends what was written as one chunk and waits until it
     * is written, so a slow client slows the writer down and a client that went away stops it.
     */
    private static final class ChunkStream extends OutputStream {
        private final Channel channel;
        private final HttpResponse head;
        private final ByteArrayOutputStream pending = new ByteArrayOutputStream();
        private boolean started;

        ChunkStream(Channel channel, HttpResponse head) {
            this.channel = channel;
            this.head = head;
        }

        /** Whether the head went out. */
        boolean started() {
            return started;
        }

        @Override
        public void write(int b) {
            pending.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            pending.write(b, off, len);
        }

        /** Sends what was written as a chunk; the first flush sends the head even when nothing was written (wait's head goes at once). */
        @Override
        public void flush() throws IOException {
            if (pending.size() == 0) {
                if (!started) {
                    started = true;
                    ChannelFuture sent = channel.writeAndFlush(head);
                    if (!sent.awaitUninterruptibly().isSuccess()) {
                        throw new IOException("the client went away", sent.cause());
                    }
                }
                return;
            }
            if (!started) {
                started = true;
                channel.write(head);
            }
            ChannelFuture sent = channel.writeAndFlush(new DefaultHttpContent(Unpooled.wrappedBuffer(pending.toByteArray())));
            pending.reset();
            if (!sent.awaitUninterruptibly().isSuccess()) {
                throw new IOException("the client went away", sent.cause());
            }
        }

        /** Sends what is left, and the head if nothing was written at all. */
        @Override
        public void close() throws IOException {
            flush();
            if (!started) {
                started = true;
                channel.writeAndFlush(head);
            }
        }
    }

    /** The HTTP form of an answer, with the headers dockerd sends on every one. */
    private FullHttpResponse render(ApiResponse r, boolean head) {
        byte[] body;
        String type;
        switch (r) {
            case ApiResponse.Json j -> {
                body = EngineApi.bytes(j.body());
                type = "application/json";
            }
            case ApiResponse.Text t -> {
                body = t.body().getBytes(StandardCharsets.UTF_8);
                type = "text/plain; charset=utf-8";
            }
            case ApiResponse.Empty e -> {
                body = new byte[0];
                type = null;
            }
            case ApiResponse.Stream st -> { // HEAD: the head alone
                body = new byte[0];
                type = st.contentType();
            }
            case ApiResponse.Upgrade u -> { // HEAD: the head alone
                body = new byte[0];
                type = u.contentType();
            }
        }
        FullHttpResponse out = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.valueOf(r.status()),
                head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body));
        api.headers().forEach((k, v) -> out.headers().set(k, v));
        if (r instanceof ApiResponse.Text t) {
            t.headers().forEach((k, v) -> out.headers().set(k, v));
        }
        if (r instanceof ApiResponse.Stream st) {
            st.headers().forEach((k, v) -> out.headers().set(k, v));
        }
        if (type != null) {
            out.headers().set(HttpHeaderNames.CONTENT_TYPE, type);
        }
        out.headers().set(HttpHeaderNames.CONTENT_LENGTH, head ? 0 : body.length);
        if (r.status() == 204 || r.status() == 304) {
            out.headers().remove(HttpHeaderNames.CONTENT_LENGTH);
        }
        return out;
    }
}
