package dev.vessel.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vessel.container.ContainerService;
import dev.vessel.container.PruneFilter;
import dev.vessel.image.ArchiveLoader;
import dev.vessel.image.ArchiveWriter;
import dev.vessel.image.Digest;
import dev.vessel.image.Image;
import dev.vessel.image.ImageConfig;
import dev.vessel.image.ImageException;
import dev.vessel.image.ImageStore;
import dev.vessel.image.ImageSummary;
import dev.vessel.image.Reference;
import dev.vessel.image.RemoveResult;

import dev.vessel.registry.Credentials;
import dev.vessel.registry.PullProgress;
import dev.vessel.registry.RegistryException;

import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** The image endpoints over the image store: list, pull, inspect, remove, tag, prune, save, load. */
final class ImageEndpoints {
    private static final Set<String> LIST_FILTERS = Set.of("dangling", "reference");

    /** Pulls an image into the store; the registry client in production. */
    @FunctionalInterface
    interface ImagePuller {
        void pull(ImageStore images, Reference ref, PullProgress progress, Optional<Credentials> auth)
                throws IOException, ImageException, RegistryException;
    }

    private final ImageStore images;
    private final ContainerService containers;
    private final ImagePuller puller;

    ImageEndpoints(ImageStore images, ContainerService containers, ImagePuller puller) {
        this.images = images;
        this.containers = containers;
        this.puller = puller;
    }

    void register(Router router) {
        router.add("GET", "/images/json", this::list)
                .add("POST", "/images/create", this::pull)
                .add("POST", "/images/prune", this::prune)
                .add("GET", "/images/get", this::save)
                .addStreaming("POST", "/images/load", this::load)
                .add("GET", "/images/{name*}/json", this::inspect)
                .add("GET", "/images/{name*}/get", this::save)
                .add("POST", "/images/{name*}/tag", this::tag)
                .add("DELETE", "/images/{name*}", this::remove);
    }

    /**
     * {@code docker pull}, and the pull of {@code docker run} or {@code create} after "No such
     * image": docker's progress messages as a stream, ended by an error message when the pull
     * fails (the CLI prints it and exits 1). Credentials are the client's {@code X-Registry-Auth}
     * when it sends some, else this user's docker config.json, as for {@code vessel pull}.
     */
    private ApiResponse pull(ApiRequest r) throws ApiException {
        if (r.param("fromSrc") != null) {
            throw new ApiException(501, "importing through the Engine API is not supported by Vessel yet: use 'vessel import'");
        }
        String image = r.param("fromImage");
        if (image == null || image.isEmpty()) {
            throw ApiException.badRequest("fromImage is required: the image to pull");
        }
        String platform = r.param("platform");
        if (platform != null && !platform.isEmpty() && !platform.equals("linux/amd64") && !platform.equals("linux/amd64/v1")) {
            throw ApiException.badRequest("platform " + platform + " is not supported: Vessel runs linux/amd64 images only");
        }
        String tag = r.param("tag");
        String name = image + (tag == null || tag.isEmpty() ? "" : tag.startsWith("sha256:") ? "@" + tag : ":" + tag);
        Reference ref;
        try {
            ref = Reference.parse(name);
        } catch (ImageException e) {
            throw ApiException.of(e);
        }
        return new ApiResponse.Stream(200, "application/json", body -> {
            CountingStream counted = new CountingStream(body);
            PrintStream out = new PrintStream(counted, false, StandardCharsets.UTF_8);
            PullProgress progress = new PullProgress(out, PullProgress.Mode.JSON);
            try {
                puller.pull(images, ref, progress, RegistryAuth.decode(r.header(RegistryAuth.HEADER)));
            } catch (IOException | ImageException | RegistryException e) {
                String message = e.getMessage() != null ? e.getMessage() : e.toString();
                if (counted.count == 0) {
                    // Nothing shown yet: dockerd's error answer, which the CLI prints as "Error response from daemon".
                    throw new ApiException(e instanceof ImageException ie ? ApiException.of(ie).status()
                            : e instanceof RegistryException re && re.status() == 404 ? 404 : 500, message);
                }
                progress.error(message);
            }
            out.flush();
        });
    }

