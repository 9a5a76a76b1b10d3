package dev.vessel.image;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.EdgeCasesMode;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static net.jqwik.api.Tuple.of;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Manifests, image configs and indexes come from registries and archives: any bytes are either a
 * document that keeps the documented promises or an InvalidImageException (never another
 * exception), and a document Vessel writes reads back equal.
 */
class ImageJsonProperties {
    private static final String HEX = "0123456789abcdef";
    private static final List<String> KEYS = List.of("schemaVersion", "mediaType", "config", "layers", "manifests",
            "annotations", "digest", "size", "urls", "platform", "architecture", "os", "variant", "artifactType",
            "rootfs", "type", "diff_ids", "history", "created", "created_by", "empty_layer", "Env", "Cmd", "Entrypoint",
            "ExposedPorts", "Volumes", "Labels", "User", "WorkingDir", "StopSignal");
    private static final List<String> MEDIA_TYPES = List.of(MediaTypes.OCI_MANIFEST, MediaTypes.DOCKER_MANIFEST,
            MediaTypes.OCI_INDEX, MediaTypes.DOCKER_MANIFEST_LIST, MediaTypes.OCI_CONFIG, MediaTypes.DOCKER_CONFIG,
            MediaTypes.OCI_LAYER_GZIP, "text/plain", "");

    // ---------------------------------------------------------------------------------------------
    // Any bytes: a document or the documented exception

    @Property(tries = 1000)
    void manifestsAreCheckedOrRefused(@ForAll("manifestLike") byte[] bytes) {
        Manifest m;
        try {
            m = Manifest.parse(bytes, null, "manifest");
        } catch (InvalidImageException e) {
            assertNotNull(e.getMessage());
            return;
        }
        assertEquals(2, m.schemaVersion());
        assertFalse(MediaTypes.isIndex(m.mediaType()));
        assertNotNull(m.config());
        assertNotNull(m.config().digest());
        for (Descriptor l : m.layers()) {
            assertNotNull(l.digest());
            assertTrue(l.size() >= 0);
        }
    }

    @Property(tries = 1000)
    void indexesAreCheckedOrRefused(@ForAll("indexLike") byte[] bytes) {
        ImageIndex ix;
        try {
            ix = ImageIndex.parse(bytes, "index");
        } catch (InvalidImageException e) {
            assertNotNull(e.getMessage());
            return;
        }
        assertEquals(2, ix.schemaVersion());
        for (Descriptor d : ix.manifests()) {
            assertNotNull(d.digest());
        }
        ix.selectPlatform("linux", "amd64"); // never throws on what parsed
    }

    @Property(tries = 1000)
    void configsAreCheckedOrRefused(@ForAll("configLike") byte[] bytes) {
        ImageConfig c;
        try {
            c = ImageConfig.parse(bytes, "config");
        } catch (InvalidImageException e) {
            assertNotNull(e.getMessage());
            return;
        }
        assertEquals("layers", c.rootfs().type());
        // What the container service reads of it never throws.
        c.entrypoint();
        c.cmd();
        c.env();
        c.workingDir();
        c.user();
        c.exposedPorts();
        c.labels();
        c.diffIds();
        c.createdAt();
    }

    // ---------------------------------------------------------------------------------------------
    // What Vessel writes reads back

    @Property(tries = 300, edgeCases = EdgeCasesMode.NONE)
    void manifestsReadBack(@ForAll("manifests") Manifest m) throws Exception {
        assertEquals(m, Manifest.parse(Json.write(m), null, "manifest"));
    }

    @Property(tries = 300, edgeCases = EdgeCasesMode.NONE)
    void indexesReadBack(@ForAll("indexes") ImageIndex ix) throws Exception {
        assertEquals(ix, ImageIndex.parse(Json.write(ix), "index"));
    }

    @Property(tries = 300, edgeCases = EdgeCasesMode.NONE)
    void configsReadBack(@ForAll("configs") ImageConfig c) throws Exception {
        assertEquals(c, ImageConfig.parse(Json.write(c), "config"));
    }

    // ---------------------------------------------------------------------------------------------
    // Hostile documents

    @Provide
    Arbitrary<byte[]> manifestLike() {
        return hostile(manifests().map(Json::write), "config", "layers");
    }

    @Provide
    Arbitrary<byte[]> indexLike() {
        return hostile(indexes().map(Json::write), "manifests", "platform");
    }

    @Provide
    Arbitrary<byte[]> configLike() {
        return hostile(configs().map(Json::write), "rootfs", "config", "history");
    }

