package dev.vessel.network;

import java.nio.file.Path;

/**
 * Another process allocating on a store (for {@link NetworkStoreConcurrencyTest}): DIR FIRST COUNT.
 * It says "ready" once its store is open and starts when a line arrives on stdin, so that both
 * processes allocate at the same time.
 */
public final class NetworkStoreProbe {
    private NetworkStoreProbe() {}

    public static void main(String[] args) throws Exception {
        NetworkStore.open(Path.of(args[0])).require("n");
        System.out.println("ready");
        System.out.flush();
        if (System.in.read() < 0) {
            throw new IllegalStateException("no start signal");
        }
        NetworkStoreConcurrencyTest.allocate(Path.of(args[0]), Integer.parseInt(args[1]), Integer.parseInt(args[2]));
        System.out.println("done");
    }
}
