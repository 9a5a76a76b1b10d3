package dev.vessel.api;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vessel.container.ContainerService;
import dev.vessel.image.ImageStore;
import dev.vessel.registry.Puller;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The Engine API's requests and answers, without the transport: the routes, the version prefix,
 * dockerd's headers and its error bodies. {@link ApiServer} feeds it; a test can call it directly.
 */
public final class EngineApi {
    private static final System.Logger LOG = System.getLogger(EngineApi.class.getName());
    static final ObjectMapper JSON = new ObjectMapper();

    private final Router router = new Router();
    private final Map<String, String> headers;

    /**
     * @param containers the containers (and, through it, the networks) of a state root
     * @param images the image store of the same root
     * @param stateRoot where that root is ({@code docker info}'s {@code DockerRootDir})
     */
    public EngineApi(ContainerService containers, ImageStore images, Path stateRoot) {
        SystemEndpoints system = new SystemEndpoints(containers, images, stateRoot);
        system.register(router);
        ImageEndpoints imageEndpoints = new ImageEndpoints(images, containers,
                (store, ref, progress, auth) -> Puller.standard(store, progress).withCredentials(auth).pull(ref));
        ContainerRuns runs = new ContainerRuns();
        new ContainerEndpoints(containers, imageEndpoints::idOf, runs).register(router);
        new ContainerRunEndpoints(containers, runs).register(router);
        new ExecEndpoints(containers).register(router);
        new ArchiveEndpoints(containers).register(router);
        new ProcessEndpoints(containers).register(router);
        imageEndpoints.register(router);
        new NetworkEndpoints(containers).register(router);
        new EventEndpoints(containers.events()).register(router);
        Map<String, String> h = new LinkedHashMap<>();
        h.put("Api-Version", ApiVersion.CURRENT.toString());
        h.put("Docker-Experimental", "false");
        h.put("Ostype", "linux");
        h.put("Server", "Vessel/" + SystemEndpoints.version() + " (linux)");
        headers = Map.copyOf(h);
    }

    /** The routes, for a test that adds one of its own. */
    Router router() {
        return router;
    }

    /** The headers dockerd sends with every answer. */
    Map<String, String> headers() {
        return headers;
    }

    /**
     * Answers one request; never throws: a refusal is dockerd's {@code {"message": ...}} with its
     * status, a failure of Vessel's a 500 with what failed.
     *
     * @param path the decoded path, with or without a {@code /vX.Y} prefix
     */
    public ApiResponse handle(String method, String path, Map<String, List<String>> query, String contentType, byte[] body) {
        return handle(method, path, query, contentType, body, Map.of());
    }

    /**
     * Answers one request with its headers ({@code Connection: Upgrade} for attach and exec,
     * {@code X-Registry-Auth} for pulls).
     *
     * @param headers by lower-case name
     */
    public ApiResponse handle(String method, String path, Map<String, List<String>> query, String contentType, byte[] body,
                              Map<String, String> headers) {
        return handle(method, path, query, contentType, body, headers, null);
    }

    /**
     * Whether the request's route reads its body as it arrives ({@link Router#addStreaming}): a
     * tar into a container or an image to load can be far larger than any JSON body.
     *
     * @param path with or without a version prefix
     */
    public boolean streamsBody(String method, String path) {
        try {
            return router.streamsBody(method, ApiVersion.split(path).path());
        } catch (RuntimeException e) {
            return false; // a malformed version: refused as any other request, once read
        }
    }

    /** Answers one request whose body is {@code stream} (see {@link #streamsBody}), or {@code body} when that is null. */
    public ApiResponse handle(String method, String path, Map<String, List<String>> query, String contentType, byte[] body,
                              Map<String, String> headers, java.io.InputStream stream) {
        try {
            ApiVersion.Split split = ApiVersion.split(path);
            if (split.version() != null) {
                split.version().check();
            }
            ApiVersion version = split.version() != null ? split.version() : ApiVersion.CURRENT;
            return router.dispatch(new ApiRequest(method, split.path(), version, query, contentType,
                    body == null ? new byte[0] : body, headers, Map.of(), stream));
        } catch (ApiException | IOException | RuntimeException e) {
            return error(e);
        }
    }

    /** dockerd's error body for a failure. */
    ApiResponse error(Throwable e) {
        if (e instanceof ApiException a) {
            return new ApiResponse.Json(a.status(), message(a.getMessage()));
        }
        LOG.log(System.Logger.Level.WARNING, "request failed", e);
        String m = e.getMessage() != null ? e.getMessage() : e.toString();
        return new ApiResponse.Json(500, message(m));
    }

    private static JsonNode message(String text) {
        return JSON.createObjectNode().put("message", text);
    }

    static byte[] bytes(JsonNode node) {
        try {
            return JSON.writeValueAsBytes(node);
        } catch (JsonProcessingException e) {
            throw new UncheckedIOException(e);
        }
    }
}
