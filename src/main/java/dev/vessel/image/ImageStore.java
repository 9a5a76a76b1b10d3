package dev.vessel.image;

import dev.vessel.events.Event;
import dev.vessel.events.EventJournal;
import dev.vessel.host.DiskUsage;
import dev.vessel.host.PrivateFiles;
import dev.vessel.host.StateRoot;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Pattern;

/**
 * Vessel's image store: an OCI image layout under {@code STATE/images}, plus the root filesystem
 * disks built from its images.
 *
 * <pre>
 * images/oci-layout               {"imageLayoutVersion":"1.0.0"}
 * images/index.json               the refs: one manifest descriptor per name, annotated with
 *                                 org.opencontainers.image.ref.name = docker.io/library/busybox:latest;
 *                                 an entry without a name is a dangling image (&lt;none&gt;)
 * images/blobs/sha256/HEX         manifests, configs, layers (content-addressed, verified)
 * images/disks/ID.ext4            read-only ext4 of an image's merged rootfs, by image id (config digest)
 * images/locks/                   lock files (fcntl): index.lock, disk-ID.lock, tmp-UUID.lock
 * images/tmp/                     staging of ingests, unpacked trees, disks being built
 * </pre>
 *
 * Blobs are written (and verified) before a name can point at them, and index.json is replaced
 * atomically under {@code locks/index.lock}: a killed process never leaves a name pointing at a
 * missing blob. Garbage collection runs under the same lock.
 *
 * <p>Changes are recorded in the state root's events as dockerd records them: {@code tag},
 * {@code untag}, {@code delete}, {@code load} and {@code import} here, {@code pull} by the puller.
 */
public final class ImageStore {
    static final String REF = Descriptor.REF_NAME;
    static final String SIZE_ANNOTATION = "dev.vessel.image.size";
    static final String ID_ANNOTATION = "dev.vessel.image.id";
    private static final Pattern HEX_PREFIX = Pattern.compile("[0-9a-f]{1,64}");

    private final Path dir;
    private final BlobStore blobs;
    private final UnpackPolicy policy;
    private final EventJournal events;

