package dev.vessel.network;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class NetworkInspectTest {
    private static List<String> fields(JsonNode n) {
        List<String> out = new ArrayList<>();
        n.fieldNames().forEachRemaining(out::add);
        return out;
    }

    @Test
    void dockersFieldsInDockersOrder() throws Exception {
        String id = "ab".repeat(32);
        String container = "cd".repeat(32);
        Network n = new Network(id, "web", "bridge", Ipv4Subnet.parse("172.20.0.0/16"), Ipv4Address.parse("172.20.0.1"),
                "vb-abababababab", "2025-01-02T03:04:05.123456789Z", false, true, Map.of("team", "a"),
                Map.of(Network.OPTION_BRIDGE_NAME, "vb-abababababab"),
                Map.of(container, new Endpoint("ef".repeat(32), "site", Ipv4Address.parse("172.20.0.2"), "02:42:ac:14:00:02")));
        // Through text, as the CLI prints it.
        JsonNode j = new ObjectMapper().readTree(NetworkInspect.of(n).toString());
        assertEquals(List.of("Name", "Id", "Created", "Scope", "Driver", "EnableIPv6", "IPAM", "Internal", "Attachable",
                "Ingress", "ConfigFrom", "ConfigOnly", "Containers", "Options", "Labels"), fields(j));
        assertEquals("web", j.get("Name").asText());
        assertEquals(id, j.get("Id").asText());
        assertEquals("2025-01-02T03:04:05.123456789Z", j.get("Created").asText());
        assertEquals("local", j.get("Scope").asText());
        assertEquals("bridge", j.get("Driver").asText());
        assertEquals(false, j.get("EnableIPv6").asBoolean(true));
        assertEquals("default", j.at("/IPAM/Driver").asText());
        assertEquals(1, j.at("/IPAM/Config").size());
        assertEquals("172.20.0.0/16", j.at("/IPAM/Config/0/Subnet").asText());
        assertEquals("172.20.0.1", j.at("/IPAM/Config/0/Gateway").asText());
        assertEquals(false, j.get("Internal").asBoolean(true));
        JsonNode c = j.get("Containers").get(container);
        assertEquals(List.of("Name", "EndpointID", "MacAddress", "IPv4Address", "IPv6Address"), fields(c));
        assertEquals("site", c.get("Name").asText());
        assertEquals("ef".repeat(32), c.get("EndpointID").asText());
        assertEquals("02:42:ac:14:00:02", c.get("MacAddress").asText());
        assertEquals("172.20.0.2/16", c.get("IPv4Address").asText());
        assertEquals("", c.get("IPv6Address").asText());
        assertEquals("vb-abababababab", j.at("/Options/com.docker.network.bridge.name").asText());
        assertEquals("a", j.at("/Labels/team").asText());
    }

    @Test
    void anEmptyNetworkHasEmptyObjectsNotNulls() throws Exception {
        Network n = new Network("ab".repeat(32), "x", "bridge", Ipv4Subnet.parse("10.0.0.0/24"), Ipv4Address.parse("10.0.0.1"),
                "vb-abababababab", "2025-01-02T03:04:05Z", true, false, null, null, null);
        JsonNode j = new ObjectMapper().readTree(NetworkInspect.of(n).toString());
        for (String f : List.of("Containers", "Options", "Labels")) {
            assertEquals(true, j.get(f).isObject() && j.get(f).isEmpty(), f);
        }
        assertEquals(true, j.get("Internal").asBoolean(false));
    }
}
