package dev.vessel.registry;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AuthChallengeTest {
    @Test
    void bearerWithQuotedParams() {
        List<AuthChallenge> c = AuthChallenge.parse(
                "Bearer realm=\"https://auth.example/token\",service=\"registry.example\",scope=\"repository:library/ubuntu:pull\"");
        assertEquals(1, c.size());
        assertTrue(c.getFirst().isBearer());
        assertEquals(Map.of("realm", "https://auth.example/token", "service", "registry.example",
                "scope", "repository:library/ubuntu:pull"), c.getFirst().params());
    }

    @Test
    void severalChallengesTokensEscapesAndCase() {
        List<AuthChallenge> c = AuthChallenge.parse("Basic realm=\"a \\\"quoted\\\" realm\", bearer Realm=https://x/t , error=insufficient_scope");
        assertEquals(2, c.size());
        assertTrue(c.get(0).isBasic());
        assertEquals("a \"quoted\" realm", c.get(0).param("realm"));
        assertTrue(c.get(1).isBearer());
        assertEquals("https://x/t", c.get(1).param("realm"));
        assertEquals("insufficient_scope", c.get(1).param("error"));
    }

    @Test
    void garbageGivesNothingUsable() {
        assertEquals(List.of(), AuthChallenge.parse(null));
        assertEquals(List.of(), AuthChallenge.parse(""));
        for (AuthChallenge c : AuthChallenge.parse("=\"\",,, \"unterminated")) {
            assertTrue(c.param("realm") == null);
        }
    }
}
