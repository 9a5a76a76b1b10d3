package dev.vessel.registry;

import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

import static net.jqwik.api.Tuple.of;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;

/**
 * {@code WWW-Authenticate} comes from whatever server answers: parsing never throws, and challenges
 * written as RFC 7235 writes them (a scheme, then a token68 or parameters whose values are tokens
 * or quoted strings) read back as the same schemes and parameters, however many follow each other.
 */
class AuthChallengeProperties {
    private static final String TCHAR = "abcxyzABCXYZ0189!#$%&'*+-.^_`|~";
    private static final String TOKEN68 = "abcxyzABCXYZ0189-._~+/";

    /** A challenge as a server writes it: a token68 (not kept by the parser) or parameters. */
    record Written(String scheme, String token68, Map<String, String> params, boolean quoteTokens) {
        String header() {
            StringBuilder b = new StringBuilder(scheme);
            if (token68 != null) {
                b.append(' ').append(token68);
            }
            String sep = " ";
            for (Map.Entry<String, String> p : params.entrySet()) {
                b.append(sep).append(p.getKey()).append('=').append(value(p.getValue()));
                sep = ", ";
            }
            return b.toString();
        }

        private String value(String v) {
            if (!quoteTokens && !v.isEmpty() && v.chars().allMatch(c -> TCHAR.indexOf(c) >= 0)) {
                return v;
            }
            return '"' + v.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
        }
    }

    @Property(tries = 1000)
    void anyHeaderParsesWithoutThrowing(@ForAll("headerLike") String header) {
        for (AuthChallenge c : AuthChallenge.parse(header)) {
            assertNotNull(c.scheme());
            assertNotNull(c.params());
        }
    }

    @Property(tries = 1000)
    void writtenChallengesReadBackAsTheirSchemesAndParameters(@ForAll("challenges") List<Written> written,
                                                              @ForAll("separators") String separator) {
        StringBuilder header = new StringBuilder();
        List<AuthChallenge> expected = new ArrayList<>();
        for (Written w : written) {
            if (!header.isEmpty()) {
                header.append(separator);
            }
            header.append(w.header());
            Map<String, String> lower = new LinkedHashMap<>();
            w.params().forEach((k, v) -> lower.put(k.toLowerCase(Locale.ROOT), v));
            expected.add(new AuthChallenge(w.scheme(), lower));
        }
        assertEquals(expected, AuthChallenge.parse(header.toString()), header.toString());
    }

    @Provide
    Arbitrary<String> separators() {
        return Arbitraries.of(", ", ",", " , ", ",\t", ", , ");
    }

    @Provide
    Arbitrary<List<Written>> challenges() {
        Arbitrary<String> token = Arbitraries.strings().withChars(TCHAR).ofMinLength(1).ofMaxLength(12);
        Arbitrary<String> scheme = Arbitraries.oneOf(Arbitraries.of("Bearer", "Basic", "Negotiate", "bearer", "Digest"), token);
        Arbitrary<String> token68 = Combinators.combine(
                        Arbitraries.strings().withChars(TOKEN68).ofMinLength(1).ofMaxLength(16),
                        Arbitraries.integers().between(0, 2))
                .as((t, pad) -> t + "=".repeat(pad));
        Arbitrary<String> value = Arbitraries.oneOf(token,
                Arbitraries.strings().withChars("ab ,;=\"\\\t:/@é\u4e2d").ofMaxLength(16),
                Arbitraries.of("https://auth.example/token", "repository:library/ubuntu:pull", ""));
        Arbitrary<Map<String, String>> params = Arbitraries.maps(token, value).ofMaxSize(4)
                .filter(m -> m.keySet().stream().map(k -> k.toLowerCase(Locale.ROOT)).distinct().count() == m.size());
        Arbitrary<Written> withParams = Combinators.combine(scheme, params, Arbitraries.of(true, false))
                .as((s, p, q) -> new Written(s, null, p, q));
        Arbitrary<Written> withToken68 = Combinators.combine(scheme, token68)
                .as((s, t) -> new Written(s, t, Map.of(), false));
        return Arbitraries.frequencyOf(of(3, withParams), of(1, withToken68)).list().ofMinSize(1).ofMaxSize(4);
    }

    @Provide
    Arbitrary<String> headerLike() {
        return Arbitraries.frequencyOf(
                of(3, Arbitraries.strings().withChars("Bb=\", \t\\rx!é").ofMaxLength(40)),
                of(1, Arbitraries.strings().all().ofMaxLength(40)),
                of(2, challenges().map(l -> {
                    StringBuilder b = new StringBuilder();
                    l.forEach(w -> b.append(w.header()).append(", "));
                    return b.toString();
                }).flatMap(h -> Arbitraries.integers().between(0, h.length()).map(cut -> h.substring(0, cut)))));
    }
}
