package dev.vessel.container;

import dev.vessel.guest.agent.AgentClient;
import dev.vessel.guest.agent.AgentProcess;
import dev.vessel.guest.agent.ArchiveRecord;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * docker cp against the real vessel-agent, run on this host over TCP: its archive builtins walk and
 * write a directory of the test's own here, as they walk and write the container's root in a VM.
 */
class ContainerArchiveTest {
    @TempDir
    static Path shared;
    static AgentProcess agent;
    static ContainerStore store;
    static String running;
    static String stopped;

    @TempDir
    Path root;
    ContainerArchive archive;

    @BeforeAll
    static void agentAndContainers() throws Exception {
        agent = AgentProcess.start(shared, Map.of());
        store = ContainerStore.open(shared.resolve("containers"));
        running = "b".repeat(64);
        stopped = "c".repeat(64);
        ContainerStore.Container c = store.create(ContainerStoreTest.config(running, "box", "2026-01-01T00:00:00Z"));
        long started = agent.process.info().startInstant().orElseThrow().toEpochMilli();
        c.writeState(ContainerState.created().running(agent.process.pid(), started, false));
        store.create(ContainerStoreTest.config(stopped, "idle", "2026-01-01T00:00:01Z"));
    }

    @AfterAll
    static void stopAgent() {
        agent.close();
    }

    @BeforeEach
    void archive() {
        archive = new ContainerArchive(store::require, c -> AgentClient.connect(agent.address(), null), shared.resolve("spool"));
    }

    static boolean root() {
        return ProcessHandle.current().info().user().orElse("").equals("root");
    }

