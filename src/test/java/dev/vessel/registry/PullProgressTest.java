package dev.vessel.registry;

import dev.vessel.image.Descriptor;
import dev.vessel.image.Digest;
import dev.vessel.image.ImageIndex;
import dev.vessel.image.MediaTypes;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PullProgressTest {
    @Test
    void humanSizesLikeDocker() {
        assertEquals("512B", PullProgress.human(512));
        assertEquals("1.234MB", PullProgress.human(1_234_000));
        assertEquals("5MB", PullProgress.human(5_000_000));
        assertEquals("31.72MB", PullProgress.human(31_721_000));
        assertEquals("1.1GB", PullProgress.human(1_100_000_000L));
    }

    @Test
    void bar() {
        String b = PullProgress.bar(1_200_000, 5_000_000);
        assertTrue(b.startsWith("[============>"), b);
        assertTrue(b.endsWith("]  1.2MB/5MB"), b);
        assertEquals(50 + 2, b.indexOf(']') + 1);
    }

    @Test
    void jsonIsTheEngineApisProgressMessages() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PullProgress p = new PullProgress(new PrintStream(out, true, StandardCharsets.UTF_8), PullProgress.Mode.JSON);
        p.line("latest: Pulling from library/busybox");
        p.status("a3ed95caeb02", "Pull complete");
        p.downloading("a3ed95caeb02", 1_200_000, 5_000_000);
        p.error("manifest \"x\" unknown");
        String[] lines = out.toString(StandardCharsets.UTF_8).split("\r\n");
        assertEquals("{\"status\":\"latest: Pulling from library/busybox\"}", lines[0]);
        assertEquals("{\"status\":\"Pull complete\",\"id\":\"a3ed95caeb02\"}", lines[1]);
        assertEquals("{\"status\":\"Downloading\",\"progressDetail\":{\"current\":1200000,\"total\":5000000},\"progress\":\""
                + PullProgress.bar(1_200_000, 5_000_000) + "\",\"id\":\"a3ed95caeb02\"}", lines[2]);
        assertEquals("{\"errorDetail\":{\"message\":\"manifest \\\"x\\\" unknown\"},\"error\":\"manifest \\\"x\\\" unknown\"}", lines[3]);
    }

    @Test
    void plainPrintsStatusChangesOnlyAndQuietNothing() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PullProgress p = new PullProgress(new PrintStream(out, true, StandardCharsets.UTF_8), PullProgress.Mode.PLAIN);
        p.status("abc", "Pulling fs layer");
        p.downloading("abc", 1, 2);
        p.status("abc", "Pull complete");
        assertEquals("abc: Pulling fs layer\nabc: Pull complete\n", out.toString(StandardCharsets.UTF_8));
        ByteArrayOutputStream q = new ByteArrayOutputStream();
        PullProgress quiet = new PullProgress(new PrintStream(q, true, StandardCharsets.UTF_8), PullProgress.Mode.QUIET);
        quiet.line("x");
        quiet.status("a", "b");
        assertEquals("", q.toString(StandardCharsets.UTF_8));
    }

    @Test
    void terminalRewritesTheLayersLine() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PullProgress p = new PullProgress(new PrintStream(out, true, StandardCharsets.UTF_8), PullProgress.Mode.TERMINAL);
        p.status("a", "Pulling fs layer");
        p.status("b", "Pulling fs layer");
        p.status("a", "Pull complete");
        assertEquals("a: Pulling fs layer\nb: Pulling fs layer\n\033[2A\r\033[2Ka: Pull complete\r\033[2B",
                out.toString(StandardCharsets.UTF_8));
    }

    @Test
    void choosesAmd64SkippingAttestationsAndNestedIndexes() {
        Digest a = Digest.of(new byte[] {1});
        Digest b = Digest.of(new byte[] {2});
        Digest c = Digest.of(new byte[] {3});
        Digest d = Digest.of(new byte[] {4});
        ImageIndex ix = ImageIndex.of(List.of(
                new Descriptor(MediaTypes.OCI_MANIFEST, a, 1, null, Map.of("vnd.docker.reference.type", "attestation-manifest"),
                        new Descriptor.Platform("amd64", "linux", null), null),
                new Descriptor(MediaTypes.OCI_MANIFEST, b, 1, null, null, new Descriptor.Platform("unknown", "unknown", null), null),
                new Descriptor(MediaTypes.OCI_INDEX, d, 1, null, null, new Descriptor.Platform("amd64", "linux", null), null),
                new Descriptor(MediaTypes.OCI_MANIFEST, c, 1, null, null, new Descriptor.Platform("amd64", "linux", null), null)));
        assertEquals(c, Puller.choose(ix).orElseThrow().digest());
    }

    @Test
    void registryErrorsAndRanges() throws Exception {
        assertEquals("manifest unknown: manifest unknown", RegistryClient.errorText(new ByteArrayInputStream(
                "{\"errors\":[{\"code\":\"MANIFEST_UNKNOWN\",\"message\":\"manifest unknown\"}]}".getBytes(StandardCharsets.UTF_8))));
        assertEquals(null, RegistryClient.errorText(new ByteArrayInputStream("<html>".getBytes(StandardCharsets.UTF_8))));
        assertEquals("denied: a?b", RegistryClient.errorText(new ByteArrayInputStream(
                "{\"errors\":[{\"code\":\"DENIED\",\"message\":\"a\\u001bb\"}]}".getBytes(StandardCharsets.UTF_8))));
        assertEquals(100, RegistryClient.rangeStart("bytes 100-199/200"));
        assertEquals(-1, RegistryClient.rangeStart("items 1-2/3"));
    }
}
