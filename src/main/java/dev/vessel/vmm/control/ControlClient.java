package dev.vessel.vmm.control;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/** The client side of {@link ControlServer}: one request, one reply, over the VM's control socket. */
public final class ControlClient {
    /** The longest reply taken. */
    static final int MAX_REPLY_BYTES = 64 * 1024;
    private static final JsonFactory JSON = new JsonFactory();

    private ControlClient() {}

    /**
     * Sends {@code request} (one JSON object, no newline) and returns the reply line.
     *
     * @throws IOException if nobody serves the socket, the connection fails, or no whole reply
     *     arrives within {@code timeout}
     */
    public static String call(Path socket, String request, Duration timeout) throws IOException {
        if (request.indexOf('\n') >= 0) {
            throw new IllegalArgumentException("a request is one line");
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX);
             Selector selector = Selector.open()) {
            try {
                ch.connect(UnixDomainSocketAddress.of(socket));
            } catch (IOException e) {
                throw new IOException("no VM answers on " + socket + " (" + e.getMessage() + ")", e);
            }
            ByteBuffer out = ByteBuffer.wrap((request + "\n").getBytes(StandardCharsets.UTF_8));
            try {
                while (out.hasRemaining()) {
                    ch.write(out);
                }
            } catch (IOException e) {
                // The server may have answered and closed before reading (too many connections): read that.
            }
            ch.configureBlocking(false);
            ch.register(selector, SelectionKey.OP_READ);
            ByteArrayOutputStream reply = new ByteArrayOutputStream();
            ByteBuffer in = ByteBuffer.allocate(4096);
            while (true) {
                long left = (deadline - System.nanoTime()) / 1_000_000;
                if (left <= 0) {
                    throw new IOException("no reply from " + socket + " within " + timeout.toMillis() + " ms");
                }
                selector.select(left);
                selector.selectedKeys().clear();
                int n = ch.read(in);
                if (n > 0) {
                    in.flip();
                    byte[] chunk = new byte[in.remaining()];
                    in.get(chunk);
                    in.clear();
                    for (int i = 0; i < chunk.length; i++) {
                        if (chunk[i] == '\n') {
                            reply.write(chunk, 0, i);
                            return reply.toString(StandardCharsets.UTF_8);
                        }
                    }
                    reply.write(chunk);
                    if (reply.size() > MAX_REPLY_BYTES) {
                        throw new IOException("reply from " + socket + " is too long");
                    }
                } else if (n < 0) {
                    if (reply.size() > 0) {
                        return reply.toString(StandardCharsets.UTF_8);
                    }
                    throw new IOException(socket + " closed the connection without a reply");
                }
            }
        }
    }

    /**
     * Parses a reply into maps (objects), lists, strings, booleans, null and numbers (Long, or
     * BigInteger / Double where a Long does not fit).
     */
    public static Map<String, Object> parseReply(String reply) throws IOException {
        try (JsonParser p = JSON.createParser(reply)) {
            if (p.nextToken() != JsonToken.START_OBJECT) {
                throw new IOException("not a JSON object: " + reply);
            }
            @SuppressWarnings("unchecked")
            Map<String, Object> m = (Map<String, Object>) value(p);
            return m;
        }
    }

    private static Object value(JsonParser p) throws IOException {
        JsonToken t = p.currentToken();
        switch (t) {
            case START_OBJECT -> {
                Map<String, Object> m = new LinkedHashMap<>();
                while (p.nextToken() == JsonToken.FIELD_NAME) {
                    String name = p.currentName();
                    p.nextToken();
                    m.put(name, value(p));
                }
                return m;
            }
            case START_ARRAY -> {
                List<Object> l = new ArrayList<>();
                while (p.nextToken() != JsonToken.END_ARRAY) {
                    l.add(value(p));
                }
                return l;
            }
            case VALUE_STRING -> {
                return p.getText();
            }
            case VALUE_NUMBER_INT -> {
                return p.getNumberType() == JsonParser.NumberType.BIG_INTEGER ? p.getBigIntegerValue() : p.getLongValue();
            }
            case VALUE_NUMBER_FLOAT -> {
                return p.getDoubleValue();
            }
            case VALUE_TRUE -> {
                return Boolean.TRUE;
            }
            case VALUE_FALSE -> {
                return Boolean.FALSE;
            }
            case VALUE_NULL -> {
                return null;
            }
            default -> throw new IOException("unexpected JSON token " + t);
        }
    }
}
