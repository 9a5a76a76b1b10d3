package dev.vessel.it;

import java.util.concurrent.Callable;
import java.util.concurrent.CompletableFuture;

/**
 * Runs blocking test work (a server's accept, a command in the machine) on a daemon thread of its
 * own. The common pool has one worker on a two-CPU host, and every IT shares it in failsafe's
 * JVM: one task left blocked there by a failed test would starve the next test's tasks.
 */
final class Background {
    private Background() {}

    static <T> CompletableFuture<T> run(String name, Callable<T> work) {
        CompletableFuture<T> result = new CompletableFuture<>();
        Thread.ofPlatform().daemon(true).name(name).start(() -> {
            try {
                result.complete(work.call());
            } catch (Throwable t) {
                result.completeExceptionally(t);
            }
        });
        return result;
    }
}
