package dev.vessel.api;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * A minimal HTTP/1.1 client on a Unix socket, to send the server exactly the bytes a test means
 * (malformed bodies, odd paths) and read its answers whole. One connection, kept alive.
 */
final class UnixHttp implements AutoCloseable {
    /** An answer: status, headers by lower-case name, body as bytes. */
    record Response(int status, Map<String, String> headers, byte[] bytes) {
        String header(String name) {
            return headers.get(name.toLowerCase(Locale.ROOT));
        }

        /** The body as text. */
        String body() {
            return new String(bytes, StandardCharsets.UTF_8);
        }
    }

    private final SocketChannel channel;
    private final ByteArrayOutputStream pending = new ByteArrayOutputStream();

    UnixHttp(Path socket) throws IOException {
        channel = SocketChannel.open(StandardProtocolFamily.UNIX);
        channel.connect(UnixDomainSocketAddress.of(socket));
    }

    Response get(String path) throws IOException {
        return send("GET", path, null, null);
    }

    Response postJson(String path, String json) throws IOException {
        return send("POST", path, "application/json", json);
    }

    Response send(String method, String path, String contentType, String body) throws IOException {
        return sendBytes(method, path, contentType, body == null ? null : body.getBytes(StandardCharsets.UTF_8));
    }

    /** A request with a binary body (a tar), or none when {@code body} is null. */
    Response sendBytes(String method, String path, String contentType, byte[] body) throws IOException {
        byte[] bytes = body == null ? new byte[0] : body;
        StringBuilder head = new StringBuilder(method + " " + path + " HTTP/1.1\r\nHost: api\r\n");
        if (contentType != null) {
            head.append("Content-Type: ").append(contentType).append("\r\n");
        }
        if (body != null) {
            head.append("Content-Length: ").append(bytes.length).append("\r\n");
        }
        head.append("\r\n");
        write(head.toString().getBytes(StandardCharsets.US_ASCII));
        write(bytes);
        return read(method.equals("HEAD"));
    }

    /** Sends raw bytes, for requests no well-behaved client would make. */
    void write(byte[] bytes) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(bytes);
        while (b.hasRemaining()) {
            channel.write(b);
        }
    }

    Response read(boolean head) throws IOException {
        int end;
        while ((end = indexOf(pending.toByteArray(), "\r\n\r\n".getBytes(StandardCharsets.US_ASCII))) < 0) {
            fill();
        }
        byte[] all = pending.toByteArray();
        String[] lines = new String(all, 0, end, StandardCharsets.ISO_8859_1).split("\r\n");
        int status = Integer.parseInt(lines[0].split(" ")[1]);
        Map<String, String> headers = new LinkedHashMap<>();
        for (int i = 1; i < lines.length; i++) {
            int colon = lines[i].indexOf(':');
            headers.put(lines[i].substring(0, colon).strip().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).strip());
        }
        if (!head && "chunked".equalsIgnoreCase(headers.get("transfer-encoding"))) {
            return new Response(status, headers, readChunks(end + 4));
        }
        String length = headers.get("content-length");
        int n = head || length == null ? 0 : Integer.parseInt(length);
        while (pending.size() < end + 4 + n) {
            fill();
        }
        all = pending.toByteArray();
        byte[] body = java.util.Arrays.copyOfRange(all, end + 4, end + 4 + n);
        pending.reset();
        pending.write(all, end + 4 + n, all.length - end - 4 - n);
        return new Response(status, headers, body);
    }

    /** A chunked body that starts at {@code from} of what is pending, to its last chunk. */
    private byte[] readChunks(int from) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        int at = from;
        while (true) {
            int eol;
            while ((eol = indexOf(pending.toByteArray(), at, "\r\n".getBytes(StandardCharsets.US_ASCII))) < 0) {
                fill();
            }
            int size = Integer.parseInt(new String(pending.toByteArray(), at, eol - at, StandardCharsets.US_ASCII).strip(), 16);
            while (pending.size() < eol + 2 + size + 2) {
                fill();
            }
            body.write(pending.toByteArray(), eol + 2, size);
            at = eol + 2 + size + 2;
            if (size == 0) {
                byte[] all = pending.toByteArray();
                pending.reset();
                pending.write(all, at, all.length - at);
                return body.toByteArray();
            }
        }
    }

    /** Everything the server sends until it closes the connection (after what {@link #read} left). */
    byte[] readToEnd() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8192);
        while (channel.read(b.clear()) >= 0) {
            pending.write(b.array(), 0, b.position());
        }
        byte[] all = pending.toByteArray();
        pending.reset();
        return all;
    }

    /** Reads until {@code n} bytes past the last answer are there, and takes them. */
    byte[] readExactly(int n) throws IOException {
        while (pending.size() < n) {
            fill();
        }
        byte[] all = pending.toByteArray();
        pending.reset();
        pending.write(all, n, all.length - n);
        return java.util.Arrays.copyOf(all, n);
    }

    /**
     * Reads a streamed answer's body (after {@link #read} took its head) until it holds
     * {@code marker}; returns what came, chunk sizes and all.
     */
    String readUntil(String marker) throws IOException {
        while (!pending.toString(StandardCharsets.UTF_8).contains(marker)) {
            fill();
        }
        String all = pending.toString(StandardCharsets.UTF_8);
        pending.reset();
        return all;
    }

    /** Half-closes: the server reads the end of this side's bytes, and may still answer. */
    void shutdownOutput() throws IOException {
        channel.shutdownOutput();
    }

    /** True once the server closed the connection (all it sent was read). */
    boolean closedByServer() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(1);
        return channel.read(b) < 0;
    }

    private void fill() throws IOException {
        ByteBuffer b = ByteBuffer.allocate(8192);
        if (channel.read(b) < 0) {
            throw new IOException("the server closed the connection");
        }
        pending.write(b.array(), 0, b.position());
    }

    private static int indexOf(byte[] data, byte[] what) {
        return indexOf(data, 0, what);
    }

    private static int indexOf(byte[] data, int from, byte[] what) {
        outer:
        for (int i = from; i + what.length <= data.length; i++) {
            for (int j = 0; j < what.length; j++) {
                if (data[i + j] != what[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    @Override
    public void close() throws IOException {
        channel.close();
    }
}
