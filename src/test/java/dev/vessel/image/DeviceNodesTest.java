package dev.vessel.image;

import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Device nodes in images: kept in the image's filesystem (written there by debugfs), never made on
 * the host, and refused wherever the entry escapes as any other entry would.
 */
class DeviceNodesTest {
    @TempDir
    Path tmp;

    /** A root filesystem as mmdebstrap writes it: ./ names, /dev populated, a FIFO. */
    private static Tars debootstrapped() {
        return Tars.tar().dir("./").dir("./dev").dir("./etc").dir("./run")
                .file("./etc/hostname", "guest\n")
                .charDevice("./dev/null", 1, 3)
                .device("./dev/console", false, 5, 1, 0600, 0, 5)
                .device("./dev/tty", false, 5, 0, 0666, 0, 5)
                .blockDevice("./dev/loop0", 7, 0)
                .device("./dev/odd \"name\"", false, 300, 65535, 0640, 100000, 100001)
                .fifo("./run/initctl");
    }

    @Test
    void anImportedRootfsKeepsItsDeviceNodesInTheImageAndNoneOnTheHost() throws Exception {
        ImageStore store = ImageStore.open(tmp.resolve("images"), UnpackPolicy.defaults());
        Image image = store.importRootfs(new ByteArrayInputStream(debootstrapped().bytes()), "debian:mm", List.of(), null);
        Path disk = store.ensureDisk(image);

        Ext4Inspect.Inode devNull = Ext4Inspect.stat(disk, "/dev/null");
        assertEquals(new Ext4Inspect.Inode("character special", 0666, 0, 0, 1, 3, Tars.MTIME.toInstant().getEpochSecond(), null),
                devNull);
        Ext4Inspect.Inode console = Ext4Inspect.stat(disk, "/dev/console");
        assertEquals("character special", console.type());
        assertEquals(List.of(0600, 0L, 5L, 5, 1), List.of(console.mode(), console.uid(), console.gid(), console.major(), console.minor()));
        Ext4Inspect.Inode loop = Ext4Inspect.stat(disk, "/dev/loop0");
        assertEquals("block special", loop.type());
        assertEquals(List.of(0660, 0L, 6L, 7, 0), List.of(loop.mode(), loop.uid(), loop.gid(), loop.major(), loop.minor()));
        Ext4Inspect.Inode odd = Ext4Inspect.stat(disk, "/dev/odd \"name\"");
        assertEquals(List.of(0640, 100000L, 100001L, 300, 65535), List.of(odd.mode(), odd.uid(), odd.gid(), odd.major(), odd.minor()));
        Ext4Inspect.Inode fifo = Ext4Inspect.stat(disk, "/run/initctl");
        assertEquals("FIFO", fifo.type());
        assertEquals(0644, fifo.mode());
        assertEquals("guest\n", Ext4Inspect.stat(disk, "/etc/hostname").content());
        assertEquals("directory", Ext4Inspect.stat(disk, "/dev").type());
        assertEquals(Tars.MTIME.toInstant().getEpochSecond(), Ext4Inspect.stat(disk, "/dev").mtime(),
                "making the nodes leaves their directory's time");
        Ext4Inspect.fsck(disk);

        // The tree the disk is made from holds placeholders, no device.
        Path tree = Files.createDirectory(tmp.resolve("tree"));
        List<LayerApplier.DeviceNode> nodes = RootfsDisk.unpack(store, image, tree);
        assertEquals(List.of("dev/null", "dev/console", "dev/tty", "dev/loop0", "dev/odd \"name\""),
                nodes.stream().map(LayerApplier.DeviceNode::path).toList());
        for (LayerApplier.DeviceNode n : nodes) {
            Path p = tree.resolve(n.path());
            assertTrue(Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS) && Files.size(p) == 0, n.path());
            assertEquals(0, (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 07777);
        }
        LayerApplierProperties.assertNoDevices(tmp);
    }

    @Test
    void laterLayersWhiteOutReplaceAndHardLinkDeviceNodes() throws Exception {
        Path tree = Files.createDirectory(tmp.resolve("tree"));
        LayerApplier a = new LayerApplier(tree, UnpackPolicy.defaults());
        apply(a, Tars.tar().charDevice("dev/null", 1, 3).charDevice("dev/gone", 1, 5).charDevice("dev/replaced", 1, 7)
                .charDevice("dev/sub/inner", 1, 8).charDevice("opq/hidden", 1, 9).charDevice("became/dir", 1, 1), "L1");
        apply(a, Tars.tar().whiteout("dev/gone").file("dev/replaced", "a file now").whiteout("dev/sub")
                .opaque("opq").file("became", "not a directory").hardlink("dev/null2", "dev/null"), "L2");
        // The same layer makes a node and whites out its lower self: the node stays.
        apply(a, Tars.tar().blockDevice("dev/disk", 8, 0).whiteout("dev/disk").charDevice("dev/null", 1, 3), "L3");
        assertEquals(List.of("dev/disk", "dev/null", "dev/null2"),
                a.deviceNodes().stream().map(LayerApplier.DeviceNode::path).sorted().toList());
        LayerApplierProperties.assertNoDevices(tree);

        Path disk = tmp.resolve("disk.ext4");
        RootfsDisk.build(tree, a.deviceNodes(), disk, "test");
        assertEquals(List.of(1, 3), majorMinor(Ext4Inspect.stat(disk, "/dev/null")));
        assertEquals(List.of(1, 3), majorMinor(Ext4Inspect.stat(disk, "/dev/null2")));
        assertEquals("block special", Ext4Inspect.stat(disk, "/dev/disk").type());
        assertNull(Ext4Inspect.stat(disk, "/dev/gone"));
        assertNull(Ext4Inspect.stat(disk, "/dev/sub"));
        assertNull(Ext4Inspect.stat(disk, "/opq/hidden"));
        assertEquals("a file now", Ext4Inspect.stat(disk, "/dev/replaced").content());
        assertEquals("not a directory", Ext4Inspect.stat(disk, "/became").content());
        Ext4Inspect.fsck(disk);
    }

