package dev.vessel.api;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * The connection takeover of attach and exec, on a route of the test's own: dockerd's heads (101
 * when asked to upgrade, 200 otherwise), raw bytes both ways, the client's half-close read as the
 * end of its input while the answer still comes, and a client that goes away seen by the session.
 */
class ApiHijackTest {
    @TempDir
    Path dir;
    ApiFixture fixture;
    UnixHttp http;
    final CompletableFuture<Void> sessionSawClose = new CompletableFuture<>();

    @BeforeEach
    void serve() throws Exception {
        fixture = new ApiFixture(dir);
        // Echoes its input upper-cased, then "bye" at the input's end.
        fixture.api.router().add("POST", "/test/echo", r -> new ApiResponse.Upgrade(ContainerEndpoints.RAW_STREAM, c -> {
            InputStream in = c.input();
            byte[] buf = new byte[4096];
            int n;
            while ((n = in.read(buf)) >= 0) {
                c.output().write(new String(buf, 0, n, StandardCharsets.UTF_8).toUpperCase(Locale.ROOT).getBytes(StandardCharsets.UTF_8));
                c.output().flush();
            }
            c.output().write("bye".getBytes(StandardCharsets.UTF_8));
        }));
        // Reads to the end of its input, then writes until a write fails.
        fixture.api.router().add("POST", "/test/linger", r -> new ApiResponse.Upgrade(ContainerEndpoints.MULTIPLEXED_STREAM, c -> {
            while (c.input().read() >= 0) {
                // the client sends nothing
            }
            try {
                while (true) {
                    c.output().write('x');
                    c.output().flush();
                }
            } catch (IOException gone) {
                sessionSawClose.complete(null);
            }
        }));
        http = new UnixHttp(fixture.socket());
    }

    @AfterEach
    void stop() throws IOException {
        http.close();
        fixture.close();
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    @Test
    void anUpgradeIsAnsweredWith101AndCarriesRawBytesBothWaysUntilTheHalfClose() throws Exception {
        http.write(ascii("POST /v1.47/test/echo HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n"
                + "Content-Length: 0\r\n\r\n"));
        UnixHttp.Response head = http.read(true);
        assertEquals(101, head.status());
        assertEquals("Upgrade", head.header("Connection"));
        assertEquals("tcp", head.header("Upgrade"));
        assertEquals(ContainerEndpoints.RAW_STREAM, head.header("Content-Type"));
        assertEquals(ApiVersion.CURRENT.toString(), head.header("Api-Version"));
        assertNull(head.header("Content-Length"));

        http.write(ascii("hello\n"));
        assertArrayEquals(ascii("HELLO\n"), http.readExactly(6));
        http.write(ascii("a\u0000b\r\n"));
        assertArrayEquals(ascii("A\u0000B\r\n"), http.readExactly(5));
        http.shutdownOutput();
        assertArrayEquals(ascii("bye"), http.readToEnd(), "the answer after the half-close, then the end");
    }

    @Test
    void withoutAnUpgradeTheStreamFollowsA200Head() throws Exception {
        // docker-java attaches so when it has no input to send.
        http.write(ascii("POST /test/echo HTTP/1.1\r\nHost: api\r\nContent-Length: 0\r\n\r\n"));
        UnixHttp.Response head = http.read(true);
        assertEquals(200, head.status());
        assertEquals(ContainerEndpoints.RAW_STREAM, head.header("Content-Type"));
        assertNull(head.header("Content-Length"));
        assertNull(head.header("Transfer-Encoding"));
        http.write(ascii("x"));
        assertArrayEquals(ascii("X"), http.readExactly(1));
        http.shutdownOutput();
        assertArrayEquals(ascii("bye"), http.readToEnd());
    }

    @Test
    void aSessionSeesItsClientGoAway() throws Exception {
        http.write(ascii("POST /test/linger HTTP/1.1\r\nHost: api\r\nConnection: Upgrade\r\nUpgrade: tcp\r\n\r\n"));
        assertEquals(101, http.read(true).status());
        http.close();
        sessionSawClose.get(30, TimeUnit.SECONDS);
    }

    @Test
    void plainRequestsStillWorkOnAConnectionThatHalfClosed() throws Exception {
        // A client may half-close right after its request: the answer still comes, then the end.
        http.write(ascii("GET /_ping HTTP/1.1\r\nHost: api\r\n\r\n"));
        http.shutdownOutput();
        UnixHttp.Response r = http.read(false);
        assertEquals(200, r.status());
        assertEquals("OK", r.body());
        assertEquals(0, http.readToEnd().length);
    }

    @Test
    void multiplexedFramesCarryTheStreamAndTheLength() throws Exception {
        ByteArrayOutputStream connection = new ByteArrayOutputStream();
        StreamFrames.of(connection, false, StreamFrames.STDERR).write(ascii("oops"));
        StreamFrames.of(connection, false, StreamFrames.STDOUT).write(new byte[0]);
        StreamFrames.of(connection, true, StreamFrames.STDOUT).write(ascii("raw"));
        assertArrayEquals(new byte[] {2, 0, 0, 0, 0, 0, 0, 4, 'o', 'o', 'p', 's', 'r', 'a', 'w'}, connection.toByteArray());
    }
}
