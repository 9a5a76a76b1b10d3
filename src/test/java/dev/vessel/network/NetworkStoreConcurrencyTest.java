package dev.vessel.network;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Allocations that race, from two threads with stores of their own and from two processes, are
 * all kept (none lost to a read-modify-write race) and all distinct.
 */
class NetworkStoreConcurrencyTest {
    @TempDir
    Path dir;

    static final int EACH = 50;

    /** Allocates {@code count} addresses on network "n" of the store in {@code dir} for containers from {@code first}. */
    static List<Ipv4Address> allocate(Path dir, int first, int count) throws Exception {
        NetworkStore store = NetworkStore.open(dir);
        List<Ipv4Address> out = new ArrayList<>();
        for (int i = first; i < first + count; i++) {
            out.add(store.allocate("n", NetworkStore.EndpointRequest.of(IpamProperties.container(i), "c" + i)).address());
        }
        return out;
    }

    private void checkAll(int expected) throws Exception {
        Network n = NetworkStore.open(dir).require("n");
        assertEquals(expected, n.endpoints().size(), "an allocation was lost");
        Set<Ipv4Address> distinct = new HashSet<>();
        n.endpoints().values().forEach(e -> distinct.add(e.address()));
        assertEquals(expected, distinct.size(), "an address was handed out twice");
    }

    @Test
    void twoThreads() throws Exception {
        NetworkStore.open(dir).create(CreateRequest.named("n").withSubnet("10.9.0.0/24", null), List.of());
        CountDownLatch go = new CountDownLatch(1);
        ExecutorService pool = Executors.newFixedThreadPool(2);
        try {
            List<Future<List<Ipv4Address>>> results = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                int first = t * EACH;
                Callable<List<Ipv4Address>> task = () -> {
                    go.await();
                    return allocate(dir, first, EACH);
                };
                results.add(pool.submit(task));
            }
            go.countDown();
            Set<Ipv4Address> all = new HashSet<>();
            for (Future<List<Ipv4Address>> f : results) {
                all.addAll(f.get(1, TimeUnit.MINUTES));
            }
            assertEquals(2 * EACH, all.size());
        } finally {
            pool.shutdownNow();
        }
        checkAll(2 * EACH);
    }

    @Test
    void twoProcesses() throws Exception {
        NetworkStore.open(dir).create(CreateRequest.named("n").withSubnet("10.9.0.0/24", null), List.of());
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        Process other = new ProcessBuilder(java, "-cp", System.getProperty("java.class.path"),
                NetworkStoreProbe.class.getName(), dir.toString(), Integer.toString(EACH), Integer.toString(EACH))
                .redirectErrorStream(true).start();
        var lines = new java.io.BufferedReader(new java.io.InputStreamReader(other.getInputStream(), StandardCharsets.UTF_8));
        String first = lines.readLine();
        assertEquals("ready", first);
        other.getOutputStream().write('\n');
        other.getOutputStream().close();
        allocate(dir, 0, EACH);
        StringBuilder out = new StringBuilder();
        for (String l; (l = lines.readLine()) != null; ) {
            out.append(l).append('\n');
        }
        assertTrue(other.waitFor(2, TimeUnit.MINUTES), out.toString());
        assertEquals(0, other.exitValue(), out.toString());
        assertEquals("done\n", out.toString());
        checkAll(2 * EACH);
    }
}
