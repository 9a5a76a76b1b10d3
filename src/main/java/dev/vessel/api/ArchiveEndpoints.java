package dev.vessel.api;

import dev.vessel.container.ContainerArchive;
import dev.vessel.container.ContainerException;
import dev.vessel.container.ContainerService;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Map;

/**
 * {@code docker cp} and Testcontainers' {@code copyFileToContainer}: a container path's stat
 * ({@code HEAD}), the path as a tar ({@code GET}), a tar extracted into a directory ({@code PUT}),
 * all through {@link ContainerArchive}. The stat travels base64 JSON in {@code
 * X-Docker-Container-Path-Stat}, as dockerd sends it.
 */
final class ArchiveEndpoints {
    static final String STAT_HEADER = "X-Docker-Container-Path-Stat";
    /** A tar is sent in chunks of about this size (the chunk writer keeps what it gets until a flush). */
    private static final int CHUNK = 64 << 10;

    private final ContainerService containers;

    ArchiveEndpoints(ContainerService containers) {
        this.containers = containers;
    }

    void register(Router router) {
        router.add("GET", "/containers/{id}/archive", this::get)
                .addStreaming("PUT", "/containers/{id}/archive", this::put);
        // HEAD is routed to GET, whose head (with the stat) goes out without the tar.
    }

    private static String path(ApiRequest r) throws ApiException {
        String p = r.param("path");
        if (p == null || p.isEmpty()) {
            throw ApiException.badRequest("path cannot be empty");
        }
        return p;
    }

    private ApiResponse get(ApiRequest r) throws ApiException, IOException {
        String id = r.variable("id");
        String path = path(r);
        ContainerArchive archive = containers.archive();
        ContainerArchive.PathStat stat;
        try {
            stat = archive.stat(id, path);
        } catch (ContainerException e) {
            throw ApiException.of(e);
        }
        Map<String, String> headers = Map.of(STAT_HEADER, stat.header());
        if (r.method().equals("HEAD")) {
            return new ApiResponse.Stream(200, "application/x-tar", body -> { }, false, headers);
        }
        return new ApiResponse.Stream(200, "application/x-tar", body -> {
            try (OutputStream chunks = new FlushEvery(body, CHUNK)) {
                archive.get(id, path, chunks);
            } catch (ContainerException e) {
                throw ApiException.of(e);
            }
        }, false, headers);
    }

    private ApiResponse put(ApiRequest r) throws ApiException, IOException {
        String id = r.variable("id");
        String path = path(r);
        try {
            containers.archive().put(id, path, r.bodyInput(),
                    new ContainerArchive.PutOptions(r.flag("noOverwriteDirNonDir"), r.flag("copyUIDGID")));
        } catch (ContainerException e) {
            throw ApiException.of(e);
        }
        return new ApiResponse.Empty(200);
    }

    /** Passes bytes on, and flushes (sends a chunk) each time about {@code every} bytes went by. */
    private static final class FlushEvery extends OutputStream {
        private final OutputStream out;
        private final int every;
        private int since;

        FlushEvery(OutputStream out, int every) {
            this.out = out;
            this.every = every;
        }

        @Override
        public void write(int b) throws IOException {
            write(new byte[] {(byte) b}, 0, 1);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            since += len;
            if (since >= every) {
                flush();
            }
        }

        @Override
        public void flush() throws IOException {
            since = 0;
            out.flush();
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }
}
