package dev.vessel.image;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;

import static net.jqwik.api.Tuple.of;

/**
 * Tar entries for property tests, hostile ones included: names with {@code ..}, absolute names,
 * whiteouts, symbolic links (in chains, pointing out), hard links out, device nodes, unknown
 * types, setuid bits, odd owners, and a last entry that claims far more bytes than follow. A link
 * target may name the test's outside folder through {@link #OUTSIDE}, replaced when written.
 */
final class TarEntries {
    private TarEntries() {}

    /** Replaced by the absolute path of a folder outside the tree in names and link targets. */
    static final String OUTSIDE = "@OUTSIDE@";

    enum Kind { FILE, DIR, SYMLINK, HARDLINK, FIFO, CHAR, BLOCK, UNKNOWN }

    record Entry(Kind kind, String name, String link, int mode, int size, long uid) {
        /** A file's bytes: a pattern, so a shrunk sample stays readable. */
        byte[] content() {
            byte[] b = new byte[size];
            for (int i = 0; i < size; i++) {
                b[i] = (byte) ('a' + i % 26);
            }
            return b;
        }

        /** Whether its cleaned name's last component is a whiteout (as the applier reads it). */
        boolean isWhiteout() {
            List<String> parts = Arrays.stream(name.split("/")).filter(p -> !p.isEmpty() && !p.equals(".")).toList();
            return !parts.isEmpty() && parts.getLast().startsWith(".wh.");
        }
    }

