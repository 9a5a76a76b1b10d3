package dev.vessel.api;

import org.junit.jupiter.api.Test;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ContainerRunsTest {
    private static ContainerRuns.Run run() {
        return new ContainerRuns.Run(new CompletableFuture<>(), Optional.empty());
    }

    @Test
    void aStartWakesItsContainersWaitersOnly() {
        ContainerRuns runs = new ContainerRuns();
        ContainerRuns.Waiter attach = runs.awaitStart("a", true);
        ContainerRuns.Waiter wait = runs.awaitStart("a", false);
        ContainerRuns.Waiter other = runs.awaitStart("b", false);
        assertTrue(runs.attachWaiting("a"));
        assertFalse(runs.attachWaiting("b"));
        ContainerRuns.Run run = run();
        runs.started("a", run);
        assertSame(run, attach.started().join());
        assertSame(run, wait.started().join());
        assertFalse(other.started().isDone());
        assertSame(run, runs.current("a"));
        assertFalse(runs.attachWaiting("a"), "the next start has no waiters yet");
    }

    @Test
    void aWaiterThatGaveUpIsNotCountedNorWoken() {
        ContainerRuns runs = new ContainerRuns();
        ContainerRuns.Waiter attach = runs.awaitStart("a", true);
        runs.cancel(attach);
        assertFalse(runs.attachWaiting("a"), "no attach waits: the start must let the main process go itself");
        runs.started("a", run());
        assertTrue(attach.started().isCancelled());
    }

    @Test
    void aFailedStartEndsItsWaiters() {
        ContainerRuns runs = new ContainerRuns();
        ContainerRuns.Waiter attach = runs.awaitStart("a", true);
        runs.startFailed("a", new IllegalStateException("no VM"));
        assertTrue(attach.started().isCompletedExceptionally());
        assertFalse(runs.attachWaiting("a"));
    }

    @Test
    void theLastSizeIsKeptForAttachesStillConnectingAndForgottenWithTheContainer() {
        ContainerRuns runs = new ContainerRuns();
        assertNull(runs.size("a"));
        runs.resize("a", 40, 120);
        runs.resize("a", 50, 132);
        assertArrayEquals(new int[] {50, 132}, runs.size("a"));
        runs.started("a", run());
        runs.forget("a");
        assertNull(runs.size("a"));
        assertNull(runs.current("a"));
    }
}
