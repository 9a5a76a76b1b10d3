package dev.vessel.api;

import dev.vessel.container.ContainerService;
import dev.vessel.host.StateRoot;
import dev.vessel.image.ImageStore;
import dev.vessel.image.Tars;
import dev.vessel.network.FakeNetworkHost;

import java.io.ByteArrayInputStream;
import java.nio.file.Path;
import java.util.List;

/**
 * The Engine API served in this JVM on a private socket over a private state root, with a test
 * image in its store ({@value #IMAGE}, made from a tarball: no registry) and networks on a host
 * that records what it is asked and touches nothing.
 */
final class ApiFixture implements AutoCloseable {
    /** An image of one file whose command is {@code /bin/echo hello}. */
    static final String IMAGE = "vessel-test/tiny:1";

    final Path dir;
    final StateRoot root;
    final FakeNetworkHost networkHost = new FakeNetworkHost();
    final ContainerService containers;
    final ImageStore images;
    final EngineApi api;
    final ApiServer server;

    ApiFixture(Path dir) throws Exception {
        this.dir = dir;
        root = StateRoot.resolve(dir.resolve("root"));
        containers = ContainerService.open(root, networkHost);
        images = ImageStore.open(root);
        byte[] rootfs = Tars.tar().dir("bin").file("bin/echo", "not a real program").bytes();
        images.importRootfs(new ByteArrayInputStream(rootfs), IMAGE, List.of("CMD [\"/bin/echo\", \"hello\"]"), null);
        api = new EngineApi(containers, images, root.path());
        server = ApiServer.start(dir.resolve("docker.sock"), api);
    }

    Path socket() {
        return server.socket();
    }

    @Override
    public void close() {
        server.close();
    }
}