    /** Counts what goes through, to tell whether a stream has shown anything yet. */
    private static final class CountingStream extends FilterOutputStream {
        long count;

        CountingStream(OutputStream out) {
            super(out);
        }

        @Override
        public void write(int b) throws IOException {
            out.write(b);
            count++;
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
            count += len;
        }

        /** Nothing is sent before the first byte, so that a failure before it is still an error answer. */
        @Override
        public void flush() throws IOException {
            if (count > 0) {
                out.flush();
            }
        }
    }

    /** An image's id, or null when the store has no such image (the {@code ancestor} filter of containers). */
    String idOf(String nameOrId) {
        try {
            return images.find(nameOrId).map(i -> i.id().toString()).orElse(null);
        } catch (IOException | ImageException e) {
            return null;
        }
    }

    /** dockerd's image list: one entry per image, with every name that points at it. */
    private ApiResponse list(ApiRequest r) throws ApiException, IOException {
        Filters f = Filters.parse(r, LIST_FILTERS);
        List<ImageSummary> all;
        try {
            all = images.list();
        } catch (ImageException e) {
            throw ApiException.of(e);
        }
        Map<Digest, ObjectNode> byId = new LinkedHashMap<>();
        for (ImageSummary s : all) {
            ObjectNode o = byId.computeIfAbsent(s.id(), id -> summary(s.id(), s.created(), s.size()));
            if (s.reference() != null) {
                addName(o, s.reference());
            }
        }
        ArrayNode out = EngineApi.JSON.createArrayNode();
        for (ObjectNode o : byId.values()) {
            boolean dangling = o.get("RepoTags").isEmpty();
            if (f.any("dangling", v -> Boolean.parseBoolean(v) == dangling)
                    && f.any("reference", v -> referenced(o, v))) {
                out.add(o);
            }
        }
        return ApiResponse.ok(out);
    }

    /**
     * dockerd's {@code image.Summary}, without names yet; {@code Containers} and {@code SharedSize}
     * are -1 (not counted), as in dockerd's list, until {@code system df} counts them.
     */
    static ObjectNode summary(Digest id, Instant created, long size) {
        ObjectNode o = EngineApi.JSON.createObjectNode();
        o.put("Containers", -1);
        o.put("Created", created == null ? 0 : created.getEpochSecond());
        o.put("Id", id.toString());
        o.putObject("Labels");
        o.put("ParentId", "");
        o.putArray("RepoDigests");
        o.putArray("RepoTags");
        o.put("SharedSize", -1);
        o.put("Size", size);
        return o;
    }

    /** Adds a name to an image's {@link #summary}: a digest reference to its RepoDigests, a tag to its RepoTags. */
    static void addName(ObjectNode summary, Reference ref) {
        ((ArrayNode) summary.get(ref.isDigest() ? "RepoDigests" : "RepoTags")).add(ref.familiar());
    }

    /** The {@code reference} filter: a repository, or a repository and tag, as docker shows them. */
    private static boolean referenced(ObjectNode image, String filter) {
        for (var tag : image.get("RepoTags")) {
            String t = tag.textValue();
            if (t.equals(filter) || t.substring(0, t.lastIndexOf(':')).equals(filter)) {
                return true;
            }
        }
        return false;
    }

