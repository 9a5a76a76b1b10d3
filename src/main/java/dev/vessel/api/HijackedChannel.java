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
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A connection taken over from HTTP (attach, exec): the client's bytes queue up for a blocking
 * reader, and the session's writes go out on each flush. Reading stops while much is queued, so a
 * client that types faster than the container reads is slowed down, not buffered without end.
 */
final class HijackedChannel implements ApiResponse.Connection {
    /** Above this many queued bytes the socket is not read until the session catches up. */
    static final int HIGH_WATER = 256 * 1024;

    private final Channel channel;
    private final ReentrantLock lock = new ReentrantLock();
    private final Condition readable = lock.newCondition();
    private final ArrayDeque<byte[]> queue = new ArrayDeque<>();
    private final CompletableFuture<Void> closed = new CompletableFuture<>();
    private byte[] current;
    private int position;
    private long queued;
    private boolean ended;
    private final Input input = new Input();
    private final Output output = new Output();

    HijackedChannel(Channel channel) {
        this.channel = channel;
        channel.closeFuture().addListener(f -> {
            end();
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

    private void offer(byte[] bytes) {
        lock.lock();
        try {
            if (ended) {
                return;
            }
            queue.add(bytes);
            queued += bytes.length;
            if (queued > HIGH_WATER) {
                channel.config().setAutoRead(false);
            }
            readable.signalAll();
        } finally {
            lock.unlock();
        }
    }

    /** The client sends no more: half-closed, or gone. */
    private void end() {
        lock.lock();
        try {
            ended = true;
            readable.signalAll();
        } finally {
            lock.unlock();
        }
    }

    final class Inbound extends ChannelInboundHandlerAdapter {
        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof ByteBuf buf) {
                try {
                    if (buf.isReadable()) {
                        byte[] bytes = new byte[buf.readableBytes()];
                        buf.readBytes(bytes);
                        offer(bytes);
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
                end();
            }
            ctx.fireUserEventTriggered(evt);
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            end();
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    private final class Input extends InputStream {
        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            int n = read(one, 0, 1);
            return n < 0 ? -1 : one[0] & 0xFF;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (len == 0) {
                return 0;
            }
            lock.lock();
            try {
                while (current == null) {
                    current = queue.poll();
                    position = 0;
                    if (current != null) {
                        break;
                    }
                    if (ended) {
                        return -1;
                    }
                    readable.await();
                }
                int n = Math.min(len, current.length - position);
                System.arraycopy(current, position, b, off, n);
                position += n;
                queued -= n;
                if (position == current.length) {
                    current = null;
                }
                if (queued <= HIGH_WATER / 4 && !ended && !channel.config().isAutoRead()) {
                    channel.config().setAutoRead(true);
                }
                return n;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new java.io.InterruptedIOException("interrupted while reading the client's input");
            } finally {
                lock.unlock();
            }
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