    private ImageStore(Path dir, UnpackPolicy policy, EventJournal events) throws IOException {
        this.dir = dir;
        this.policy = policy;
        this.events = events;
        PrivateFiles.createDirectories(dir);
        restrict(dir);
        Path blobDir = dir.resolve("blobs").resolve("sha256");
        PrivateFiles.createDirectories(blobDir);
        PrivateFiles.createDirectories(dir.resolve("disks"));
        PrivateFiles.createDirectories(dir.resolve("locks"));
        PrivateFiles.createDirectories(dir.resolve("tmp"));
        this.blobs = new BlobStore(blobDir);
        Path layout = dir.resolve("oci-layout");
        if (!Files.exists(layout)) {
            AtomicFiles.write(layout, "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
        if (!Files.exists(dir.resolve("index.json"))) {
            try (FileLocks.Held l = FileLocks.exclusive(indexLock())) {
                if (!Files.exists(dir.resolve("index.json"))) {
                    writeIndex(List.of());
                }
            }
        }
    }

    /** The store in {@code STATE/images}, with the default unpack policy. */
    public static ImageStore open(StateRoot root) throws IOException {
        return new ImageStore(root.dir("images").toAbsolutePath(), UnpackPolicy.defaults(), EventJournal.open(root));
    }

    /** The store in {@code dir} (created if missing), which records no events: for tests and tools. */
    public static ImageStore open(Path dir, UnpackPolicy policy) throws IOException {
        return new ImageStore(dir.toAbsolutePath(), policy, EventJournal.discard());
    }

    /** Where the store's changes are recorded (the puller records its pulls there too). */
    public EventJournal events() {
        return events;
    }

    /**
     * Records an image event as dockerd does: the image's labels and {@code name} among the
     * attributes ({@code actorId} is the image's id, or the reference of a pull).
     */
    public void emit(String action, String actorId, String name, Image image) {
        Map<String, String> attributes = new HashMap<>(image == null ? Map.of() : image.config().labels());
        attributes.put("name", name);
        events.emit(Event.of(Event.IMAGE, action, actorId, attributes));
    }

    /** The store's top directory: an OCI image layout (skopeo's {@code oci:DIR:REF} reads it). */
    public Path directory() {
        return dir;
    }

    public BlobStore blobs() {
        return blobs;
    }

    public UnpackPolicy policy() {
        return policy;
    }

    Path indexLock() {
        return dir.resolve("locks").resolve("index.lock");
    }

    /**
     * The store's top directory is root's alone: unpacked trees in tmp/ can hold setuid files,
     * and no other user may reach them.
     */
    private static void restrict(Path dir) {
        try {
            Files.setAttribute(dir, "unix:mode", 0700);
        } catch (IOException | UnsupportedOperationException e) {
            // Best effort (a store on a filesystem without modes).
        }
    }

    // ---------------------------------------------------------------------------------------------
    // index.json

    /** The entries of index.json: manifest descriptors, named by their ref annotation or dangling. */
    List<Descriptor> readIndex() throws IOException {
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(dir.resolve("index.json"));
        } catch (NoSuchFileException e) {
            return List.of();
        }
        try {
            return ImageIndex.parse(bytes, "index.json of the image store " + dir).manifests();
        } catch (InvalidImageException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    /** Replaces index.json atomically. The caller holds the index lock. */
    void writeIndex(List<Descriptor> entries) throws IOException {
        AtomicFiles.write(dir.resolve("index.json"), Json.write(ImageIndex.of(entries)));
    }

    static Reference refOf(Descriptor d) {
        String n = d.annotation(REF);
        if (n == null) {
            return null;
        }
        try {
            return Reference.parse(n);
        } catch (InvalidReferenceException e) {
            return null; // a name some other tool wrote into the layout: not one of ours
        }
    }

    private Digest idOf(Descriptor entry) throws IOException {
        String id = entry.annotation(ID_ANNOTATION);
        if (id != null && Digest.isValid(id)) {
            return Digest.parse(id);
        }
        try {
            return Manifest.parse(blobs.read(entry.digest(), Json.MAX_DOCUMENT), entry.mediaType(), "manifest " + entry.digest())
                    .config().digest();
        } catch (InvalidImageException e) {
            throw new IOException(e.getMessage(), e);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Queries

    /** The image {@code nameOrId} names: a reference (normalised like docker's), a full or short image id. */
    public Image resolve(String nameOrId) throws IOException, ImageException {
        return find(nameOrId).orElseThrow(() -> new NoSuchImageException(familiar(nameOrId)));
    }

    /** Like {@link #resolve}, but an unknown name is empty (a malformed one still throws). */
    public Optional<Image> find(String nameOrId) throws IOException, ImageException {
        Optional<Descriptor> e = findEntry(readIndex(), nameOrId);
        if (e.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(image(e.get().digest()));
    }

    /**
     * {@link #resolve}, except that {@code busybox} ({@code docker.io/library/busybox:latest}) is
     * made from the host's busybox-static on first use when the store does not have it.
     */
    public Image resolveOrBuiltin(String nameOrId) throws IOException, ImageException {
        Optional<Image> found = find(nameOrId);
        if (found.isPresent()) {
            return found.get();
        }
        if (Reference.isValid(nameOrId) && Reference.parse(nameOrId).equals(BuiltinBusybox.REFERENCE)) {
            return BuiltinBusybox.create(this);
        }
        throw new NoSuchImageException(familiar(nameOrId));
    }

    /** How docker prints an unknown name in "No such image: ...": familiar, with its default tag. */
    static String familiar(String nameOrId) {
        try {
            return Reference.parse(nameOrId).familiar();
        } catch (InvalidReferenceException e) {
            return nameOrId;
        }
    }

    /** An index entry found for a name or id, and whether it was found by name. */
    private record Match(Descriptor entry, boolean byName) {}

    private Optional<Descriptor> findEntry(List<Descriptor> index, String s) throws IOException, ImageException {
        return match(index, s).map(Match::entry);
    }

    private Optional<Match> match(List<Descriptor> index, String s) throws IOException, ImageException {
        if (Digest.isValid(s)) {
            Digest id = Digest.parse(s);
            Descriptor match = null;
            for (Descriptor d : index) {
                if (idOf(d).equals(id) && (match == null || (refOf(match) == null && refOf(d) != null))) {
                    match = d;
                }
            }
            return Optional.ofNullable(match).map(d -> new Match(d, false));
        }
        InvalidReferenceException invalid = null;
        try {
            Reference ref = Reference.parse(s);
            for (Descriptor d : index) {
                Reference r = refOf(d);
                if (ref.equals(r)) {
                    return Optional.of(new Match(d, true));
                }
            }
            if (ref.isDigest()) {
                for (Descriptor d : index) {
                    Reference r = refOf(d);
                    if (d.digest().equals(ref.digest()) && r != null && r.repository().equals(ref.repository())) {
                        return Optional.of(new Match(d, true));
                    }
                }
            }
        } catch (InvalidReferenceException e) {
            invalid = e;
        }
        if (HEX_PREFIX.matcher(s).matches()) {
            Descriptor match = null;
            Digest matchId = null;
            for (Descriptor d : index) {
                Digest id = idOf(d);
                if (id.hex().startsWith(s)) {
                    if (matchId != null && !matchId.equals(id)) {
                        return Optional.empty(); // ambiguous prefix
                    }
                    if (match == null || (refOf(match) == null && refOf(d) != null)) {
                        match = d;
                    }
                    matchId = id;
                }
            }
            if (match != null) {
                return Optional.of(new Match(match, false));
            }
        }
        if (invalid != null) {
            throw invalid;
        }
        return Optional.empty();
    }

    /** The image whose manifest is {@code manifestDigest}, with every name that points at it. */
    public Image image(Digest manifestDigest) throws IOException, ImageException {
        List<Descriptor> index = readIndex();
        Descriptor entry = null;
        List<Reference> refs = new ArrayList<>();
        for (Descriptor d : index) {
            if (d.digest().equals(manifestDigest)) {
                entry = entry == null ? d : entry;
                Reference r = refOf(d);
                if (r != null) {
                    refs.add(r);
                }
            }
        }
        if (entry == null) {
            throw new NoSuchImageException(manifestDigest.toString());
        }
        return load(entry, refs);
    }

    private Image load(Descriptor entry, List<Reference> refs) throws IOException, ImageException {
        Digest md = entry.digest();
        if (!blobs.has(md)) {
            throw new InvalidImageException("image store is missing manifest " + md);
        }
        Manifest m = Manifest.parse(blobs.read(md, Json.MAX_DOCUMENT), entry.mediaType(), "manifest " + md);
        Digest cd = m.config().digest();
        ImageConfig c = ImageConfig.parse(blobs.read(cd, Json.MAX_DOCUMENT), "config " + cd);
        long size = 0;
        String s = entry.annotation(SIZE_ANNOTATION);
        if (s != null && s.matches("[0-9]{1,19}")) {
            size = Long.parseLong(s);
        } else {
            for (Descriptor l : m.layers()) {
                size += l.size();
            }
        }
        return new Image(md, m, cd, c, refs, size);
    }

    /** Every name (and every dangling image) in the store, newest first, like {@code docker images}. */
    public List<ImageSummary> list() throws IOException, ImageException {
        List<ImageSummary> out = new ArrayList<>();
        Map<Digest, Instant> created = new HashMap<>();
        for (Descriptor d : readIndex()) {
            Digest id = idOf(d);
            Instant c = created.get(id);
            if (c == null && !created.containsKey(id)) {
                c = ImageConfig.parse(blobs.read(id, Json.MAX_DOCUMENT), "config " + id).createdAt().orElse(null);
                created.put(id, c);
            }
            long size = 0;
            String s = d.annotation(SIZE_ANNOTATION);
            if (s != null && s.matches("[0-9]{1,19}")) {
                size = Long.parseLong(s);
            }
            out.add(new ImageSummary(refOf(d), d.digest(), id, c, size));
        }
        out.sort(Comparator.comparing((ImageSummary x) -> x.created() == null ? Instant.MIN : x.created()).reversed()
                .thenComparing(ImageSummary::repository).thenComparing(ImageSummary::tag));
        return out;
    }

    /**
     * One image as {@code docker system df} counts it.
     *
     * @param image the image, with every name that points at it
     * @param size what its blobs (manifests, config, layers) and its root filesystem disk take on disk
     * @param shared the part of {@code size} that its blobs shared with other images take
     */
    public record ImageUsage(Image image, long size, long shared) {}

    /** {@code docker system df}'s images, newest first, and what they take together (a shared blob once). */
    public record Usage(List<ImageUsage> images, long total) {
        public Usage {
            images = List.copyOf(images);
        }
    }

    /**
     * What the images take on disk: allocated blocks, as {@code du} counts them. An image removed
     * while this reads is left out.
     */
    public Usage diskUsage() throws IOException {
        Map<Digest, List<Descriptor>> byId = new LinkedHashMap<>();
        for (Descriptor d : readIndex()) {
            try {
                byId.computeIfAbsent(idOf(d), k -> new ArrayList<>()).add(d);
            } catch (IOException e) {
                // its manifest went meanwhile
            }
        }
        Map<Image, Set<Digest>> blobsOf = new LinkedHashMap<>();
        Map<Digest, Integer> holders = new HashMap<>();
        for (List<Descriptor> entries : byId.values()) {
            List<Reference> refs = new ArrayList<>();
            Set<Digest> own = new LinkedHashSet<>();
            for (Descriptor d : entries) {
                own.add(d.digest());
                Reference r = refOf(d);
                if (r != null) {
                    refs.add(r);
                }
            }
            Image img;
            try {
                img = load(entries.getFirst(), refs);
            } catch (IOException | ImageException e) {
                continue;
            }
            own.add(img.id());
            img.layers().forEach(l -> own.add(l.digest()));
            blobsOf.put(img, own);
            own.forEach(b -> holders.merge(b, 1, Integer::sum));
        }
        Map<Digest, Long> sizes = new HashMap<>();
        long total = 0;
        for (Digest b : holders.keySet()) {
            long n = DiskUsage.of(blobs.path(b));
            sizes.put(b, n);
            total += n;
        }
        List<ImageUsage> out = new ArrayList<>();
        for (Map.Entry<Image, Set<Digest>> e : blobsOf.entrySet()) {
            long disk = DiskUsage.of(diskPath(e.getKey()));
            long size = disk;
            long shared = 0;
            for (Digest b : e.getValue()) {
                size += sizes.get(b);
                if (holders.get(b) > 1) {
                    shared += sizes.get(b);
                }
            }
            total += disk;
            out.add(new ImageUsage(e.getKey(), size, shared));
        }
        out.sort(Comparator.comparing((ImageUsage u) -> u.image().config().createdAt().orElse(Instant.MIN)).reversed());
        return new Usage(out, total);
    }

    // ---------------------------------------------------------------------------------------------
    // Changes

    /** A session that adds blobs and then images; see {@link Ingest}. */
    public Ingest ingest() throws IOException {
        return new Ingest(this);
    }

    /** {@code docker tag SOURCE TARGET}. */
    public void tag(String source, String target) throws IOException, ImageException {
        Reference t = Reference.parse(target);
        if (t.isDigest()) {
            throw new InvalidReferenceException("refusing to create a tag with a digest reference");
        }
        Digest manifest;
        try (FileLocks.Held l = FileLocks.exclusive(indexLock())) {
            List<Descriptor> index = readIndex();
            Descriptor src = findEntry(index, source).orElseThrow(() -> new NoSuchImageException(familiar(source)));
            Descriptor named = src.withAnnotations(Map.of(REF, t.toString()));
            writeIndex(name(index, src.digest(), named, List.of(t)));
            manifest = src.digest();
        }
        Image image = imageOrNull(manifest);
        emit("tag", image != null ? image.id().toString() : manifest.toString(), t.familiar(), image);
    }

    /** The image of a manifest, or null when it cannot be read (removed meanwhile): an event goes without its labels. */
    private Image imageOrNull(Digest manifest) {
        try {
            return image(manifest);
        } catch (IOException | ImageException e) {
            return null;
        }
    }

    /**
     * The index with {@code names} pointing at the manifest {@code entry} describes. An image that
     * loses its last name stays as a dangling entry, as docker keeps it; a dangling entry of the
     * named manifest goes.
     */
    List<Descriptor> name(List<Descriptor> index, Digest manifest, Descriptor entry, List<Reference> names) throws IOException {
        Set<String> taken = new HashSet<>();
        for (Reference r : names) {
            taken.add(r.toString());
        }
        List<Descriptor> out = new ArrayList<>();
        Set<Digest> displaced = new LinkedHashSet<>();
        boolean danglingWanted = names.isEmpty();
        for (Descriptor d : index) {
            String n = d.annotation(REF);
            if (n != null && taken.contains(n)) {
                if (!d.digest().equals(manifest)) {
                    displaced.add(d.digest());
                }
                continue;
            }
            if (n == null && d.digest().equals(manifest)) {
                continue; // re-added below if still wanted
            }
            if (d.digest().equals(manifest) && n != null) {
                danglingWanted = false; // has a name already
            }
            out.add(d);
        }
        Map<String, String> clean = new HashMap<>(entry.annotations());
        clean.remove(REF);
        Descriptor base = new Descriptor(entry.mediaType(), entry.digest(), entry.size(), entry.urls(), clean, null, null);
        for (Reference r : names) {
            out.add(base.withAnnotations(Map.of(REF, r.toString())));
        }
        if (danglingWanted) {
            out.add(base);
        }
        for (Digest old : displaced) {
            boolean stillNamed = false;
            for (Descriptor d : out) {
                if (d.digest().equals(old)) {
                    stillNamed = true;
                    break;
                }
            }
            if (!stillNamed) {
                for (Descriptor d : index) {
                    if (d.digest().equals(old)) {
                        Map<String, String> a = new HashMap<>(d.annotations());
                        a.remove(REF);
                        out.add(new Descriptor(d.mediaType(), d.digest(), d.size(), d.urls(), a, null, null));
                        break;
                    }
                }
            }
        }
        return out;
    }

    /**
     * {@code docker rmi [-f] NAME|ID}: removing one of several names only untags; removing the
     * last name (or the id) deletes the image, its blobs no other image shares and its disk. A
     * container using the image (asked through {@code users}) makes that a conflict; with
     * {@code force} the names go and the image stays, dangling, for the container, except that a
     * running container's image cannot be deleted by id at all.
     */
    public RemoveResult remove(String nameOrId, boolean force, ImageUsers users) throws IOException, ImageException {
        List<String> untagged = new ArrayList<>();
        List<Digest> deleted = new ArrayList<>();
        try (FileLocks.Held l = FileLocks.exclusive(indexLock())) {
            List<Descriptor> index = readIndex();
            Match match = match(index, nameOrId).orElseThrow(() -> new NoSuchImageException(familiar(nameOrId)));
            Descriptor entry = match.entry();
            Digest id = idOf(entry);
            Reference byName = refOf(entry);
            boolean named = match.byName();
            List<Descriptor> sameImage = new ArrayList<>();
            for (Descriptor d : index) {
                if (idOf(d).equals(id)) {
                    sameImage.add(d);
                }
            }
            List<Descriptor> namedEntries = sameImage.stream().filter(d -> refOf(d) != null).toList();
            Optional<ImageUsers.Container> user = users.containerUsing(id);
            List<Descriptor> remaining = new ArrayList<>(index);
            Image before = imageOrNull(entry.digest());
            if (named) {
                if (namedEntries.size() > 1) {
                    remaining.remove(entry);
                    untagged.add(byName.familiar());
                    writeIndex(remaining);
                    emit("untag", id.toString(), id.toString(), before);
                    return new RemoveResult(untagged, deleted);
                }
                if (user.isPresent() && !force) {
                    throw new ImageConflictException("conflict: unable to remove repository reference \"" + nameOrId
                            + "\" (must force) - container " + user.get().shortId() + " is using its referenced image " + id.shortHex());
                }
            } else {
                if (user.isPresent() && user.get().running()) {
                    throw new ImageConflictException("conflict: unable to delete " + id.shortHex()
                            + " (cannot be forced) - image is being used by running container " + user.get().shortId());
                }
                if (namedEntries.size() > 1 && !force) {
                    throw new ImageConflictException("conflict: unable to delete " + id.shortHex()
                            + " (must be forced) - image is referenced in multiple repositories");
                }
                if (user.isPresent() && !force) {
                    throw new ImageConflictException("conflict: unable to delete " + id.shortHex()
                            + " (must be forced) - image is being used by stopped container " + user.get().shortId());
                }
            }
            List<Descriptor> toUntag = named ? List.of(entry) : namedEntries;
            for (Descriptor d : toUntag) {
                remaining.remove(d);
                untagged.add(refOf(d).familiar());
            }
            if (user.isPresent()) {
                // The container keeps its image: it stays as a dangling one.
                boolean hasDangling = remaining.stream().anyMatch(d -> refOf(d) == null && d.digest().equals(entry.digest()));
                if (!hasDangling) {
                    Map<String, String> a = new HashMap<>(entry.annotations());
                    a.remove(REF);
                    remaining.add(new Descriptor(entry.mediaType(), entry.digest(), entry.size(), entry.urls(), a, null, null));
                }
            } else {
                remaining.removeIf(d -> sameImage.contains(d));
                deleted.add(id);
            }
            writeIndex(remaining);
            if (!deleted.isEmpty()) {
                collect(remaining);
            }
            // dockerd names the image by its id in both.
            for (int i = 0; i < untagged.size(); i++) {
                emit("untag", id.toString(), id.toString(), before);
            }
            for (Digest d : deleted) {
                emit("delete", d.toString(), d.toString(), null);
            }
        }
        return new RemoveResult(untagged, deleted);
    }

    /**
     * What {@link #prune} did: per image removed, its names (untagged) and its id (deleted), in
     * docker's order; and the bytes that freed on disk (blobs no image shares any more, disks).
     */
    public record PruneResult(List<RemoveResult> removed, long reclaimed) {
        public PruneResult {
            removed = List.copyOf(removed);
        }
    }

    /**
     * {@code docker image prune}: removes the images without a tag ({@code danglingOnly}, the
     * default) or every image ({@code -a}) that {@code which} picks (the filters), with their
     * names, then their blobs and disks. An image a container uses is left whole, not even
     * untagged. All under the index lock: a pull or tag meanwhile waits, and is not undone.
     */
    public PruneResult prune(boolean danglingOnly, java.util.function.Predicate<Image> which, ImageUsers users)
            throws IOException, ImageException {
        List<RemoveResult> removed = new ArrayList<>();
        long reclaimed = 0;
        try (FileLocks.Held l = FileLocks.exclusive(indexLock())) {
            List<Descriptor> index = readIndex();
            Map<Digest, List<Descriptor>> byId = new LinkedHashMap<>();
            for (Descriptor d : index) {
                byId.computeIfAbsent(idOf(d), k -> new ArrayList<>()).add(d);
            }
            List<Descriptor> remaining = new ArrayList<>(index);
            for (Map.Entry<Digest, List<Descriptor>> e : byId.entrySet()) {
                List<Reference> refs = new ArrayList<>();
                for (Descriptor d : e.getValue()) {
                    Reference r = refOf(d);
                    if (r != null) {
                        refs.add(r);
                    }
                }
                // A digest reference is no tag: an image known only by one is dangling, as docker sees it.
                boolean tagged = refs.stream().anyMatch(r -> r.tag() != null);
                if ((danglingOnly && tagged) || users.containerUsing(e.getKey()).isPresent()
                        || !which.test(load(e.getValue().getFirst(), refs))) {
                    continue;
                }
                remaining.removeAll(e.getValue());
                removed.add(new RemoveResult(refs.stream().map(Reference::familiar).toList(), List.of(e.getKey())));
            }
            if (!removed.isEmpty()) {
                writeIndex(remaining);
                reclaimed = collect(remaining).bytes();
            }
        }
        for (RemoveResult r : removed) {
            for (String name : r.untagged()) {
                emit("untag", r.deleted().getFirst().toString(), name, null);
            }
            emit("delete", r.deleted().getFirst().toString(), r.deleted().getFirst().toString(), null);
        }
        return new PruneResult(removed, reclaimed);
    }

    /**
     * Deletes blobs no image in index.json reaches, disks of images no longer in it, and
     * temporary files of dead processes.
     */
    public GcResult gc() throws IOException {
        try (FileLocks.Held l = FileLocks.exclusive(indexLock())) {
            return collect(readIndex());
        }
    }

    /** GC with the index lock held. */
    private GcResult collect(List<Descriptor> index) throws IOException {
        Set<Digest> reachable = new HashSet<>();
        Set<String> ids = new HashSet<>();
        for (Descriptor d : index) {
            reachable.add(d.digest());
            try {
                Manifest m = Manifest.parse(blobs.read(d.digest(), Json.MAX_DOCUMENT), d.mediaType(), "manifest " + d.digest());
                reachable.add(m.config().digest());
                ids.add(m.config().digest().hex());
                for (Descriptor layer : m.layers()) {
                    reachable.add(layer.digest());
                }
            } catch (NoSuchFileException | InvalidImageException e) {
                // An entry another tool broke: keep what it names, collect the rest.
            }
        }
        int n = 0;
        long bytes = 0;
        for (Digest b : blobs.list()) {
            if (!reachable.contains(b)) {
                try {
                    bytes += DiskUsage.of(blobs.path(b));
                    blobs.delete(b);
                    n++;
                } catch (NoSuchFileException e) {
                    // gone already
                }
            }
        }
        int disks = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir.resolve("disks"))) {
            for (Path p : ds) {
                String f = p.getFileName().toString();
                if (f.endsWith(".ext4") && !ids.contains(f.substring(0, f.length() - 5))) {
                    bytes += DiskUsage.of(p);
                    Files.deleteIfExists(p);
                    disks++;
                }
            }
        }
        return new GcResult(n, bytes, disks, cleanTemporaries());
    }

    // ---------------------------------------------------------------------------------------------
    // Temporary areas

    /** A private directory under tmp/, held (by a lock) while its owner lives. */
    final class Temp implements AutoCloseable {
        final Path path;
        private final FileLocks.Held lock;
        private final Path lockFile;

        Temp(String kind) throws IOException {
            String uuid = UUID.randomUUID().toString();
            lockFile = dir.resolve("locks").resolve("tmp-" + uuid + ".lock");
            lock = FileLocks.exclusive(lockFile);
            path = dir.resolve("tmp").resolve(kind + "-" + uuid);
            PrivateFiles.createDirectory(path);
        }

        @Override
        public void close() throws IOException {
            try {
                AtomicFiles.deleteTree(path);
            } finally {
                Files.deleteIfExists(lockFile);
                lock.close();
            }
        }
    }

    Temp temp(String kind) throws IOException {
        return new Temp(kind);
    }

    /** A partial download (of a killed or failed pull) unused this long is not worth resuming any more. */
    static final java.time.Duration PARTIAL_MAX_AGE = java.time.Duration.ofHours(24);

    /** Deletes tmp/ entries whose owner died (its lock is free), and stale partial downloads. Returns how many. */
    private int cleanTemporaries() throws IOException {
        int n = 0;
        Pattern p = Pattern.compile("[a-z]+-([0-9a-f-]{36})");
        Pattern partial = Pattern.compile("partial-([0-9a-f]{64})");
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir.resolve("tmp"))) {
            for (Path t : ds) {
                var pm = partial.matcher(t.getFileName().toString());
                if (pm.matches()) {
                    n += cleanPartial(t, dir.resolve("locks").resolve("partial-" + pm.group(1) + ".lock"));
                    continue;
                }
                var m = p.matcher(t.getFileName().toString());
                if (!m.matches()) {
                    continue;
                }
                Path lockFile = dir.resolve("locks").resolve("tmp-" + m.group(1) + ".lock");
                FileLocks.Held held = FileLocks.tryExclusive(lockFile);
                if (held == null) {
                    continue;
                }
                try {
                    AtomicFiles.deleteTree(t);
                    Files.deleteIfExists(lockFile);
                    n++;
                } finally {
                    held.close();
                }
            }
        }
        return n;
    }

    /** Deletes a partial download that no pull holds and none has touched for {@link #PARTIAL_MAX_AGE}. */
    private static int cleanPartial(Path file, Path lockFile) throws IOException {
        try {
            if (Files.getLastModifiedTime(file).toInstant().isAfter(java.time.Instant.now().minus(PARTIAL_MAX_AGE))) {
                return 0; // a pull may still come back to it
            }
        } catch (NoSuchFileException e) {
            return 0;
        }
        FileLocks.Held held = FileLocks.tryExclusive(lockFile);
        if (held == null) {
            return 0;
        }
        try (held) {
            Files.deleteIfExists(file);
            Files.deleteIfExists(lockFile);
            return 1;
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Disks, import, load

    /** The read-only ext4 disk of the image's merged root filesystem, built on first use. */
    public Path ensureDisk(Image image) throws IOException, ImageException {
        return RootfsDisk.ensure(this, image);
    }

    /** Where the disk of {@code image} is (it may not exist yet). */
    public Path diskPath(Image image) {
        return dir.resolve("disks").resolve(image.id().hex() + ".ext4");
    }

    /**
     * {@code docker import}: a root filesystem tarball (plain, gzip or zstd) becomes a one-layer
     * image, named {@code reference} when not null, with the config changes ({@code -c}, Dockerfile
     * syntax: CMD, ENTRYPOINT, ENV, EXPOSE, USER, WORKDIR, LABEL, VOLUME, STOPSIGNAL).
     */
    public Image importRootfs(InputStream tarball, String reference, List<String> changes, String message)
            throws IOException, ImageException {
        Image image = RootfsImporter.importRootfs(this, tarball, reference, changes, message);
        emit("import", image.id().toString(), image.id().toString(), image);
        return image;
    }

    /** {@code docker load}: a docker save archive or an OCI archive (plain, gzip or zstd). */
    public List<ArchiveLoader.Loaded> load(Path archive) throws IOException, ImageException {
        List<ArchiveLoader.Loaded> loaded = ArchiveLoader.load(this, archive);
        for (ArchiveLoader.Loaded l : loaded) {
            emit("load", l.image().id().toString(), l.image().id().toString(), l.image());
        }
        return loaded;
    }

    /** {@code docker load} from a stream read once, front to back (the Engine API's request body). */
    public List<ArchiveLoader.Loaded> load(InputStream archive, String name) throws IOException, ImageException {
        List<ArchiveLoader.Loaded> loaded = ArchiveLoader.load(this, archive, name);
        for (ArchiveLoader.Loaded l : loaded) {
            emit("load", l.image().id().toString(), l.image().id().toString(), l.image());
        }
        return loaded;
    }

    /**
     * {@code docker save}: the images {@code names} stand for, resolved (a missing one fails here,
     * before anything is written) and their blobs opened now; the caller writes the archive and
     * closes the writer.
     */
    public ArchiveWriter save(List<String> names) throws IOException, ImageException {
        return ArchiveWriter.prepare(this, names);
    }

    /** The distinct image ids of an index (for tests and tools). */
    Set<Digest> ids() throws IOException {
        Set<Digest> out = new LinkedHashSet<>();
        for (Descriptor d : readIndex()) {
            out.add(idOf(d));
        }
        return out;
    }

    /** Entries by name, for tests. */
    Map<String, Digest> refs() throws IOException {
        Map<String, Digest> out = new LinkedHashMap<>();
        for (Descriptor d : readIndex()) {
            String n = d.annotation(REF);
            if (n != null) {
                out.put(n, d.digest());
            }
        }
        return out;
    }
}
