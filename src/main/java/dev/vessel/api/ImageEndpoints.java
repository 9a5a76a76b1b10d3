package dev.vessel.api;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.vessel.container.ContainerService;
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
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/** The image endpoints over the image store: list, inspect, remove, tag. */
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
                .add("GET", "/images/{name*}/json", this::inspect)
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
            ObjectNode o = byId.computeIfAbsent(s.id(), id -> entry(s));
            if (s.reference() != null) {
                if (s.reference().isDigest()) {
                    ((ArrayNode) o.get("RepoDigests")).add(s.reference().familiar());
                } else {
                    ((ArrayNode) o.get("RepoTags")).add(s.reference().familiar());
                }
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

    private static ObjectNode entry(ImageSummary s) {
        ObjectNode o = EngineApi.JSON.createObjectNode();
        o.put("Containers", -1);
        o.put("Created", s.created() == null ? 0 : s.created().getEpochSecond());
        o.put("Id", s.id().toString());
        o.putObject("Labels");
        o.put("ParentId", "");
        o.putArray("RepoDigests");
        o.putArray("RepoTags");
        o.put("SharedSize", -1);
        o.put("Size", s.size());
        return o;
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

    private static String nullToEmpty(String s) {
        return s == null ? "" : s;
    }
}
