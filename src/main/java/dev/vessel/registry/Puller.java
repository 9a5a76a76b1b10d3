package dev.vessel.registry;

import com.fasterxml.jackson.databind.JsonNode;
import dev.vessel.image.Descriptor;
import dev.vessel.image.Digest;
import dev.vessel.image.DigestMismatchException;
import dev.vessel.image.Image;
import dev.vessel.image.ImageConfig;
import dev.vessel.image.ImageException;
import dev.vessel.image.ImageIndex;
import dev.vessel.image.ImageStore;
import dev.vessel.image.Ingest;
import dev.vessel.image.InvalidImageException;
import dev.vessel.image.Json;
import dev.vessel.image.LayerApplier;
import dev.vessel.image.Manifest;
import dev.vessel.image.MediaTypes;
import dev.vessel.image.Reference;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * {@code pull}: fetches an image from a registry into the store, through the same {@link Ingest}
 * as {@code load}, so it is verified the same way and lands all at once or not at all.
 *
 * <p>The manifest is negotiated (OCI or Docker, index or image manifest; from an index,
 * linux/amd64, never an attestation entry); every digest is checked: each manifest against what
 * named it, config and layer blobs as they are written, each uncompressed layer against the
 * config's {@code rootfs.diff_ids} (with the hostile-entry checks of {@link LayerApplier}). Blobs
 * the store has are not fetched; missing ones download {@value #DOWNLOADS} at a time, resuming an
 * interrupted download (this pull's or a killed earlier one's) with an HTTP range request.
 */
public final class Puller {
    /** Concurrent layer downloads (docker's default). */
    public static final int DOWNLOADS = 3;
    /** Tries per blob before giving up on a connection that keeps breaking. */
    static final int ATTEMPTS = 5;

    private final ImageStore store;
    private final DockerConfig dockerConfig;
    private final Set<String> insecure;
    private final PullProgress progress;
    private java.time.Duration stallTimeout = RegistryClient.STALL_TIMEOUT;
    private Credentials given;

    public Puller(ImageStore store, DockerConfig dockerConfig, Set<String> insecure, PullProgress progress) {
        this.store = store;
        this.dockerConfig = dockerConfig;
        this.insecure = Set.copyOf(insecure);
        this.progress = progress;
    }

    /**
     * A puller as the user's own commands pull: credentials from this user's docker
     * {@code config.json}, plain HTTP for the registries {@code VESSEL_INSECURE_REGISTRIES} names.
     */
    public static Puller standard(ImageStore store, PullProgress progress) {
        return new Puller(store, DockerConfig.standard(), Endpoint.insecureFromEnvironment(), progress);
    }

    /** Credentials the client gave with its request (the Engine API's X-Registry-Auth), over config.json's. */
    public Puller withCredentials(java.util.Optional<Credentials> given) {
        this.given = given.orElse(null);
        return this;
    }

    /** For tests: how long a download may send nothing before it is broken off (and resumed). */
    Puller withStallTimeout(java.time.Duration d) {
        stallTimeout = d;
        return this;
    }

    /**
     * What a pull did.
     *
     * @param digest   the digest of the manifest the reference names (an index's, for a multi-platform image)
     * @param upToDate whether the store already had the image under that name
     */
    public record Result(Image image, Digest digest, boolean upToDate) {}

    public Result pull(Reference ref) throws IOException, ImageException, RegistryException {
        Endpoint endpoint = Endpoint.of(ref.domain(), insecure);
        Credentials credentials = given != null ? given : dockerConfig == null ? null : dockerConfig.lookup(endpoint);
        try (RegistryClient client = new RegistryClient(endpoint, credentials, stallTimeout)) {
            return pull(client, ref);
        }
    }

    private Result pull(RegistryClient client, Reference ref) throws IOException, ImageException, RegistryException {
        String repo = ref.path();
        String name = ref.familiar();
        RegistryClient.FetchedManifest top = client.manifest(repo, ref.isDigest() ? ref.digest().toString() : ref.tag(), name);
        Digest topDigest = checkDigest(top, ref.isDigest() ? ref.digest() : null, "manifest for " + name);
        byte[] manifestBytes = top.body();
        Digest manifestDigest = topDigest;
        String mediaType = mediaTypeOf(top, "manifest " + topDigest);
        if (MediaTypes.isIndex(mediaType)) {
            ImageIndex index = ImageIndex.parse(top.body(), "index " + topDigest);
            Descriptor chosen = choose(index).orElseThrow(() -> new InvalidImageException(
                    "no matching manifest for linux/amd64 in the manifest list entries of " + name));
            RegistryClient.FetchedManifest m = client.manifest(repo, chosen.digest().toString(), name);
            manifestDigest = checkDigest(m, chosen.digest(), "manifest " + chosen.digest());
            if (m.body().length != chosen.size()) {
                throw new InvalidImageException("manifest " + chosen.digest() + ": size " + m.body().length
                        + " is not the index's " + chosen.size());
            }
            manifestBytes = m.body();
            mediaType = mediaTypeOf(m, "manifest " + manifestDigest);
            if (MediaTypes.isIndex(mediaType)) {
                throw new InvalidImageException("manifest " + manifestDigest + ": an index inside an index is not supported");
            }
        }
        Manifest manifest = Manifest.parse(manifestBytes, mediaType, "manifest " + manifestDigest);
        progress.line((ref.isDigest() ? ref.digest().toString() : ref.tag()) + ": Pulling from " + repo);

        Optional<Image> existing = store.find(ref.toString());
        if (existing.isPresent() && existing.get().manifestDigest().equals(manifestDigest)) {
            progress.line("Digest: " + topDigest);
            progress.line("Status: Image is up to date for " + name);
            pulled(ref, existing.get());
            return new Result(existing.get(), topDigest, true);
        }
        checkDescriptors(manifest);
        Image image;
        try (Ingest ingest = store.ingest()) {
            ingest.putBlob(new ByteArrayInputStream(manifestBytes), manifestDigest, manifestBytes.length, "manifest " + manifestDigest);
            Descriptor cd = manifest.config();
            if (!ingest.has(cd.digest())) {
                download(client, repo, ingest, cd, null);
            }
            ImageConfig config = ImageConfig.parse(ingest.read(cd.digest()), "config " + cd.digest());
            if (config.architecture() != null && !config.architecture().equals("amd64")) {
                throw new InvalidImageException("image " + name + " is for " + config.os() + "/" + config.architecture() + ", not linux/amd64");
            }
            List<Digest> diffIds = config.diffIds();
            if (diffIds.size() != manifest.layers().size()) {
                throw new InvalidImageException("config " + cd.digest() + " lists " + diffIds.size() + " diff_ids for "
                        + manifest.layers().size() + " layers");
            }
            fetchLayers(client, repo, ingest, manifest.layers(), diffIds);
            image = ingest.commit(manifestDigest, List.of(ref));
        }
        progress.line("Digest: " + topDigest);
        progress.line("Status: Downloaded newer image for " + name);
        pulled(ref, image);
        return new Result(image, topDigest, false);
    }

    /** dockerd's {@code pull} event, also for an image that was up to date: the reference, and its repository as the name. */
    private void pulled(Reference ref, Image image) {
        store.emit("pull", ref.familiar(), ref.familiarRepository(), image);
    }

    /** Downloads the missing layers concurrently; verifies every layer in order as its download ends. */
    private void fetchLayers(RegistryClient client, String repo, Ingest ingest, List<Descriptor> layers, List<Digest> diffIds)
            throws IOException, ImageException, RegistryException {
        Map<Digest, Boolean> present = new LinkedHashMap<>();
        for (Descriptor l : layers) {
            if (!present.containsKey(l.digest())) {
                boolean has = ingest.has(l.digest());
                present.put(l.digest(), has);
                progress.status(l.digest().shortHex(), has ? "Already exists" : "Pulling fs layer");
            }
        }
        ExecutorService pool = Executors.newFixedThreadPool(DOWNLOADS, Thread.ofPlatform().daemon(true).name("pull-", 0).factory());
        Map<Digest, Future<Void>> downloads = new LinkedHashMap<>();
        boolean badContent = true; // until proven otherwise: a broken connection keeps partials, bad content does not
        try {
            // Those beyond the first DOWNLOADS wait for a free download, as docker says (before any can start).
            int queued = 0;
            for (Map.Entry<Digest, Boolean> p : present.entrySet()) {
                if (!p.getValue() && queued++ >= DOWNLOADS) {
                    progress.status(p.getKey().shortHex(), "Waiting");
                }
            }
            for (Descriptor l : layers) {
                if (!present.get(l.digest()) && !downloads.containsKey(l.digest())) {
                    downloads.put(l.digest(), pool.submit(() -> {
                        download(client, repo, ingest, l, l.digest().shortHex());
                        return null;
                    }));
                }
            }
            LayerApplier checker = LayerApplier.checker(store.policy());
            for (int i = 0; i < layers.size(); i++) {
                Descriptor l = layers.get(i);
                Future<Void> f = downloads.get(l.digest());
                if (f != null) {
                    await(f);
                }
                ingest.verifyLayer(l, diffIds.get(i), checker);
                if (!present.get(l.digest())) {
                    progress.status(l.digest().shortHex(), "Pull complete");
                }
            }
            badContent = false;
        } catch (IOException | RegistryException e) {
            badContent = false;
            throw e;
        } finally {
            pool.shutdownNow();
            try {
                if (!pool.awaitTermination(30, TimeUnit.SECONDS)) {
                    client.close(); // a download stuck in a read: break its connection
                    pool.awaitTermination(30, TimeUnit.SECONDS);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            if (badContent) {
                for (Digest d : downloads.keySet()) {
                    ingest.discardPartial(d);
                }
            }
        }
    }

    private static void await(Future<Void> f) throws IOException, ImageException, RegistryException {
        try {
            f.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("pull interrupted");
        } catch (ExecutionException e) {
            switch (e.getCause()) {
                case IOException x -> throw x;
                case ImageException x -> throw x;
                case RegistryException x -> throw x;
                case RuntimeException x -> throw x;
                default -> throw new IOException(e.getCause());
            }
        }
    }

    /** Fetches one blob into the ingest, resuming across broken connections; verified on commit. */
    private void download(RegistryClient client, String repo, Ingest ingest, Descriptor d, String id)
            throws IOException, ImageException, RegistryException {
        try (Ingest.BlobWriter w = ingest.writer(d.digest(), d.size())) {
            byte[] buf = new byte[1 << 16];
            for (int attempt = 1; w.offset() < d.size(); attempt++) {
                if (Thread.currentThread().isInterrupted()) {
                    throw new InterruptedIOException("pull interrupted");
                }
                try (RegistryClient.BlobResponse b = client.blob(repo, d.digest(), w.offset())) {
                    if (b.offset() != w.offset()) {
                        w.restart(); // the registry sent the whole blob: start over
                    }
                    if (id != null && attempt == 1) {
                        progress.downloading(id, w.offset(), d.size());
                    }
                    InputStream in = b.body();
                    int n;
                    while ((n = in.read(buf)) > 0) {
                        w.write(buf, 0, n);
                        if (id != null) {
                            progress.downloading(id, w.offset(), d.size());
                        }
                    }
                } catch (IOException e) {
                    if (attempt >= ATTEMPTS || e instanceof InterruptedIOException || Thread.currentThread().isInterrupted()) {
                        throw new IOException("downloading " + d.digest() + ": " + e.getMessage(), e);
                    }
                    continue; // a broken connection: resume where it broke
                }
                if (w.offset() < d.size() && attempt >= ATTEMPTS) {
                    throw new IOException("downloading " + d.digest() + ": the registry kept ending the blob early ("
                            + w.offset() + " of " + d.size() + " bytes)");
                }
            }
            if (id != null) {
                progress.status(id, "Verifying Checksum");
            }
            w.commit();
            if (id != null) {
                progress.status(id, "Download complete");
            }
        }
    }

    /**
     * The entry to pull from an index: linux/amd64 (no variant, or v1), never an attestation
     * ({@code vnd.docker.reference.type} annotation or platform unknown/unknown), never a nested index.
     */
    static Optional<Descriptor> choose(ImageIndex index) {
        List<Descriptor> candidates = new ArrayList<>();
        for (Descriptor d : index.manifests()) {
            Descriptor.Platform p = d.platform();
            boolean attestation = d.annotation("vnd.docker.reference.type") != null
                    || (p != null && "unknown".equals(p.os()) && "unknown".equals(p.architecture()));
            if (!attestation && !MediaTypes.isIndex(d.mediaType())) {
                candidates.add(d);
            }
        }
        return ImageIndex.of(candidates).selectPlatform("linux", "amd64");
    }

    /** The digest of a fetched manifest, checked against what named it and what the registry says it is. */
    static Digest checkDigest(RegistryClient.FetchedManifest m, Digest expected, String what) throws DigestMismatchException {
        Digest actual = Digest.of(m.body());
        if (expected != null && !actual.equals(expected)) {
            throw new DigestMismatchException(what, expected, actual);
        }
        String header = m.contentDigest();
        if (header != null && Digest.isValid(header.strip()) && !Digest.parse(header.strip()).equals(actual)) {
            throw new DigestMismatchException(what + " (Docker-Content-Digest)", Digest.parse(header.strip()), actual);
        }
        return actual;
    }

    /** The document's own mediaType, else the Content-Type; a document with "manifests" and no type is an index. */
    static String mediaTypeOf(RegistryClient.FetchedManifest m, String what) throws InvalidImageException {
        JsonNode n;
        try {
            n = Json.MAPPER.readTree(m.body());
        } catch (IOException e) {
            throw new InvalidImageException(what + ": malformed JSON");
        }
        if (n == null || !n.isObject()) {
            throw new InvalidImageException(what + ": malformed JSON: not an object");
        }
        JsonNode mt = n.get("mediaType");
        if (mt != null && mt.isTextual()) {
            return mt.asText();
        }
        if (MediaTypes.isIndex(m.contentType()) || MediaTypes.isManifest(m.contentType())) {
            return m.contentType();
        }
        return n.has("manifests") && !n.has("layers") ? MediaTypes.OCI_INDEX : null;
    }

    /** Refuses what cannot be pulled before fetching anything big. */
    private void checkDescriptors(Manifest manifest) throws InvalidImageException {
        Descriptor cd = manifest.config();
        if (cd.size() < 0 || cd.size() > Json.MAX_DOCUMENT) {
            throw new InvalidImageException("config " + cd.digest() + ": size " + cd.size() + " is out of range (at most "
                    + Json.MAX_DOCUMENT + " bytes)");
        }
        for (Descriptor l : manifest.layers()) {
            if (MediaTypes.layerCompression(l.mediaType()) == null) {
                throw new InvalidImageException("layer " + l.digest() + ": unsupported media type "
                        + RegistryClient.printable(String.valueOf(l.mediaType())));
            }
            if (l.size() > store.policy().maxBytes()) {
                throw new InvalidImageException("layer " + l.digest() + ": size " + l.size() + " is larger than the "
                        + store.policy().maxBytes() + " bytes an image may have");
            }
        }
    }
}