    private Path file(String name, String content, String mode) throws IOException {
        Path p = root.resolve(name);
        Files.createDirectories(p.getParent());
        Files.writeString(p, content);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(mode));
        return p;
    }

    // ---- stat

    @Test
    void statTellsAFileADirectoryAndASymlinkInGosFileModeBits() throws Exception {
        Path f = file("etc/hosts", "127.0.0.1 localhost\n", "rw-r-----");
        Files.setLastModifiedTime(f, FileTime.from(Instant.parse("2026-03-04T05:06:07Z")));
        Files.createSymbolicLink(root.resolve("etc/alias"), Path.of("hosts"));

        ContainerArchive.PathStat s = archive.stat("box", f.toString());
        assertEquals(new ContainerArchive.PathStat("hosts", 20, 0640, Instant.parse("2026-03-04T05:06:07Z"), ""), s);
        ContainerArchive.PathStat d = archive.stat("box", root.resolve("etc") + "/");
        assertEquals("etc", d.name());
        assertTrue(d.isDirectory());
        assertEquals(1L << 31, d.mode() & ~0777L);
        ContainerArchive.PathStat l = archive.stat("box", root.resolve("etc/alias").toString());
        assertEquals(1L << 27, l.mode() & ~0777L, "a symlink itself, not what it points to");
        assertEquals("hosts", l.linkTarget());
        assertEquals(".", archive.stat("box", root.resolve("etc") + "/.").name(), "a directory's contents");

        String json = new String(Base64.getDecoder().decode(s.header()), StandardCharsets.UTF_8);
        assertEquals("{\"name\":\"hosts\",\"size\":20,\"mode\":416,\"mtime\":\"2026-03-04T05:06:07Z\",\"linkTarget\":\"\"}", json);
    }

    @Test
    void statOfWhatIsNotThereIsDockers404AndBadPathsAre400() throws Exception {
        ContainerException missing = assertThrows(ContainerException.class,
                () -> archive.stat("box", root.resolve("nope").toString()));
        assertEquals(ContainerException.Kind.NOT_FOUND, missing.kind());
        assertEquals("Could not find the file " + root.resolve("nope") + " in container box", missing.getMessage());
        assertEquals(ContainerException.Kind.INVALID, assertThrows(ContainerException.class,
                () -> archive.stat("box", "relative/path")).kind());
        assertEquals(ContainerException.Kind.INVALID, assertThrows(ContainerException.class,
                () -> archive.stat("box", "/a\0b")).kind());
        assertEquals(ContainerException.Kind.NOT_FOUND, assertThrows(ContainerException.class,
                () -> archive.stat("nosuch", "/")).kind());
        ContainerException idle = assertThrows(ContainerException.class, () -> archive.stat("idle", "/"));
        assertEquals(ContainerException.Kind.CONFLICT, idle.kind());
    }

    // ---- get

    @Test
    void getGivesTheTreeAsATarNamedFromThePath() throws Exception {
        file("srv/app/run.sh", "#!/bin/sh\necho hi\n", "rwxr-x---");
        file("srv/app/conf/app.conf", "a=1\n", "rw-r--r--");
        Files.createDirectories(root.resolve("srv/app/empty"));
        Files.createSymbolicLink(root.resolve("srv/app/start"), Path.of("run.sh"));
        Files.createLink(root.resolve("srv/app/conf/again.conf"), root.resolve("srv/app/conf/app.conf"));
        Files.setLastModifiedTime(root.resolve("srv/app/run.sh"), FileTime.from(Instant.parse("2025-01-02T03:04:05Z")));

        Map<String, TarArchiveEntry> entries = new LinkedHashMap<>();
        Map<String, String> contents = new LinkedHashMap<>();
        read(get(root.resolve("srv/app").toString()), entries, contents);

        assertEquals(List.of("app/", "app/conf/", "app/conf/again.conf", "app/conf/app.conf", "app/empty/", "app/run.sh", "app/start"),
                entries.keySet().stream().sorted().toList());
        TarArchiveEntry run = entries.get("app/run.sh");
        assertEquals(0100750, run.getMode());
        assertEquals(Instant.parse("2025-01-02T03:04:05Z"), run.getModTime().toInstant());
        assertEquals("#!/bin/sh\necho hi\n", contents.get("app/run.sh"));
        assertTrue(entries.get("app/start").isSymbolicLink());
        assertEquals("run.sh", entries.get("app/start").getLinkName());
        // One of the two names of the linked file holds the data, the other links to it.
        TarArchiveEntry a = entries.get("app/conf/again.conf");
        TarArchiveEntry b = entries.get("app/conf/app.conf");
        TarArchiveEntry link = a.isLink() ? a : b;
        TarArchiveEntry data = a.isLink() ? b : a;
        assertTrue(link.isLink(), "a hard link stays one");
        assertEquals(data.getName(), link.getLinkName());
        assertEquals("a=1\n", contents.get(data.getName()));

        Map<String, TarArchiveEntry> dot = new LinkedHashMap<>();
        read(get(root.resolve("srv/app") + "/."), dot, new LinkedHashMap<>());
        assertTrue(dot.containsKey("./") && dot.containsKey("./run.sh"), "path/. names the contents: " + dot.keySet());
    }

    @Test
    void getOfAFileAndOfAMissingPath() throws Exception {
        file("data/blob.bin", "x".repeat(200_000), "rw-------");
        Map<String, TarArchiveEntry> entries = new LinkedHashMap<>();
        Map<String, String> contents = new LinkedHashMap<>();
        read(get(root.resolve("data/blob.bin").toString()), entries, contents);
        assertEquals(List.of("blob.bin"), List.copyOf(entries.keySet()));
        assertEquals(200_000, contents.get("blob.bin").length());
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ContainerException e = assertThrows(ContainerException.class,
                () -> archive.get("box", root.resolve("data/none").toString(), out));
        assertEquals(ContainerException.Kind.NOT_FOUND, e.kind());
        assertEquals(0, out.size(), "nothing written before the 404");
    }

    private byte[] get(String path) throws Exception {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        archive.get("box", path, out);
        return out.toByteArray();
    }

    private static void read(byte[] tar, Map<String, TarArchiveEntry> entries, Map<String, String> contents) throws IOException {
        try (TarArchiveInputStream in = new TarArchiveInputStream(new ByteArrayInputStream(tar))) {
            TarArchiveEntry e;
            while ((e = in.getNextEntry()) != null) {
                entries.put(e.getName(), e);
                if (e.isFile()) {
                    contents.put(e.getName(), new String(in.readAllBytes(), StandardCharsets.UTF_8));
                }
            }
        }
    }

    // ---- put

    /** A tar of entries: name, then "d" (directory), "l:TARGET", "h:TARGET", or file content. */
    private static byte[] tar(int uid, String... pairs) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        try (TarArchiveOutputStream out = new TarArchiveOutputStream(b)) {
            out.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
            for (int i = 0; i < pairs.length; i += 2) {
                String name = pairs[i];
                String what = pairs[i + 1];
                TarArchiveEntry e;
                byte[] data = new byte[0];
                if (what.equals("d")) {
                    e = new TarArchiveEntry(name, TarConstants.LF_DIR, true);
                    e.setMode(040755);
                } else if (what.startsWith("l:")) {
                    e = new TarArchiveEntry(name, TarConstants.LF_SYMLINK, true);
                    e.setLinkName(what.substring(2));
                } else if (what.startsWith("h:")) {
                    e = new TarArchiveEntry(name, TarConstants.LF_LINK, true);
                    e.setLinkName(what.substring(2));
                } else {
                    e = new TarArchiveEntry(name, TarConstants.LF_NORMAL, true);
                    data = what.getBytes(StandardCharsets.UTF_8);
                    e.setSize(data.length);
                    e.setMode(0100604);
                }
                e.setUserId(uid);
                e.setGroupId(uid);
                e.setModTime(Instant.parse("2024-05-06T07:08:09Z").toEpochMilli());
                out.putArchiveEntry(e);
                out.write(data);
                out.closeArchiveEntry();
            }
        }
        return b.toByteArray();
    }

    private void put(String dir, byte[] tar, boolean noOverwrite, boolean copyOwners) throws Exception {
        archive.put("box", dir, new ByteArrayInputStream(tar), new ContainerArchive.PutOptions(noOverwrite, copyOwners));
    }

    @Test
    void putExtractsFilesLinksAndDirectoriesAsRootsUnlessOwnersAreKept() throws Exception {
        assumeTrue(root(), "files owned by root, or by another user, need root (the agent is root in a container)");
        Path dest = Files.createDirectories(root.resolve("dest"));
        put(dest.toString(), tar(1234, "./top/", "d", "top/f.txt", "hello", "top/l", "l:f.txt", "top/h", "h:top/f.txt",
                "/abs.txt", "leading slash is the destination's", "new/deep/file", "parents are made"), false, false);
        assertEquals("hello", Files.readString(dest.resolve("top/f.txt")));
        assertEquals("rw----r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(dest.resolve("top/f.txt"))));
        assertEquals(0, Files.getAttribute(dest.resolve("top/f.txt"), "unix:uid"));
        assertEquals(Path.of("f.txt"), Files.readSymbolicLink(dest.resolve("top/l")));
        assertEquals(2, Files.getAttribute(dest.resolve("top/f.txt"), "unix:nlink"));
        assertEquals("leading slash is the destination's", Files.readString(dest.resolve("abs.txt")));
        assertEquals("parents are made", Files.readString(dest.resolve("new/deep/file")));
        assertEquals(Instant.parse("2024-05-06T07:08:09Z"), Files.getLastModifiedTime(dest.resolve("top")).toInstant(),
                "a directory's time is set after its entries");

        Path kept = Files.createDirectories(root.resolve("kept"));
        put(kept.toString(), tar(1234, "f", "mine"), false, true);
        assertEquals(1234, Files.getAttribute(kept.resolve("f"), "unix:uid"));
        assertEquals(1234, Files.getAttribute(kept.resolve("f"), "unix:gid"));
    }

    @Test
    void aTarThatLeadsOutOfTheDestinationChangesNothing() throws Exception {
        Path dest = Files.createDirectories(root.resolve("dest"));
        for (byte[] bad : List.of(
                tar(0, "ok.txt", "fine", "../escaped.txt", "out"),
                tar(0, "ok.txt", "fine", "a/../../escaped.txt", "out"),
                tar(0, "ok.txt", "fine", "h", "h:../../etc/passwd"))) {
            ContainerException e = assertThrows(ContainerException.class, () -> put(dest.toString(), bad, false, false));
            assertEquals(ContainerException.Kind.INVALID, e.kind(), e.getMessage());
            assertEquals(List.of(), list(dest), "nothing of a refused tar is extracted");
        }
        assertFalse(Files.exists(root.resolve("escaped.txt")));
        ContainerException garbage = assertThrows(ContainerException.class,
                () -> put(dest.toString(), "this is not a tar at all, but long enough to look at".repeat(20).getBytes(), false, false));
        assertEquals(ContainerException.Kind.INVALID, garbage.kind(), garbage.getMessage());
        assertEquals(List.of(), list(dest));
    }

    @Test
    void aSymlinkInTheDestinationDoesNotLeadTheExtractionOut() throws Exception {
        assumeTrue(root(), "the extraction sets owners");
        Path dest = Files.createDirectories(root.resolve("dest"));
        Path elsewhere = Files.createDirectories(root.resolve("elsewhere"));
        Files.createSymbolicLink(dest.resolve("out"), elsewhere);
        ContainerException e = assertThrows(ContainerException.class,
                () -> put(dest.toString(), tar(0, "out/planted", "x"), false, false));
        assertEquals(ContainerException.Kind.FAILED, e.kind());
        assertEquals(List.of(), list(elsewhere), "written through a symlink out of the destination");
    }

    @Test
    void theDestinationMustBeADirectoryAndNoOverwriteDirNonDirHolds() throws Exception {
        assumeTrue(root(), "the extraction sets owners");
        Path f = file("plain", "x", "rw-r--r--");
        ContainerException notDir = assertThrows(ContainerException.class, () -> put(f.toString(), tar(0, "a", "b"), false, false));
        assertEquals(ContainerException.Kind.INVALID, notDir.kind());
        assertEquals("extraction point is not a directory", notDir.getMessage());
        assertEquals(ContainerException.Kind.NOT_FOUND, assertThrows(ContainerException.class,
                () -> put(root.resolve("missing").toString(), tar(0, "a", "b"), false, false)).kind());

        Path dest = Files.createDirectories(root.resolve("dest/d"));
        Files.writeString(dest.resolve("inside"), "keep");
        ContainerException clash = assertThrows(ContainerException.class,
                () -> put(root.resolve("dest").toString(), tar(0, "d", "a file where a directory is"), true, false));
        assertEquals(ContainerException.Kind.INVALID, clash.kind());
        assertTrue(clash.getMessage().startsWith("cannot overwrite directory"), clash.getMessage());
        assertEquals("keep", Files.readString(dest.resolve("inside")));
    }

    @Test
    void whatGetGivesPutTakesBack() throws Exception {
        assumeTrue(root(), "the extraction sets owners");
        file("src/tree/a.txt", "alpha", "rw-r--r--");
        file("src/tree/b/c.bin", "\u0000\u0001binary", "rwx------");
        Files.createSymbolicLink(root.resolve("src/tree/b/up"), Path.of("../a.txt"));
        byte[] tar = get(root.resolve("src/tree").toString());
        Path copy = Files.createDirectories(root.resolve("copy"));
        put(copy.toString(), tar, false, true);
        assertEquals("alpha", Files.readString(copy.resolve("tree/a.txt")));
        assertArrayEquals(Files.readAllBytes(root.resolve("src/tree/b/c.bin")), Files.readAllBytes(copy.resolve("tree/b/c.bin")));
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(copy.resolve("tree/b/c.bin"))));
        assertEquals(Path.of("../a.txt"), Files.readSymbolicLink(copy.resolve("tree/b/up")));
        assertTrue(Files.isSymbolicLink(copy.resolve("tree/b/up")), "kept as a link");
        assertTrue(Files.exists(copy.resolve("tree/b/up"), LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void aCopyIntoAContainerThatDoesNotRunGoesInAtItsNextStart() throws Exception {
        assumeTrue(root(), "the extraction sets owners");
        Path dest = Files.createDirectories(root.resolve("later"));
        put("idle", dest.toString(), tar(0, "init.sql", "create table t;"));
        archive.put("idle", root.resolve("missing").toString(), new ByteArrayInputStream(tar(0, "x", "y")),
                new ContainerArchive.PutOptions(false, false));
        assertEquals(List.of(), list(dest), "nothing is extracted while it does not run");
        ContainerStore.Container idle = store.require("idle");
        assertEquals(4, list(idle.pendingCopies()).size(), "two copies kept, each its records and its destination");
        ContainerException bad = assertThrows(ContainerException.class, () -> put("idle", dest.toString(),
                tar(0, "../out", "x")));
        assertEquals(ContainerException.Kind.INVALID, bad.kind(), "a bad tar is refused at once, as for a running one");
        assertEquals(4, list(idle.pendingCopies()).size());

        String failed = ContainerArchive.applyPending(idle, c -> AgentClient.connect(agent.address(), null));
        assertEquals("create table t;", Files.readString(dest.resolve("init.sql")), "the first went in, in order");
        assertEquals("Could not find the file " + root.resolve("missing") + " in container idle (files copied in before it started)",
                failed, "the second's missing destination fails the start");
        assertEquals(List.of(), list(idle.pendingCopies()), "each is applied once");
        assertEquals(null, ContainerArchive.applyPending(idle, c -> AgentClient.connect(agent.address(), null)));
    }

    private void put(String container, String dir, byte[] tar) throws Exception {
        archive.put(container, dir, new ByteArrayInputStream(tar), new ContainerArchive.PutOptions(false, false));
    }

    // ---- pieces

    @Test
    void namesAreCleanedAsDockersAndTheTopNameFollowsThePath() throws Exception {
        assertEquals("a/b", ContainerArchive.clean("./a//b/"));
        assertEquals("b", ContainerArchive.clean("/a/../b"));
        assertEquals("", ContainerArchive.clean("./"));
        assertThrows(ContainerException.class, () -> ContainerArchive.clean("a/../../b"));
        assertEquals("hosts", ContainerArchive.dockerName("/etc/hosts"));
        assertEquals("etc", ContainerArchive.dockerName("/etc/"));
        assertEquals(".", ContainerArchive.dockerName("/etc/."));
        assertEquals("/", ContainerArchive.dockerName("/"));
    }

    @Test
    void recordsFromTheGuestAreCheckedAsAnyHostileInput() {
        for (String name : List.of("", "/abs", "a/../b", "a//b", ".", "a/.")) {
            assertThrows(IllegalArgumentException.class,
                    () -> new ArchiveRecord(ArchiveRecord.FILE, 0644, 0, 0, 0, 0, 0, 0, name, ""), name);
        }
        assertThrows(IllegalArgumentException.class,
                () -> new ArchiveRecord(ArchiveRecord.DIRECTORY, 0755, 0, 0, 0, 0, 0, 5, "d", ""), "a directory with data");
        assertThrows(IllegalArgumentException.class,
                () -> new ArchiveRecord(ArchiveRecord.HARD_LINK, 0644, 0, 0, 0, 0, 0, 0, "h", "../x"));
        assertThrows(IllegalArgumentException.class,
                () -> new ArchiveRecord(ArchiveRecord.FILE, 0100644, 0, 0, 0, 0, 0, 0, "f", ""), "type bits in the mode");
        byte[] header = new byte[ArchiveRecord.HEADER];
        header[0] = 'f';
        header[37] = (byte) 0xff; // a name of 65280 bytes
        header[38] = 0;
        IOException e = assertThrows(IOException.class, () -> ArchiveRecord.read(new ByteArrayInputStream(header)));
        assertTrue(e.getMessage().contains("name"), e.getMessage());
        assertThrows(IOException.class, () -> ArchiveRecord.read(new ByteArrayInputStream(new byte[3])), "a cut stream");
    }

    private static List<String> list(Path dir) throws IOException {
        List<String> names = new ArrayList<>();
        try (var s = Files.list(dir)) {
            s.forEach(p -> names.add(p.getFileName().toString()));
        }
        return names;
    }
}
