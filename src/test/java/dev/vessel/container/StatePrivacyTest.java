package dev.vessel.container;

import dev.vessel.host.StateRoot;
import dev.vessel.registry.PullProgress;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The state root is its owner's alone: after the container service made an image and a container
 * (with a {@code -e} secret, its writable disk, its log), nothing under the root is open to
 * anyone else, by mode and in fact: as uid 65534 no folder can be listed and no file read.
 */
class StatePrivacyTest {
    private static final String SECRET = "VESSEL_TEST_SECRET=hunter2";
    private static final int NOBODY = 65534;

    @TempDir
    Path base;
    Path root;
    final List<Path> folders = new ArrayList<>();
    final List<Path> files = new ArrayList<>();

    @BeforeEach
    void store() throws Exception {
        // The root's parent is open to all, as /var/lib is: the root and what it holds must keep others out.
        Files.setPosixFilePermissions(base, PosixFilePermissions.fromString("rwxr-xr-x"));
        root = base.resolve("state");
        StateRoot state = StateRoot.resolve(root);
        ContainerService service = ContainerService.open(state, new dev.vessel.network.FakeNetworkHost());
        ContainerStore.Container c = service.create(CreateRequest.of("busybox").withCmd(List.of("env"))
                .withEnv(List.of(SECRET)), PullProgress.quiet());
        try (ContainerLog log = ContainerLog.append(c.log())) {
            byte[] out = (SECRET + "\n").getBytes(StandardCharsets.UTF_8);
            log.write("stdout", out, 0, out.length);
        }
        Path jar = Files.writeString(base.resolve("some.jar"), "not a jar");
        SupervisorLauncher.classDataArchive(state.dir("cache").resolve("jvm"), jar);
        assertTrue(Files.readString(c.dir().resolve("config.json")).contains(SECRET), "the secret is in the store");

        try (Stream<Path> all = Files.walk(root)) {
            for (Path p : all.toList()) {
                if (Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
                    folders.add(p);
                } else if (Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS)) {
                    files.add(p);
                }
            }
        }
        assertTrue(files.contains(c.rwDisk()) && files.contains(c.dir().resolve("config.json")), files.toString());
    }

    @Test
    void nothingUnderTheRootIsOpenToOthers() throws IOException {
        Set<PosixFilePermission> others = Set.of(PosixFilePermission.GROUP_READ, PosixFilePermission.GROUP_WRITE,
                PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.OTHERS_READ, PosixFilePermission.OTHERS_WRITE,
                PosixFilePermission.OTHERS_EXECUTE);
        List<String> open = new ArrayList<>();
        for (Path p : Stream.concat(folders.stream(), files.stream()).toList()) {
            Set<PosixFilePermission> mode = Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS);
            if (mode.stream().anyMatch(others::contains)) {
                open.add(PosixFilePermissions.toString(mode) + " " + root.relativize(p));
            }
        }
        assertEquals(List.of(), open, "open to group or others");
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(root)));
    }

    @Test
    void anotherUserCanNeitherListNorReadAnything() throws Exception {
        assumeTrue(((Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid")) == 0,
                "NOT CHECKED: switching to uid " + NOBODY + " (setpriv) needs root; run this test as root");
        // Controls: what is open to all must be readable as the other user, or the check proves nothing.
        Path openFolder = Files.createDirectory(base.resolve("open"));
        Path openFile = Files.writeString(openFolder.resolve("canary"), "readable by all\n");
        Files.setPosixFilePermissions(openFolder, PosixFilePermissions.fromString("rwxr-xr-x"));
        Files.setPosixFilePermissions(openFile, PosixFilePermissions.fromString("rw-r--r--"));

        List<String> args = new ArrayList<>(List.of("d:" + openFolder, "f:" + openFile));
        folders.forEach(p -> args.add("d:" + p));
        files.forEach(p -> args.add("f:" + p));
        List<String> got = asNobody(args);
        assertEquals(List.of("uid " + NOBODY, "listed " + openFolder, "read " + openFile), got.subList(0, Math.min(3, got.size())),
                "cannot check as another user: the controls failed, so the user switch did not work (" + got + ")");
        assertEquals(List.of(), got.subList(3, got.size()), "uid " + NOBODY + " could list or read these");
    }

    /**
     * Runs as uid/gid 65534 without supplementary groups; prints its uid, then what it could list
     * ({@code d:PATH}) or read ({@code f:PATH}: one byte, disks are large).
     */
    private static List<String> asNobody(List<String> paths) throws IOException, InterruptedException {
        String script = """
                echo "uid $(id -u)"
                for a in "$@"; do
                  p="${a#?:}"
                  case "$a" in
                    d:*) ls -A -- "$p" >/dev/null 2>&1 && echo "listed $p" ;;
                    f:*) head -c 1 -- "$p" >/dev/null 2>&1 && echo "read $p" ;;
                  esac
                done
                exit 0
                """;
        List<String> cmd = new ArrayList<>(List.of("setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups",
                "--", "sh", "-c", script, "sh"));
        cmd.addAll(paths);
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        } catch (IOException e) {
            fail("cannot switch to uid " + NOBODY + ": setpriv cannot be run (" + e.getMessage() + ")");
            throw e;
        }
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
            fail("cannot switch to uid " + NOBODY + " with setpriv (exit " + (p.isAlive() ? "none" : p.exitValue()) + "): " + out);
        }
        return out.lines().toList();
    }
}
