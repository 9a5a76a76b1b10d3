package dev.vessel.it;

import dev.vessel.image.BuiltinBusybox;
import dev.vessel.image.Image;
import dev.vessel.image.ImageStore;
import dev.vessel.image.UnpackPolicy;
import dev.vessel.registry.RealRegistry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code vessel run} of an image the store lacks: it is pulled from a real registry, then run in a
 * micro-VM. The image is the built-in busybox (made in a scratch store from the host's
 * busybox-static), pushed to docker-registry under another name.
 */
@ExtendWith(HelperMachineExtension.class)
class PullRunIT {
    @TempDir
    Path dir;

    @Test
    void runPullsAMissingImageThenRunsIt() throws Exception {
        try (RealRegistry registry = new RealRegistry(Files.createDirectories(dir.resolve("registry")))) {
            ImageStore scratch = ImageStore.open(dir.resolve("scratch"), UnpackPolicy.defaults());
            Image img = BuiltinBusybox.create(scratch);
            registry.push("it/busybox", "pulled", scratch, img);
            String name = registry.host + "/it/busybox:pulled";

            VesselCli.Result r = VesselCli.run(Duration.ofMinutes(4), null, "run", "--rm", name, "echo", "pulled and ran");
            try {
                assertEquals(0, r.status(), r.toString());
                assertEquals("pulled and ran\n", r.stdout(), r.toString());
                assertTrue(r.stderr().startsWith("Unable to find image '" + name + "' locally\n"), r.toString());
                assertTrue(r.stderr().contains("Status: Downloaded newer image for " + name), r.toString());
            } finally {
                VesselCli.run("rmi", name);
            }
        }
    }
}
