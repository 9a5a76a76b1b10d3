package dev.vessel.network.ports;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

/** docker's {@code -p} forms, and docker's answers to the ones it refuses. */
class PortBindingTest {
    @Test
    void theFormsDockerTakes() {
        assertEquals(List.of(new PortBinding("", 0, 80, "tcp")), PortBinding.parse("80"));
        assertEquals(List.of(new PortBinding("", 8080, 80, "tcp")), PortBinding.parse("8080:80"));
        assertEquals(List.of(new PortBinding("", 5353, 53, "udp")), PortBinding.parse("5353:53/udp"));
        assertEquals(List.of(new PortBinding("127.0.0.1", 8080, 80, "tcp")), PortBinding.parse("127.0.0.1:8080:80"));
        assertEquals(List.of(new PortBinding("127.0.0.1", 0, 80, "tcp")), PortBinding.parse("127.0.0.1::80"));
        assertEquals(List.of(new PortBinding("", 0, 53, "udp")), PortBinding.parse("53/UDP"));
        assertEquals(List.of(new PortBinding("", 8000, 80, "tcp"), new PortBinding("", 8001, 81, "tcp")),
                PortBinding.parse("8000-8001:80-81"));
        assertEquals(List.of(new PortBinding("", 0, 80, "tcp")), PortBinding.parse("0.0.0.0::80"), "0.0.0.0 is all");
    }

    @Test
    void howDockerShowsThem() {
        PortBinding b = PortBinding.parse("127.0.0.1:8080:80").getFirst();
        assertEquals("127.0.0.1:8080->80/tcp", b.toString());
        assertEquals("0.0.0.0:32768->53/udp", PortBinding.parse("53/udp").getFirst().withHostPort(32768).toString());
        assertEquals("80/tcp", b.containerKey());
        assertEquals(new PortBinding("", 0, 8080, "tcp"), PortBinding.exposed("8080"));
        assertEquals(new PortBinding("", 0, 53, "udp"), PortBinding.exposed("53/udp"));
    }

    @Test
    void refusedWithDockersWords() {
        String[][] cases = {
            {"", "invalid containerPort: "},
            {"abc", "invalid containerPort: abc"},
            {"0", "invalid containerPort: 0"},
            {"70000", "invalid containerPort: 70000"},
            {"8080:", "invalid containerPort: "},
            {"x:80", "invalid hostPort: x"},
            {"80/sctp", "invalid proto: sctp"},
            {"1.2.3:80:80", "invalid IP address: 1.2.3"},
            {"8000-8002:80-81", "invalid ranges specified for container and host Ports: 80-81 and 8000-8002"},
            {"81-80", "invalid containerPort: 81-80"},
        };
        for (String[] c : cases) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PortBinding.parse(c[0]), c[0]);
            assertEquals(c[1], e.getMessage(), c[0]);
        }
    }
}
