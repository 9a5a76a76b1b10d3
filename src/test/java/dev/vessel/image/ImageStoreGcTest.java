package dev.vessel.image;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.concurrent.FutureTask;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ImageStoreGcTest {
    @TempDir
    Path dir;

    @Test
    void gcDropsStalePartialDownloadsOnly() throws Exception {
        ImageStore store = ImageStore.open(dir.resolve("images"), UnpackPolicy.defaults());
        Digest old = Digest.of(new byte[] {1});
        Digest fresh = Digest.of(new byte[] {2});
        try (Ingest ingest = store.ingest();
             Ingest.BlobWriter a = ingest.writer(old, 10);
             Ingest.BlobWriter b = ingest.writer(fresh, 10)) {
            a.write(new byte[4], 0, 4);
            b.write(new byte[4], 0, 4);
        }
        Path oldFile = store.directory().resolve("tmp/partial-" + old.hex());
        Path freshFile = store.directory().resolve("tmp/partial-" + fresh.hex());
        Files.setLastModifiedTime(oldFile, FileTime.from(Instant.now().minus(ImageStore.PARTIAL_MAX_AGE).minusSeconds(60)));
        store.gc();
        assertFalse(Files.exists(oldFile));
        assertTrue(Files.exists(freshFile), "a recent partial download is kept for resuming");
        // One being written (here: by another thread) is never taken.
        Files.setLastModifiedTime(freshFile, FileTime.from(Instant.now().minus(ImageStore.PARTIAL_MAX_AGE).minusSeconds(60)));
        try (Ingest ingest = store.ingest(); Ingest.BlobWriter held = ingest.writer(fresh, 10)) {
            Files.setLastModifiedTime(freshFile, FileTime.from(Instant.now().minus(ImageStore.PARTIAL_MAX_AGE).minusSeconds(60)));
            // From another thread: FileLocks are reentrant within one. Its failure fails the test.
            FutureTask<GcResult> otherGc = new FutureTask<>(store::gc);
            Thread.ofPlatform().start(otherGc);
            otherGc.get(60, TimeUnit.SECONDS);
            assertTrue(Files.exists(freshFile));
        }
    }
}
