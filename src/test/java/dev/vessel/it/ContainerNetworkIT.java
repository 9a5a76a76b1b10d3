package dev.vessel.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.vessel.host.HostCapabilities;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/**
 * Containers on networks, through the CLI, each a real micro-VM: published ports fetched from the
 * host's loopback (TCP and UDP), names and aliases resolved by the network's resolver, isolation
 * between networks, the host reached through {@code host-gateway}, {@code --network none}, and
 * nothing left of a network (bridge, TAPs, rules, resolver) once it and its containers are gone.
 *
 * <p>Traffic goes only to the host's loopback and to the addresses of the networks this test makes.
 */
@ExtendWith(HelperMachineExtension.class)
class ContainerNetworkIT {
    private static final Duration T = Duration.ofMinutes(4);
    private static final String NET = "vit-cnet";
    private static final String SUFFIX = "-" + ProcessHandle.current().pid();
    private static final List<String> CONTAINERS = List.of("vit-web", "vit-client", "vit-other", "vit-udp", "vit-taken",
            "vit-iso", "vit-hostgw", "vit-none");

    private static VesselCli.Result vessel(String... args) throws Exception {
        return VesselCli.run(T, null, args);
    }

    private static String ok(VesselCli.Result r) {
        assertEquals(0, r.status(), r.toString());
        return r.stdout();
    }

    private static String name(String base) {
        return base + SUFFIX;
    }

    @BeforeAll
    @AfterAll
    static void cleanUp() throws Exception {
        for (String c : CONTAINERS) {
            VesselCli.run("rm", "-f", name(c));
        }
        VesselCli.run("network", "rm", "-f", NET);
    }

    /**
     * Runs a container to its end (kept, not --rm, so that a failure can show its console), and
     * returns the result with the console's last lines appended to stderr when it exited 125.
     */
    private static VesselCli.Result runKept(String container, String... args) throws Exception {
        List<String> argv = new java.util.ArrayList<>(List.of("run", "--name", container));
        argv.addAll(List.of(args));
        VesselCli.Result r = vessel(argv.toArray(String[]::new));
        if (r.status() != 125) {
            return r;
        }
        String console = "";
        try {
            String id = new ObjectMapper().readTree(ok(vessel("inspect", container))).at("/0/Id").asText();
            List<String> lines = Files.readAllLines(VesselCli.root().resolve("containers").resolve(id).resolve("console.log"));
            console = String.join("\n", lines.subList(Math.max(0, lines.size() - 40), lines.size()));
        } catch (IOException | AssertionError e) {
            console = "(no console: " + e + ")";
        }
        return new VesselCli.Result(r.status(), r.stdout(), r.stderr() + "\n--- console of " + container + " ---\n" + console);
    }

