package dev.vessel.registry;

import org.junit.jupiter.api.Test;

import java.net.URI;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EndpointTest {
    @Test
    void dockerHubAndOthers() {
        Endpoint hub = Endpoint.of("docker.io", Set.of());
        assertEquals(URI.create("https://registry-1.docker.io/v2/"), hub.uri("/v2/"));
        assertEquals("https://index.docker.io/v1/", hub.authKey());
        Endpoint other = Endpoint.of("r.example:5000", Set.of());
        assertEquals(URI.create("https://r.example:5000/v2/"), other.uri("/v2/"));
        assertEquals("r.example:5000", other.authKey());
    }

    @Test
    void plainHttpOnlyOnLoopbackOrWhenListed() {
        assertTrue(Endpoint.of("127.0.0.1:5000", Set.of()).plainHttp());
        assertTrue(Endpoint.of("127.9.8.7", Set.of()).plainHttp());
        assertTrue(Endpoint.of("localhost:5000", Set.of()).plainHttp());
        assertTrue(Endpoint.of("[::1]:5000", Set.of()).plainHttp());
        assertFalse(Endpoint.of("128.0.0.1:5000", Set.of()).plainHttp());
        assertFalse(Endpoint.of("localhost.example:5000", Set.of()).plainHttp());
        assertFalse(Endpoint.of("10.0.0.5:5000", Set.of()).plainHttp());
        assertTrue(Endpoint.of("10.0.0.5:5000", Set.of("10.0.0.5:5000")).plainHttp());
        assertFalse(Endpoint.of("10.0.0.5:5001", Set.of("10.0.0.5:5000")).plainHttp());
    }

    @Test
    void sameOriginComparesSchemeHostAndPort() {
        assertTrue(RegistryClient.sameOrigin(URI.create("https://a/x"), URI.create("https://A:443/y")));
        assertFalse(RegistryClient.sameOrigin(URI.create("https://a/x"), URI.create("https://b/x")));
        assertFalse(RegistryClient.sameOrigin(URI.create("http://a/x"), URI.create("https://a/x")));
        assertFalse(RegistryClient.sameOrigin(URI.create("http://a:1/x"), URI.create("http://a:2/x")));
    }
}