    /** The entries as an uncompressed tar; with {@code hugeSize} > 0 a last file claims that many bytes and the stream ends. */
    static byte[] tar(List<Entry> entries, Path outside, long hugeSize) {
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        // 512-byte blocks: every record reaches the byte stream at once (the huge entry is never finished).
        TarArchiveOutputStream t = new TarArchiveOutputStream(bo, 512, "UTF-8");
        t.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
        t.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
        t.setAddPaxHeadersForNonAsciiNames(true);
        try {
            for (Entry e : entries) {
                TarArchiveEntry te = entry(e, outside);
                t.putArchiveEntry(te);
                if (te.getSize() > 0) {
                    t.write(e.content());
                }
                t.closeArchiveEntry();
            }
            if (hugeSize > 0) {
                TarArchiveEntry te = new TarArchiveEntry("huge", TarConstants.LF_NORMAL, true);
                te.setMode(0100644);
                te.setSize(hugeSize);
                t.putArchiveEntry(te);
                t.write(new byte[1000]);
                t.flush();
                return bo.toByteArray(); // truncated: the rest of its bytes never come
            }
            t.finish();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bo.toByteArray();
    }

    private static TarArchiveEntry entry(Entry e, Path outside) {
        String name = e.name().replace(OUTSIDE, outside.toString());
        String link = e.link() == null ? null : e.link().replace(OUTSIDE, outside.toString());
        TarArchiveEntry te = switch (e.kind()) {
            case FILE -> new TarArchiveEntry(name, TarConstants.LF_NORMAL, true);
            case DIR -> new TarArchiveEntry(name.endsWith("/") ? name : name + "/", TarConstants.LF_DIR, true);
            case SYMLINK -> new TarArchiveEntry(name, TarConstants.LF_SYMLINK, true);
            case HARDLINK -> new TarArchiveEntry(name, TarConstants.LF_LINK, true);
            case FIFO -> new TarArchiveEntry(name, TarConstants.LF_FIFO, true);
            case CHAR -> new TarArchiveEntry(name, TarConstants.LF_CHR, true);
            case BLOCK -> new TarArchiveEntry(name, TarConstants.LF_BLK, true);
            case UNKNOWN -> new TarArchiveEntry(name, (byte) 'Z', true);
        };
        int type = switch (e.kind()) {
            case DIR -> 040000;
            case SYMLINK -> 0120000;
            case FIFO -> 010000;
            case CHAR -> 020000;
            case BLOCK -> 060000;
            default -> 0100000;
        };
        te.setMode(type | e.mode());
        if (link != null && (e.kind() == Kind.SYMLINK || e.kind() == Kind.HARDLINK)) {
            te.setLinkName(link);
        }
        if (e.kind() == Kind.CHAR || e.kind() == Kind.BLOCK) {
            te.setDevMajor(1);
            te.setDevMinor(3);
        }
        if (e.kind() == Kind.FILE && !name.endsWith("/")) { // a name ending in / is a folder's, whatever its type
            te.setSize(e.size());
        }
        te.setUserId(e.uid());
        te.setGroupId(e.uid());
        te.setModTime(Tars.MTIME);
        return te;
    }

    /**
     * Entry names from a small vocabulary, so entries often meet (a link and a later entry below
     * it): ordinary components, dot-dot, empty ones, whiteouts, non-ASCII, and some far too long.
     */
    static Arbitrary<String> names() {
        Arbitrary<String> component = Arbitraries.frequency(of(6, "l1"), of(6, "a"), of(3, "l2"), of(3, "dir"), of(2, "victim"),
                of(2, ".."), of(1, "."), of(1, ""), of(1, ".wh.l1"), of(1, ".wh.a"), of(1, ".wh.dir"), of(1, ".wh..wh..opq"),
                of(1, ".wh.."), of(1, "\u00e9t\u00e9"));
        Arbitrary<String> ordinary = Combinators.combine(
                        Arbitraries.frequency(of(12, ""), of(1, "./"), of(1, "/"), of(1, "../"), of(1, OUTSIDE + "/")),
                        component.list().ofMinSize(1).ofMaxSize(3), Arbitraries.frequency(of(6, ""), of(1, "/")))
                .as((pre, parts, post) -> pre + String.join("/", parts) + post);
        // Longer than PATH_MAX, a component longer than NAME_MAX, deep.
        Arbitrary<String> long_ = Arbitraries.of("x".repeat(UnpackPolicy.MAX_PATH + 1), "d/" + "y".repeat(300),
                "a/".repeat(10) + "z".repeat(UnpackPolicy.MAX_PATH - 15), "a/".repeat(120) + "x");
        return Arbitraries.frequencyOf(of(40, ordinary), of(1, long_));
    }

    /** Link targets: mostly the outside (absolute and relative) or another link of the layer, else any name. */
    static Arbitrary<String> targets() {
        return Arbitraries.frequencyOf(
                of(3, Arbitraries.of(OUTSIDE, OUTSIDE + "/victim", OUTSIDE + "/dir", "../outside", "../../outside/victim",
                        "../outside/dir", "/", "/etc/passwd")),
                of(2, Arbitraries.of("l1", "l2", "l1/victim", "l1/dir", "../l1", "a", "", ".")),
                of(2, names()));
    }

    private static final Arbitrary<Integer> MODES = Arbitraries.frequencyOf(of(4, Arbitraries.of(0644, 0755, 0600, 0700)),
            of(1, Arbitraries.of(04755, 02755, 06777, 01777, 0)), of(1, Arbitraries.integers().between(0, 07777)));

    /** Any entry, hostile or not. */
    static Arbitrary<Entry> entries() {
        Arbitrary<Kind> kind = Arbitraries.frequency(of(8, Kind.FILE), of(5, Kind.DIR), of(5, Kind.SYMLINK), of(3, Kind.HARDLINK),
                of(1, Kind.FIFO), of(1, Kind.CHAR), of(1, Kind.BLOCK), of(1, Kind.UNKNOWN));
        Arbitrary<Integer> size = Arbitraries.frequencyOf(of(6, Arbitraries.integers().between(0, 64)),
                of(1, Arbitraries.integers().between(3000, 9000)));
        Arbitrary<Long> uid = Arbitraries.of(0L, 0L, 1000L, 65534L, 0xffffffffL, 1L << 33);
        return Combinators.combine(kind, names(), targets(), MODES, size, uid).as(Entry::new);
    }

    /**
     * An attack: a chain of one or two symbolic links that ends outside the tree, then an entry
     * through it (a file, folder, hard link, whiteout or opaque marker below it, or a hard link to
     * something below it).
     */
    static Arbitrary<List<Entry>> attacks() {
        Arbitrary<String> out = Arbitraries.of(OUTSIDE, "../outside", "../../outside", "/");
        Arbitrary<Boolean> chained = Arbitraries.of(false, true);
        Arbitrary<Entry> through = Combinators.combine(
                        Arbitraries.of(Kind.FILE, Kind.DIR, Kind.HARDLINK, Kind.SYMLINK, Kind.FIFO),
                        Arbitraries.of("victim", "dir", "dir/f", "new", ".wh.victim", ".wh.dir", ".wh..wh..opq", "dir/.wh.f"),
                        Arbitraries.of("a", "l2/victim", OUTSIDE + "/victim"), MODES)
                .as((k, below, target, mode) -> new Entry(k, "l2/" + below, target, mode, 5, 0));
        Arbitrary<Entry> linkTo = Arbitraries.of("l2/victim", "l2/dir/f", "l2")
                .map(t -> new Entry(Kind.HARDLINK, "h", t, 0644, 0, 0));
        return Combinators.combine(out, chained, Arbitraries.oneOf(through, linkTo), Arbitraries.of(true, false))
                .as((target, chain, last, withFile) -> {
                    List<Entry> l = new java.util.ArrayList<>();
                    if (withFile) {
                        l.add(new Entry(Kind.FILE, "a", null, 0644, 3, 0));
                    }
                    if (chain) {
                        l.add(new Entry(Kind.SYMLINK, "l1", target, 0777, 0, 0));
                        l.add(new Entry(Kind.SYMLINK, "l2", "l1", 0777, 0, 0));
                    } else {
                        l.add(new Entry(Kind.SYMLINK, "l2", target, 0777, 0, 0));
                    }
                    l.add(last);
                    return l;
                });
    }

    /** A layer's entries: random ones, with attacks among them. */
    static Arbitrary<List<Entry>> layerEntries() {
        return Arbitraries.frequencyOf(of(2, entries().list().ofMinSize(1).ofMaxSize(10)),
                of(1, Combinators.combine(entries().list().ofMaxSize(4), attacks(), entries().list().ofMaxSize(3))
                        .as((before, attack, after) -> {
                            List<Entry> l = new java.util.ArrayList<>(before);
                            l.addAll(attack);
                            l.addAll(after);
                            return l;
                        })));
    }

    /**
     * Whether the applier must refuse the entry whatever came before: a bad name, link, type or
     * bit. An absolute name counts only where the tar's own header holds it: Commons Compress makes
     * names from PAX and GNU long-name records relative (they land inside the tree).
     */
    static boolean mustBeRefused(Entry e, UnpackPolicy policy, Path outside) {
        String written = e.name().replace(OUTSIDE, outside.toString());
        if (e.kind() == Kind.DIR && !written.endsWith("/")) {
            written += "/";
        }
        boolean inHeader = written.chars().allMatch(c -> c < 128) && written.length() <= TarConstants.NAMELEN;
        if (badName(written, inHeader)) {
            return true;
        }
        if (e.isWhiteout()) {
            return false;
        }
        if (e.kind() == Kind.UNKNOWN || (e.kind() == Kind.CHAR || e.kind() == Kind.BLOCK) && policy.devices() == UnpackPolicy.Devices.REJECT) {
            return true;
        }
        if ((e.mode() & 06000) != 0 && policy.setuid() == UnpackPolicy.Setuid.REJECT
                && e.kind() != Kind.SYMLINK && e.kind() != Kind.HARDLINK && e.kind() != Kind.CHAR && e.kind() != Kind.BLOCK) {
            return true;
        }
        // A link target is never made relative.
        return e.kind() == Kind.HARDLINK && badName(e.link().replace(OUTSIDE, outside.toString()), true);
    }

    /** Absolute (when kept so), with a {@code ..} component, or longer than PATH_MAX. */
    private static boolean badName(String name, boolean absoluteKept) {
        return absoluteKept && name.startsWith("/") || name.length() > UnpackPolicy.MAX_PATH
                || Arrays.asList(name.split("/")).contains("..");
    }
}
