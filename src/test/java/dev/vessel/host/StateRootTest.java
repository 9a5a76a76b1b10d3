package dev.vessel.host;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StateRootTest {
    @TempDir
    Path base;

    private static String mode(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
    }

    private static Path chmod(Path p, String mode) throws IOException {
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(mode));
        return p;
    }

    private static Path folder(Path p) throws IOException {
        return chmod(Files.createDirectories(p), "rwxr-xr-x");
    }

    private static Path file(Path p, String mode) throws IOException {
        return chmod(Files.writeString(p, p.getFileName().toString()), mode);
    }

    @Test
    void aNewRootIsPrivateAndRecordsItsFormat() throws IOException {
        Path root = base.resolve("a/b/state");
        StateRoot state = StateRoot.resolve(root);
        Path containers = state.dir("containers");
        assertEquals("rwx------", mode(root));
        assertEquals("rwx------", mode(containers));
        assertEquals("2\n", Files.readString(root.resolve("format")));
        assertEquals("rw-------", mode(root.resolve("format")));
        assertEquals("rwxr-xr-x", mode(base.resolve("a/b")), "folders above the root are not Vessel's");
    }

    @Test
    void anOlderVesselsRootIsMadePrivateOnce() throws IOException {
        // Format 1: 0755 folders, 0644 files, no format file.
        Path root = folder(base.resolve("state"));
        Path id = folder(root.resolve("containers/0123"));
        Path config = file(id.resolve("config.json"), "rw-r--r--");
        Path disk = file(id.resolve("rw.img"), "rw-r--r--");
        Path agent = file(folder(root.resolve("machine")).resolve("vessel-agent"), "rwxr-xr-x");
        Path blob = file(folder(root.resolve("images/blobs/sha256")).resolve("ab"), "r--r--r--");
        Path kernel = file(folder(root.resolve("kernels/6.1")).resolve("vmlinuz"), "rw-r--r--");
        Path socket = root.resolve("run/0123.shim");
        folder(socket.getParent());
        try (ServerSocketChannel s = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            s.bind(UnixDomainSocketAddress.of(socket));
            chmod(socket, "rwxr-xr-x");
        }
        // Left alone: what a symbolic link points at, an image tree being unpacked, what is not Vessel's.
        Path outside = file(base.resolve("outside"), "rw-r--r--");
        Files.createSymbolicLink(id.resolve("link"), outside);
        Path unpacked = file(folder(root.resolve("images/tmp/disk-1/rootfs/etc")).resolve("passwd"), "rw-r--r--");
        Path notVessels = file(root.resolve("notes.txt"), "rw-r--r--");

        StateRoot.resolve(root).dir("containers");

        assertEquals("rwx------", mode(root));
        for (Path p : new Path[] {root.resolve("containers"), id, root.resolve("run"), root.resolve("images/blobs"),
                root.resolve("images/tmp")}) {
            assertEquals("rwx------", mode(p), p.toString());
        }
        assertEquals("rw-------", mode(config));
        assertEquals("rw-------", mode(disk));
        assertEquals("rwx------", mode(agent), "a program stays executable for its owner");
        assertEquals("r--------", mode(blob));
        assertEquals("rw-------", mode(kernel));
        assertEquals("rwx------", mode(socket));
        assertEquals("rw-r--r--", mode(outside));
        assertEquals("rw-r--r--", mode(unpacked));
        assertEquals("rw-r--r--", mode(notVessels));
        assertEquals("2\n", Files.readString(root.resolve("format")));

        // Once: a later open looks at the root only (which it sets back to 0700).
        chmod(config, "rw-r--r--");
        chmod(root, "rwxr-xr-x");
        StateRoot.resolve(root).dir("containers");
        assertEquals("rwx------", mode(root));
        assertEquals("rw-r--r--", mode(config), "not walked again");
    }

    @Test
    void aNewerFormatIsLeftAsItIs() throws IOException {
        Path root = folder(base.resolve("state"));
        Path config = file(folder(root.resolve("containers/0123")).resolve("config.json"), "rw-r--r--");
        Files.writeString(root.resolve("format"), "99\n");
        StateRoot.resolve(root).dir("containers");
        assertEquals("rw-r--r--", mode(config));
        assertEquals("99\n", Files.readString(root.resolve("format")));
    }

    @Test
    void aRootEveryoneMayWriteIsRefusedUntouched() throws IOException {
        Path root = chmod(Files.createDirectory(base.resolve("shared")), "rwxrwxrwx");
        IOException e = assertThrows(IOException.class, () -> StateRoot.resolve(root).dir("containers"));
        assertTrue(e.getMessage().contains("writable by every user"), e.getMessage());
        assertEquals("rwxrwxrwx", mode(root));
        assertFalse(Files.exists(root.resolve("containers")));
    }
}