    /**
     * dockerd's image JSON (the fields Vessel knows). The built-in busybox is made when first asked
     * for, as {@code run} makes it: a client that inspects before it runs (Testcontainers) finds it.
     */
    private ApiResponse inspect(ApiRequest r) throws ApiException, IOException {
        Image img;
        try {
            img = images.resolveOrBuiltin(r.variable("name"));
        } catch (ImageException e) {
            throw ApiException.of(e);
        }
        ImageConfig cfg = img.config();
        ImageConfig.Config run = cfg.runConfig();
        ObjectNode o = EngineApi.JSON.createObjectNode();
        o.put("Id", img.id().toString());
        ArrayNode tags = o.putArray("RepoTags");
        ArrayNode digests = o.putArray("RepoDigests");
        for (Reference ref : img.references()) {
            (ref.isDigest() ? digests : tags).add(ref.familiar());
        }
        o.put("Parent", "");
        o.put("Comment", "");
        o.put("Created", cfg.createdAt().map(Instant::toString).orElse(""));
        o.put("DockerVersion", "");
        o.put("Author", cfg.author() == null ? "" : cfg.author());
        ObjectNode c = o.putObject("Config");
        c.put("User", nullToEmpty(run.user()));
        ObjectNode exposed = c.putObject("ExposedPorts");
        cfg.exposedPorts().forEach(p -> exposed.putObject(p));
        c.set("Env", EngineApi.JSON.valueToTree(cfg.env()));
        c.set("Cmd", run.cmd() == null ? null : EngineApi.JSON.valueToTree(run.cmd()));
        c.set("Entrypoint", run.entrypoint() == null ? null : EngineApi.JSON.valueToTree(run.entrypoint()));
        c.put("WorkingDir", nullToEmpty(run.workingDir()));
        c.set("Labels", EngineApi.JSON.valueToTree(cfg.labels()));
        o.put("Architecture", nullToEmpty(cfg.architecture()));
        o.put("Os", nullToEmpty(cfg.os()));
        o.put("Size", img.size());
        ObjectNode rootfs = o.putObject("RootFS");
        rootfs.put("Type", "layers");
        ArrayNode layers = rootfs.putArray("Layers");
        img.diffIds().forEach(d -> layers.add(d.toString()));
        o.putObject("Metadata").put("LastTagTime", "0001-01-01T00:00:00Z");
        return ApiResponse.ok(o);
    }

    /** {@code POST /images/{name}/tag?repo=R&tag=T}: 201 without a body, as dockerd. */
    private ApiResponse tag(ApiRequest r) throws ApiException, IOException {
        String repo = r.param("repo");
        if (repo == null || repo.isEmpty()) {
            throw ApiException.badRequest("repository name must have at least one component");
        }
        String tag = r.param("tag");
        String target = tag == null || tag.isEmpty() ? repo : repo + ":" + tag;
        try {
            images.tag(r.variable("name"), target);
        } catch (ImageException e) {
            throw ApiException.of(e);
        }
        return new ApiResponse.Empty(201);
    }

    /** {@code DELETE /images/{name}[?force=1]}: what was untagged and deleted, as dockerd lists it. */
    private ApiResponse remove(ApiRequest r) throws ApiException, IOException {
        RemoveResult result;
        try {
            result = images.remove(r.variable("name"), r.flag("force"), containers.imageUsers());
        } catch (ImageException e) {
            throw ApiException.of(e);
        }
        ArrayNode out = EngineApi.JSON.createArrayNode();
        result.untagged().forEach(u -> out.addObject().put("Untagged", u));
        result.deleted().forEach(d -> out.addObject().put("Deleted", d.toString()));
        return ApiResponse.ok(out);
    }

    /**
     * {@code docker image prune}: the dangling images ({@code dangling=true}, the default) or every
     * image ({@code dangling=false}, {@code -a}) that no container uses and the {@code until},
     * {@code label} and {@code label!} filters pick; answers what was untagged and deleted (null
     * for nothing, as Go encodes an empty list) and the bytes freed.
     */
    private ApiResponse prune(ApiRequest r) throws ApiException, IOException {
        Filters f = Filters.parse(r, PruneFilter.IMAGE_KEYS);
        PruneFilter filter;
        boolean danglingOnly;
        try {
            filter = PruneFilter.forImages(f.values(), Instant.now());
            danglingOnly = PruneFilter.danglingOnly(f.values());
        } catch (IllegalArgumentException e) {
            throw ApiException.badRequest(e.getMessage());
        }
        ImageStore.PruneResult result;
        try {
            result = images.prune(danglingOnly, filter::matches, containers.imageUsers());
        } catch (ImageException e) {
            throw ApiException.of(e);
        }
        ObjectNode o = EngineApi.JSON.createObjectNode();
        if (result.removed().isEmpty()) {
            o.putNull("ImagesDeleted");
        } else {
            ArrayNode deleted = o.putArray("ImagesDeleted");
            for (RemoveResult removed : result.removed()) {
                removed.untagged().forEach(u -> deleted.addObject().put("Untagged", u));
                removed.deleted().forEach(d -> deleted.addObject().put("Deleted", d.toString()));
            }
        }
        o.put("SpaceReclaimed", result.reclaimed());
        return ApiResponse.ok(o);
    }

