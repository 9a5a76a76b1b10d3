package dev.vessel.api;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.socket.ChannelInputShutdownEvent;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.concurrent.CompletableFuture;

/**
 * A connection taken over from HTTP (attach, exec): the client's bytes queue up for a blocking
 * reader, and the session's writes go out on each flush. Reading stops while much is queued, so a
 * client that types faster than the container reads is slowed down, not buffered without end.
 */
final class HijackedChannel implements ApiResponse.Connection {
    /** Above this many queued bytes the socket is not read until the session catches up. */
    static final int HIGH_WATER = 256 * 1024;

    private final Channel channel;
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private final InboundBytes input;
    private final Output output = new Output();

    HijackedChannel(Channel channel) {
        this.channel = channel;
        this.input = new InboundBytes(channel, HIGH_WATER);
        channel.closeFuture().addListener(f -> {
            input.end();
            closed.complete(null);
        });
    }

    /** The handler that feeds this connection; it replaces the HTTP handlers in the pipeline. */
    Inbound inbound() {
        return new Inbound();
    }

    @Override
    public InputStream input() {
        return input;
    }

    @Override
    public OutputStream output() {
        return output;
    }

    @Override
    public CompletableFuture<Void> closed() {
        return closed;
    }

    final class Inbound extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof ByteBuf buf) {
                try {
                    if (buf.isReadable()) {
                        byte[] bytes = new byte[buf.readableBytes()];
                        buf.readBytes(bytes);
                        input.offer(bytes);
                    }
                } finally {
                    buf.release();
                }
            } else {
                io.netty.util.ReferenceCountUtil.release(msg);
            }
        }

        @Override
        public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
            if (evt instanceof ChannelInputShutdownEvent) {
                input.end();
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            input.end();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    /** Writes buffer until a flush; a flush waits until the bytes are written, so a slow client slows the writer. */
    private final class Output extends OutputStream {
        private final java.io.ByteArrayOutputStream pending = new java.io.ByteArrayOutputStream();

        @Override
        public synchronized void write(int b) {
            pending.write(b);
        }

        @Override
        public synchronized void write(byte[] b, int off, int len) {
            pending.write(b, off, len);
        }

        @Override
        public synchronized void flush() throws IOException {
            if (pending.size() == 0) {
                return;
            }
            ChannelFuture sent = channel.writeAndFlush(Unpooled.wrappedBuffer(pending.toByteArray()));
            pending.reset();
            if (!sent.awaitUninterruptibly().isSuccess()) {
                throw new IOException("the client went away", sent.cause());
            }
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }
}
