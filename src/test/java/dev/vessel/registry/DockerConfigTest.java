package dev.vessel.registry;

import dev.vessel.image.Json;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DockerConfigTest {
    @TempDir
    Path dir;

    @Test
    void storeLookupRemoveKeepsOtherSections() throws Exception {
        Path f = dir.resolve(".docker/config.json");
        Files.createDirectories(f.getParent());
        Files.writeString(f, "{\"auths\":{\"other.example\":{\"auth\":\"eDp5\"}},\"psFormat\":\"table\"}");
        DockerConfig c = new DockerConfig(f);
        Endpoint hub = Endpoint.of("docker.io", Set.of());
        Endpoint local = Endpoint.of("127.0.0.1:5000", Set.of());
        c.store(hub, "me", "pa:ss");
        c.store(local, "you", "pw");
        assertEquals(Credentials.basic("me", "pa:ss"), c.lookup(hub));
        assertEquals(Credentials.basic("you", "pw"), c.lookup(local));
        assertEquals(Credentials.basic("x", "y"), c.lookup(Endpoint.of("other.example", Set.of())));
        var root = Json.MAPPER.readTree(Files.readAllBytes(f));
        assertTrue(root.get("auths").has("https://index.docker.io/v1/"), root.toString());
        assertEquals("table", root.get("psFormat").asText());
        assertEquals(PosixFilePermissions.fromString("rw-------"), Files.getPosixFilePermissions(f));
        assertTrue(c.remove(hub));
        assertFalse(c.remove(hub));
        assertNull(c.lookup(hub));
        assertEquals(Credentials.basic("you", "pw"), c.lookup(local));
    }

    @Test
    void urlKeysTokensAndMissingFile() throws Exception {
        Path f = dir.resolve("config.json");
        DockerConfig c = new DockerConfig(f);
        assertNull(c.lookup(Endpoint.of("r.example", Set.of())));
        Files.writeString(f, "{\"auths\":{\"https://r.example/v2/\":{\"identitytoken\":\"refresh\"},\"t.example\":{\"registrytoken\":\"tok\"}}}");
        assertEquals("refresh", c.lookup(Endpoint.of("r.example", Set.of())).identityToken());
        assertEquals("tok", c.lookup(Endpoint.of("t.example", Set.of())).registryToken());
    }

    @Test
    void malformedIsAClearError() throws Exception {
        Path f = dir.resolve("config.json");
        Files.writeString(f, "{\"auths\":{\"r.example\":{\"auth\":\"!!!\"}}}");
        RegistryException e = assertThrows(RegistryException.class, () -> new DockerConfig(f).lookup(Endpoint.of("r.example", Set.of())));
        assertTrue(e.getMessage().contains("not base64"), e.getMessage());
        Files.writeString(f, "{not json");
        assertThrows(RegistryException.class, () -> new DockerConfig(f).lookup(Endpoint.of("r.example", Set.of())));
    }
}