    /** An HTTP GET on the host's loopback; the body. */
    private static String get(int port, String path) throws IOException {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setSoTimeout(30_000);
            OutputStream out = s.getOutputStream();
            out.write(("GET " + path + " HTTP/1.0\r\nHost: localhost\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
            out.flush();
            String response = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            int body = response.indexOf("\r\n\r\n");
            assertTrue(response.startsWith("HTTP/1.") && response.contains(" 200 "), response);
            return response.substring(body + 4);
        }
    }

    /** A port free on the host's loopback when asked. */
    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    @Test
    void publishedPortsNamesIsolationAndTheHostGateway() throws Exception {
        cleanUp(); // again: a run retried on a fresh machine starts from what the first one left
        String web = name("vit-web");
        int fixed = freePort();
        ok(vessel("run", "-d", "--name", web, "-p", "127.0.0.1:" + fixed + ":80", "-p", "127.0.0.1::8080", "busybox",
                "sh", "-c", "mkdir /www && echo served-by-vessel > /www/index.html && httpd -p 8080 -h /www && "
                        + "exec httpd -f -p 80 -h /www"));
        // The container listens once its init ran the command; a fetch before that is refused (or
        // closed by the proxy): the test waits for the servers from inside the container.
        ok(vessel("exec", web, "sh", "-c", "until wget -q -O /dev/null http://127.0.0.1:80/ "
                + "&& wget -q -O /dev/null http://127.0.0.1:8080/; do sleep 0.1; done"));
        assertEquals("served-by-vessel\n", get(fixed, "/index.html"));

        String ports = ok(vessel("port", web));
        assertTrue(ports.contains("80/tcp -> 127.0.0.1:" + fixed + "\n"), ports);
        String picked = ok(vessel("port", web, "8080")).strip();
        assertTrue(picked.matches("127\\.0\\.0\\.1:[0-9]+"), picked);
        int ephemeral = Integer.parseInt(picked.substring(picked.indexOf(':') + 1));
        assertNotEquals(0, ephemeral);
        assertEquals("served-by-vessel\n", get(ephemeral, "/index.html"));
        VesselCli.Result noSuch = vessel("port", web, "81");
        assertEquals(1, noSuch.status(), noSuch.toString());
        String ps = ok(vessel("ps"));
        assertTrue(ps.contains("127.0.0.1:" + fixed + "->80/tcp, 127.0.0.1:" + ephemeral + "->8080/tcp"), ps);
        JsonNode inspect = new ObjectMapper().readTree(ok(vessel("inspect", web)));
        assertEquals(Integer.toString(fixed), inspect.at("/0/NetworkSettings/Ports/80~1tcp/0/HostPort").asText());
        assertTrue(inspect.at("/0/NetworkSettings/IPAddress").asText().matches("[0-9.]+"), inspect.toString());

        // A port in use: the container does not start (125), and the other port is not left bound.
        int free = freePort();
        VesselCli.Result taken = vessel("run", "-d", "--name", name("vit-taken"), "-p", "127.0.0.1:" + free + ":80",
                "-p", "127.0.0.1:" + fixed + ":80", "busybox", "true");
        assertEquals(125, taken.status(), taken.toString());
        assertTrue(taken.stderr().contains("Bind for 127.0.0.1:" + fixed + " failed: port is already allocated"),
                taken.toString());
        try (ServerSocket again = new ServerSocket()) {
            again.setReuseAddress(true);
            again.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), free));
        }
        assertEquals("created", new ObjectMapper().readTree(ok(vessel("inspect", name("vit-taken"))))
                .at("/0/State/Status").asText(), "the refused container did not start");
        ok(vessel("rm", "-f", web)); // fewer VMs at once in the helper machine from here on
        VesselCli.Result closed = VesselCli.run(T, null, "port", web);
        assertEquals(1, closed.status(), "the container is gone: " + closed);
        try (ServerSocket again = new ServerSocket()) {
            again.setReuseAddress(true); // the proxy's accepted connections may linger in TIME_WAIT
            again.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), fixed)); // its port went with it
        }

        // Names and aliases on a user-defined network; another network cannot reach it.
        ok(vessel("network", "create", NET));
        String srv = name("vit-other");
        ok(vessel("run", "-d", "--name", srv, "--network", NET, "--network-alias", "vit-alias", "busybox", "sh", "-c",
                "mkdir /www && echo by-name > /www/index.html && exec httpd -f -p 80 -h /www"));
        // Its server first, from inside it: then one fetch by name, which fails at once and says why
        // if the name or the path is wrong.
        ok(vessel("exec", srv, "sh", "-c", "until wget -q -O /dev/null http://127.0.0.1/; do sleep 0.1; done"));
        VesselCli.Result byName = runKept(name("vit-client"), "--network", NET, "busybox", "sh",
                "-c", "wget -qO- http://" + srv + "/ && wget -qO- http://vit-alias/ && cat /etc/resolv.conf "
                        + "|| { nslookup " + srv + "; ip -o -4 addr; cat /etc/resolv.conf; exit 1; }");
        assertEquals(0, byName.status(), byName.toString());
        assertTrue(byName.stdout().startsWith("by-name\nby-name\nnameserver "), byName.toString());
        String otherIp = new ObjectMapper().readTree(ok(vessel("inspect", srv)))
                .at("/0/NetworkSettings/Networks/" + NET + "/IPAddress").asText();
        assertTrue(otherIp.matches("[0-9.]+"), otherIp);
        VesselCli.Result isolated = runKept(name("vit-iso"), "busybox", "sh", "-c",
                "nc -w 3 " + otherIp + " 80 </dev/null && echo reached || echo isolated");
        assertEquals("isolated\n", isolated.stdout(), "the default network reached another network: " + isolated);
        // Connected to the network while stopped, the same container reaches it at its next start (eth1).
        ok(vessel("network", "connect", NET, name("vit-iso")));
        VesselCli.Result connected = vessel("start", "-a", name("vit-iso"));
        assertEquals("reached\n", connected.stdout(), "after network connect: " + connected);

        // The host, reached through host-gateway: a server of the test's own (on the host's
        // loopback, which the helper machine's user network answers for the gateway address).
        boolean kvm = HostCapabilities.hardwareVirtualization();
        try (ServerSocket host = new ServerSocket(0, 10, kvm ? null : InetAddress.getLoopbackAddress())) {
            host.setSoTimeout(240_000);
            Thread server = Thread.ofVirtual().start(() -> {
                try (Socket s = host.accept()) {
                    s.getOutputStream().write("HTTP/1.0 200 OK\r\n\r\nfrom-the-host\n".getBytes(StandardCharsets.US_ASCII));
                } catch (IOException e) {
                    // the test's assertion reports it
                }
            });
            VesselCli.Result hostGw = runKept(name("vit-hostgw"), "--add-host", "vit-host:host-gateway", "busybox", "wget",
                    "-qO-", "http://vit-host:" + host.getLocalPort() + "/");
            assertEquals("from-the-host\n", hostGw.stdout(), hostGw.toString());
            server.join();
        }

        // --network none: only lo, and it is up.
        VesselCli.Result none = runKept(name("vit-none"), "--network", "none", "busybox", "ip", "-o", "link");
        assertEquals(0, none.status(), none.toString());
        String[] links = none.stdout().strip().split("\n");
        assertEquals(1, links.length, none.stdout());
        assertTrue(links[0].matches("1: lo: <[^>]*\\bUP\\b[^>]*>.*"), none.stdout());

        // Removing the containers and then the network leaves no bridge, TAP, rule or resolver.
        JsonNode net = new ObjectMapper().readTree(ok(vessel("network", "inspect", NET)));
        String netId = net.at("/0/Id").asText();
        String subnet = net.at("/0/IPAM/Config/0/Subnet").asText();
        VesselCli.Result busy = vessel("network", "rm", NET);
        assertEquals(1, busy.status(), "a network in use stays: " + busy);
        ok(vessel("rm", "-f", srv, name("vit-client"), name("vit-iso"), name("vit-hostgw"), name("vit-none")));
        // Their names left the network's resolver with them (it answered srv's above).
        String names = ok(BridgeHost.run("cat /run/vessel/dns/" + netId.substring(0, 12) + ".hosts"));
        assertFalse(names.contains(srv) || names.contains("vit-alias"), "the resolver still answers removed containers:\n" + names);
        ok(vessel("network", "rm", NET));
        assertNotEquals(0, BridgeHost.run("/usr/sbin/ip link show dev vb-" + netId.substring(0, 12)).status());
        String links2 = ok(BridgeHost.run("/usr/sbin/ip -o link"));
        for (String id : List.of(inspect.at("/0/Id").asText())) {
            assertFalse(links2.contains("vt" + id.substring(0, 11)), "a TAP of a removed container is left:\n" + links2);
        }
        String ruleset = ok(BridgeHost.run("nft list ruleset"));
        assertFalse(ruleset.contains(subnet), "a rule of the removed network is left:\n" + ruleset);
        String resolvers = ok(BridgeHost.run("ls /run/vessel/dns/ 2>/dev/null; ps -o args 2>/dev/null || ps"));
        assertFalse(resolvers.contains(netId.substring(0, 12)), "the resolver of the removed network is left:\n" + resolvers);
    }

    /** Follows the container's output until {@code line} appears (its server is listening then). */
    private static void awaitLogLine(String container, String line) throws Exception {
        Process p = VesselCli.start(List.of("logs", "-f", container));
        try (var r = new java.io.BufferedReader(new java.io.InputStreamReader(p.getErrorStream(), StandardCharsets.UTF_8))) {
            String l;
            while ((l = r.readLine()) != null) {
                if (l.contains(line)) {
                    return;
                }
            }
            throw new AssertionError("the container's output ended without '" + line + "'");
        } finally {
            p.destroy();
        }
    }

    @Test
    void udpThroughAPublishedPort() throws Exception {
        cleanUp();
        Path dir = Files.createTempDirectory("vit-udp");
        try {
            Path src = Path.of("src/test/c/udp-echo.c").toAbsolutePath();
            Path root = Files.createDirectories(dir.resolve("root"));
            Process cc = new ProcessBuilder("gcc", "-static", "-O2", "-o", root.resolve("udp-echo").toString(), src.toString())
                    .redirectErrorStream(true).start();
            String ccOut = new String(cc.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(cc.waitFor(2, TimeUnit.MINUTES) && cc.exitValue() == 0,
                    "cannot build the test's UDP server (gcc and libc6-dev are in the test packages): " + ccOut);
            Path tar = dir.resolve("udp.tar");
            Process t = new ProcessBuilder("tar", "-C", root.toString(), "-cf", tar.toString(), ".")
                    .redirectErrorStream(true).start();
            assertEquals(0, t.waitFor(), new String(t.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            ok(vessel("import", tar.toString(), "vit-udp-echo:1"));

            String udp = name("vit-udp");
            ok(vessel("run", "-d", "--name", udp, "-p", "127.0.0.1::5000/udp", "vit-udp-echo:1", "/udp-echo", "5000"));
            String bound = ok(vessel("port", udp, "5000/udp")).strip();
            int port = Integer.parseInt(bound.substring(bound.indexOf(':') + 1));
            awaitLogLine(udp, "udp-echo: listening");
            try (DatagramSocket client = new DatagramSocket(0, InetAddress.getLoopbackAddress())) {
                client.setSoTimeout(60_000);
                InetSocketAddress to = new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
                for (String msg : List.of("first", "second")) {
                    byte[] d = msg.getBytes(StandardCharsets.UTF_8);
                    client.send(new DatagramPacket(d, d.length, to));
                    DatagramPacket p = new DatagramPacket(new byte[1500], 1500);
                    client.receive(p);
                    assertEquals("echo:" + msg, new String(p.getData(), 0, p.getLength(), StandardCharsets.UTF_8));
                }
            }
            ok(vessel("rm", "-f", udp));
        } finally {
            VesselCli.run("rmi", "vit-udp-echo:1");
            try (var s = Files.walk(dir)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
    }
}