    /** Valid documents mangled, documents of random JSON over the model's keys, random bytes. */
    private Arbitrary<byte[]> hostile(Arbitrary<byte[]> valid, String... mainKeys) {
        Arbitrary<byte[]> mangled = Combinators.combine(valid, edits()).as(ImageJsonProperties::edit);
        Arbitrary<byte[]> randomDoc = Combinators.combine(Arbitraries.of(mainKeys).list().ofMaxSize(3),
                        Arbitraries.of(KEYS).list().ofMaxSize(4), json(3).list().ofMinSize(7).ofMaxSize(7),
                        Arbitraries.of("2", "1", "3", "2.0", "\"2\"", "null", "-2", "99999999999999999999"))
                .as((main, more, values, schema) -> {
                    StringBuilder b = new StringBuilder("{\"schemaVersion\":").append(schema);
                    List<String> keys = new ArrayList<>(main);
                    keys.addAll(more);
                    for (int i = 0; i < keys.size(); i++) {
                        b.append(",\"").append(keys.get(i)).append("\":").append(values.get(i));
                    }
                    return b.append('}').toString().getBytes(StandardCharsets.UTF_8);
                });
        Arbitrary<byte[]> deep = Arbitraries.integers().between(1, 5000)
                .map(n -> ("{\"layers\":" + "[".repeat(n) + "]".repeat(n) + "}").getBytes(StandardCharsets.UTF_8));
        // Edge cases of these combinations multiply into thousands: random samples only.
        return Arbitraries.frequencyOf(of(4, mangled), of(4, randomDoc), of(1, deep),
                of(1, Arbitraries.bytes().array(byte[].class).ofMaxSize(64))).withoutEdgeCases();
    }

    /** Edits of a document: at a position (modulo its length), delete some bytes or insert some text. */
    private static Arbitrary<List<Edit>> edits() {
        Arbitrary<Edit> edit = Combinators.combine(Arbitraries.integers().between(0, 4000), Arbitraries.integers().between(0, 8),
                Arbitraries.of("", "\"", "{", "}", "[", "]", ",", ":", "null", "-1", "1e999", "\"sha256:x\"", "\\u0000",
                        "\uD800", "\u00e9", "0", "true", "{\"digest\":null}", "[null]"))
                .as(Edit::new);
        return edit.list().ofMinSize(1).ofMaxSize(4);
    }

    record Edit(int at, int delete, String insert) {}

    private static byte[] edit(byte[] doc, List<Edit> edits) {
        String s = new String(doc, StandardCharsets.UTF_8);
        for (Edit e : edits) {
            int at = s.isEmpty() ? 0 : e.at() % s.length();
            int end = Math.min(s.length(), at + e.delete());
            s = s.substring(0, at) + e.insert() + s.substring(end);
        }
        return s.getBytes(StandardCharsets.UTF_8);
    }

    /** JSON text: scalars of every kind (digests and media types among the strings), arrays, objects over the model's keys. */
    private static Arbitrary<String> json(int depth) {
        Arbitrary<String> scalar = Arbitraries.oneOf(
                Arbitraries.of("null", "true", "false", "0", "-1", "2", "1.5", "1e400", "-9223372036854775809",
                        "9223372036854775807", "\"\"", "\"linux\"", "\"amd64\"", "\"layers\""),
                digest().map(d -> "\"" + d + "\""),
                Arbitraries.of(MEDIA_TYPES).map(t -> "\"" + t + "\""),
                text().map(ImageJsonProperties::quote));
        if (depth == 0) {
            return scalar;
        }
        Arbitrary<String> inner = json(depth - 1);
        Arbitrary<String> array = inner.list().ofMaxSize(3).map(l -> "[" + String.join(",", l) + "]");
        Arbitrary<String> object = Combinators.combine(Arbitraries.of(KEYS).list().ofMaxSize(4), inner.list().ofSize(4))
                .as((keys, values) -> {
                    StringBuilder b = new StringBuilder("{");
                    for (int i = 0; i < keys.size(); i++) {
                        b.append(i == 0 ? "" : ",").append('"').append(keys.get(i)).append("\":").append(values.get(i));
                    }
                    return b.append('}').toString();
                });
        return Arbitraries.frequencyOf(of(3, scalar), of(1, array), of(2, object));
    }

    private static String quote(String s) {
        return new String(Json.write(s), StandardCharsets.UTF_8);
    }

    // ---------------------------------------------------------------------------------------------
    // Valid documents

