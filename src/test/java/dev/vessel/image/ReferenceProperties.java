package dev.vessel.image;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

import java.util.Optional;

import static net.jqwik.api.Tuple.of;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Image references come from command lines and from archives (a docker save's RepoTags): any string
 * is either a Reference or an InvalidReferenceException (never another exception, however long),
 * and a Reference reads back as itself from both its full and its familiar form.
 */
class ReferenceProperties {
    private static final String HEX = "0123456789abcdef";

    /** The parsed reference, or empty when refused with the documented exception. */
    private static Optional<Reference> parse(String s) {
        try {
            return Optional.of(Reference.parse(s));
        } catch (InvalidReferenceException e) {
            return Optional.empty();
        }
    }

    @Property(tries = 1000)
    void aStringIsAReferenceOrRefusedAndAReferenceReadsBackAsItself(@ForAll("referenceLike") String s) {
        Optional<Reference> parsed = parse(s);
        assertEquals(parsed.isPresent(), Reference.isValid(s));
        if (parsed.isPresent()) {
            Reference r = parsed.get();
            assertEquals(Optional.of(r), parse(r.toString()), "full form " + r);
            assertEquals(Optional.of(r), parse(r.familiar()), "familiar form " + r.familiar());
            assertTrue(r.tag() != null ^ r.digest() != null, "a tag or a digest: " + r);
            assertFalse(r.repository().length() > 255, "the name limit");
        }
    }

    @Property(tries = 300)
    void wellFormedNamesAreAccepted(@ForAll("wellFormed") String s) {
        assertTrue(parse(s).isPresent(), s);
    }

    @Provide
    Arbitrary<String> referenceLike() {
        return Arbitraries.frequencyOf(
                of(4, wellFormed()),
                of(3, mangled()),
                of(2, Arbitraries.strings().withChars("abcAZ019._-/:@[]% ").ofMaxLength(80)),
                of(2, longNames()));
    }

    @Provide
    Arbitrary<String> wellFormed() {
        Arbitrary<String> component = Arbitraries.strings().withChars("abcz019").ofMinLength(1).ofMaxLength(6)
                .list().ofMinSize(1).ofMaxSize(3)
                .flatMap(parts -> Arbitraries.of(".", "_", "__", "-", "---").list().ofSize(parts.size() - 1)
                        .map(seps -> {
                            StringBuilder b = new StringBuilder(parts.getFirst());
                            for (int i = 1; i < parts.size(); i++) {
                                b.append(seps.get(i - 1)).append(parts.get(i));
                            }
                            return b.toString();
                        }));
        Arbitrary<String> domain = Arbitraries.of("", "docker.io/", "index.docker.io/", "localhost/", "localhost:5000/",
                "registry.example:443/", "Registry.Example/", "[::1]:5000/", "a.b-c.d/", "UPPER/");
        Arbitrary<String> path = component.list().ofMinSize(1).ofMaxSize(4).map(l -> String.join("/", l));
        Arbitrary<String> tag = Arbitraries.strings().withChars("abcXYZ019_.-").ofMinLength(1).ofMaxLength(20)
                .filter(t -> t.charAt(0) != '.' && t.charAt(0) != '-')
                .map(t -> ":" + t).injectNull(0.4);
        Arbitrary<String> digest = Arbitraries.strings().withChars(HEX).ofLength(64).map(h -> "@sha256:" + h).injectNull(0.7);
        return Combinators.combine(domain, path, tag, digest)
                .as((d, p, t, g) -> (d.isEmpty() && p.split("/")[0].contains(".") ? "docker.io/" : d) // else a domain
                        + p + (t == null ? "" : t) + (g == null ? "" : g))
                .filter(s -> !s.matches("[0-9a-f]{64}")); // a bare id is not a name
    }

    /** Well-formed ones with one character changed, dropped or doubled. */
    @Provide
    Arbitrary<String> mangled() {
        return Combinators.combine(wellFormed(), Arbitraries.integers().between(0, 200),
                        Arbitraries.of('A', '/', ':', '@', '.', '-', '_', '[', ' ', '\u00e9', '\0', '\n'), Arbitraries.of(0, 1, 2))
                .as((s, at, c, how) -> {
                    int i = Math.min(at, s.length());
                    return switch (how) {
                        case 0 -> s.substring(0, i) + c + s.substring(i);
                        case 1 -> i < s.length() ? s.substring(0, i) + s.substring(i + 1) : s;
                        default -> i < s.length() ? s.substring(0, i) + c + s.substring(i + 1) : s + c;
                    };
                });
    }

    /** Names far longer than allowed, of the shapes the name patterns repeat over. */
    @Provide
    Arbitrary<String> longNames() {
        return Combinators.combine(Arbitraries.of("", "x/", "host.example/", "localhost:5000/"),
                        Arbitraries.of("a-", "a.", "a_", "a__", "ab.", "a-b/", "a.b."),
                        Arbitraries.integers().between(1, 20_000),
                        Arbitraries.of("a", "a:tag", "a@sha256:" + "0".repeat(64)))
                .as((prefix, unit, n, end) -> prefix + unit.repeat(n) + end);
    }
}