    /**
     * {@code docker save}: {@code GET /images/get?names=A&names=B} or {@code GET /images/NAME/get},
     * the archive as it is written ({@link ImageStore#save}). The images are resolved when the
     * answer starts, so an unknown one is dockerd's 404 before any byte of the archive.
     */
    private ApiResponse save(ApiRequest r) throws ApiException {
        List<String> names = r.variable("name") != null ? List.of(r.variable("name")) : r.query().getOrDefault("names", List.of());
        if (names.isEmpty()) {
            throw ApiException.badRequest("no image names given: names=IMAGE");
        }
        checkPlatform(r);
        return new ApiResponse.Stream(200, "application/x-tar", body -> {
            ArchiveWriter archive;
            try {
                archive = images.save(names);
            } catch (ImageException e) {
                throw ApiException.of(e);
            }
            try (archive) {
                archive.write(body);
            }
        });
    }

    /**
     * {@code docker load}: the archive is the request body, read as it arrives; dockerd's JSON
     * messages answer it ({@code {"stream":"Loaded image: busybox:latest\n"}}), and a failure is
     * the stream's last message, as dockerd ends it (the CLI prints it and exits 1). Nothing of a
     * failed archive is kept. {@code quiet} only quiets dockerd's progress bars, which Vessel has not.
     */
    private ApiResponse load(ApiRequest r) throws ApiException {
        checkPlatform(r);
        InputStream archive = r.bodyInput();
        return new ApiResponse.Stream(200, "application/json", body -> {
            PrintStream out = new PrintStream(body, false, StandardCharsets.UTF_8);
            try {
                for (ArchiveLoader.Loaded l : images.load(archive, "from the request body")) {
                    message(out, EngineApi.JSON.createObjectNode().put("stream", l.message() + "\n"));
                }
            } catch (IOException | ImageException e) {
                String m = e.getMessage() != null ? e.getMessage() : e.toString();
                ObjectNode o = EngineApi.JSON.createObjectNode();
                o.putObject("errorDetail").put("message", m);
                message(out, o.put("error", m));
            }
        });
    }

    /** One of dockerd's JSON messages, sent at once. */
    private static void message(PrintStream out, ObjectNode o) {
        out.print(o + "\r\n");
        out.flush();
    }

    /**
     * The {@code platform} of save and load (API 1.48: an OCI platform as JSON, as the CLI sends
     * it): Vessel's images are linux/amd64, so only that one (or none) is served.
     */
    private static void checkPlatform(ApiRequest r) throws ApiException {
        for (String p : r.query().getOrDefault("platform", List.of())) {
            if (p.isEmpty()) {
                continue;
            }
            JsonNode n;
            try {
                n = EngineApi.JSON.readTree(p);
            } catch (IOException e) {
                throw ApiException.badRequest("failed to parse platform: " + p);
            }
            String os = n == null ? "" : n.path("os").asText("");
            String arch = n == null ? "" : n.path("architecture").asText("");
            if (n == null || !n.isObject() || !(os.isEmpty() || os.equals("linux")) || !(arch.isEmpty() || arch.equals("amd64"))) {
                throw ApiException.badRequest("platform " + p + " is not supported: Vessel has linux/amd64 images only");
            }
        }
    }

    private static String nullToEmpty(String s) {
        return s == null ? "" : s;
    }
}