    private static Arbitrary<String> text() {
        return Arbitraries.strings().withChars("aZ09 .:/_-\"\\\n\t\u0001\u00e9\u4e2d").ofMaxLength(12);
    }

    private static Arbitrary<Digest> digest() {
        return Arbitraries.strings().withChars(HEX).ofLength(64).map(Digest::new);
    }

    private static Arbitrary<Map<String, String>> annotations() {
        return Arbitraries.maps(Arbitraries.of("org.opencontainers.image.ref.name", "io.containerd.image.name",
                "vnd.docker.reference.type", "a"), text()).ofMaxSize(3);
    }

    private static Arbitrary<Descriptor> descriptor(Arbitrary<String> mediaType) {
        Arbitrary<Descriptor.Platform> platform = Combinators.combine(Arbitraries.of("amd64", "arm64", "unknown"),
                Arbitraries.of("linux", "windows", "unknown"), Arbitraries.of("v8").injectNull(0.7))
                .as(Descriptor.Platform::new).injectNull(0.5);
        return Combinators.combine(mediaType, digest(), Arbitraries.longs().between(0, Long.MAX_VALUE),
                        text().list().ofMaxSize(2), annotations(), platform, Arbitraries.of("application/x").injectNull(0.8))
                .as(Descriptor::new);
    }

    @Provide
    Arbitrary<Manifest> manifests() {
        Arbitrary<String> configType = Arbitraries.of(MediaTypes.OCI_CONFIG, MediaTypes.DOCKER_CONFIG).injectNull(0.2);
        Arbitrary<String> layerType = Arbitraries.of(MediaTypes.OCI_LAYER_GZIP, MediaTypes.DOCKER_LAYER_GZIP,
                MediaTypes.OCI_LAYER_ZSTD, "application/x-unknown").injectNull(0.1);
        return Combinators.combine(Arbitraries.of(MediaTypes.OCI_MANIFEST, MediaTypes.DOCKER_MANIFEST).injectNull(0.2),
                        descriptor(configType), descriptor(layerType).list().ofMaxSize(4), annotations())
                .as((mt, config, layers, ann) -> new Manifest(2, mt, config, layers, ann));
    }

    @Provide
    Arbitrary<ImageIndex> indexes() {
        return Combinators.combine(Arbitraries.of(MediaTypes.OCI_INDEX, MediaTypes.DOCKER_MANIFEST_LIST).injectNull(0.2),
                        descriptor(Arbitraries.of(MediaTypes.OCI_MANIFEST, MediaTypes.DOCKER_MANIFEST).injectNull(0.2))
                                .list().ofMaxSize(4),
                        annotations())
                .as((mt, manifests, ann) -> new ImageIndex(2, mt, manifests, ann));
    }

    @Provide
    Arbitrary<ImageConfig> configs() {
        Arbitrary<List<String>> strings = text().list().ofMaxSize(3).injectNull(0.3);
        Arbitrary<ImageConfig.Config> run = Combinators.combine(
                        text().injectNull(0.5),
                        Arbitraries.maps(Arbitraries.of("80/tcp", "53/udp"), Arbitraries.just((Object) Map.of())).ofMaxSize(2)
                                .injectNull(0.5),
                        strings, strings, strings,
                        Arbitraries.maps(text(), Arbitraries.just((Object) Map.of())).ofMaxSize(1).injectNull(0.7),
                        text().injectNull(0.5),
                        Arbitraries.maps(text(), text()).ofMaxSize(2).injectNull(0.5))
                .as((user, ports, env, entrypoint, cmd, volumes, workdir, labels) ->
                        new ImageConfig.Config(user, ports, env, entrypoint, cmd, volumes, workdir, labels, null))
                .injectNull(0.2);
        Arbitrary<ImageConfig.History> history = Combinators.combine(text().injectNull(0.5), text().injectNull(0.5),
                        text().injectNull(0.8), Arbitraries.of(true, false).injectNull(0.5))
                .as(ImageConfig.History::new);
        return Combinators.combine(Arbitraries.of("2024-01-02T03:04:05Z", "2024-01-02T03:04:05.123456789+01:00", "x")
                                .injectNull(0.3),
                        text().injectNull(0.7), Arbitraries.of("amd64", "arm64"), Arbitraries.of("linux"),
                        run, digest().list().ofMaxSize(4), history.list().ofMaxSize(3).injectNull(0.3))
                .as((created, author, arch, os, config, diffIds, hist) ->
                        new ImageConfig(created, author, arch, null, os, config, new ImageConfig.RootFs("layers", diffIds), hist));
    }
}