    @Test
    void aDeviceNodeThatEscapesIsRefused() throws Exception {
        Path outside = Files.createDirectory(tmp.resolve("outside"));
        for (Tars t : List.of(Tars.tar().device("../outside/null", false, 1, 3, 0666, 0, 0),
                Tars.tar().device(outside.resolve("null").toString(), false, 1, 3, 0666, 0, 0),
                Tars.tar().symlink("dev", outside.toString()).charDevice("dev/null", 1, 3),
                Tars.tar().symlink("dev", "../outside").charDevice("dev/null", 1, 3),
                Tars.tar().file("dev", "a file").charDevice("dev/null", 1, 3),
                Tars.tar().charDevice("dev/null", 1, 3).charDevice("dev/null/below", 1, 3))) {
            LayerException e = assertThrows(LayerException.class, () -> apply(new LayerApplier(tree(), UnpackPolicy.defaults()), t, "L"));
            assertTrue(e.getMessage().contains("null"), e.getMessage());
        }
        // The checker (import, load, pull) refuses what it can tell without a tree.
        for (Tars t : List.of(Tars.tar().device("../outside/null", false, 1, 3, 0666, 0, 0),
                Tars.tar().device("/dev/null", false, 1, 3, 0666, 0, 0),
                Tars.tar().symlink("dev", "/dev").charDevice("dev/null", 1, 3))) {
            assertThrows(LayerException.class, () -> apply(LayerApplier.checker(UnpackPolicy.defaults()), t, "L"));
        }
        // A symbolic link from a lower layer.
        LayerApplier a = new LayerApplier(tree(), UnpackPolicy.defaults());
        apply(a, Tars.tar().symlink("dev", outside.toString()), "L1");
        assertThrows(LayerException.class, () -> apply(a, Tars.tar().charDevice("dev/null", 1, 3), "L2"));
        try (var s = Files.list(outside)) {
            assertEquals(List.of(), s.toList());
        }
        LayerApplierProperties.assertNoDevices(tmp);
    }

    @Test
    void aDeviceNodeTheImageCannotHoldIsRefused() throws Exception {
        for (Tars t : List.of(Tars.tar().device("dev/big", false, LayerApplier.MAX_DEVICE_MAJOR + 1, 0, 0600, 0, 0),
                Tars.tar().device("dev/big", true, 8, LayerApplier.MAX_DEVICE_MINOR + 1, 0600, 0, 0),
                Tars.tar().device("dev/line\nbreak", false, 1, 3, 0600, 0, 0),
                Tars.tar().device("dev/" + "\"".repeat(4050), false, 1, 3, 0600, 0, 0))) {
            assertThrows(LayerException.class, () -> apply(new LayerApplier(tree(), UnpackPolicy.defaults()), t, "L"));
            assertThrows(LayerException.class, () -> apply(LayerApplier.checker(UnpackPolicy.defaults()), t, "L"));
        }
    }

    @Test
    void aFailedDebugfsCommandFailsTheBuild() throws Exception {
        // debugfs exits 0 when a command of its file fails: the build reads its stderr.
        Path tree = tree();
        apply(new LayerApplier(tree, UnpackPolicy.defaults()), Tars.tar().charDevice("dev/null", 1, 3), "L");
        LayerApplier.DeviceNode bad = new LayerApplier.DeviceNode("dev/null", false, 70000, 1, 0666, 0, 0, 0);
        IOException e = assertThrows(IOException.class, () -> RootfsDisk.build(tree, List.of(bad), tmp.resolve("bad.ext4"), "test"));
        assertTrue(e.getMessage().contains("mknod"), e.getMessage());
    }

    @Test
    void anEntryOfUnknownTypeIsStillRefused() throws Exception {
        TarArchiveEntry e = new TarArchiveEntry("dev/weird", (byte) 'Z', true);
        LayerException x = assertThrows(LayerException.class,
                () -> apply(LayerApplier.checker(UnpackPolicy.defaults()), Tars.tar().add(e, null), "L"));
        assertTrue(x.getMessage().contains("unsupported"), x.getMessage());
    }

    private Path tree() throws IOException {
        return Files.createTempDirectory(tmp, "tree");
    }

    private static void apply(LayerApplier a, Tars t, String layer) throws Exception {
        a.apply(new ByteArrayInputStream(t.bytes()), layer);
    }

    private static List<Integer> majorMinor(Ext4Inspect.Inode i) {
        assertEquals("character special", i.type());
        return List.of(i.major(), i.minor());
    }
}
