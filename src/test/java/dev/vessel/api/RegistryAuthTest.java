package dev.vessel.api;

import dev.vessel.registry.Credentials;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** X-Registry-Auth as docker's CLI and the SDKs send it, and what counts as none. */
class RegistryAuthTest {
    private static String url(String json) {
        return Base64.getUrlEncoder().encodeToString(json.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void usernameAndPasswordAuthPairsAndTokens() {
        assertEquals(Optional.of(Credentials.basic("me", "s3cret?>")),
                RegistryAuth.decode(url("{\"username\":\"me\",\"password\":\"s3cret?>\",\"serveraddress\":\"reg:5000\"}")));
        String pair = Base64.getEncoder().encodeToString("you:pw".getBytes(StandardCharsets.UTF_8));
        assertEquals(Optional.of(Credentials.basic("you", "pw")), RegistryAuth.decode(url("{\"auth\":\"" + pair + "\"}")));
        assertEquals(Optional.of(new Credentials(null, null, "refresh", null)),
                RegistryAuth.decode(url("{\"identitytoken\":\"refresh\"}")));
        // The standard alphabet, as some SDKs send it.
        assertEquals(Optional.of(Credentials.basic("me", "s3cret?>")), RegistryAuth.decode(Base64.getEncoder()
                .encodeToString("{\"username\":\"me\",\"password\":\"s3cret?>\"}".getBytes(StandardCharsets.UTF_8))));
    }

    @Test
    void anEmptyOrBrokenHeaderIsNoneAsForDockerdsPulls() {
        assertEquals(Optional.empty(), RegistryAuth.decode(null));
        assertEquals(Optional.empty(), RegistryAuth.decode(url("{}")));
        assertEquals(Optional.empty(), RegistryAuth.decode("%%%not base64%%%"));
        assertEquals(Optional.empty(), RegistryAuth.decode(url("[1,2]")));
        assertEquals(Optional.empty(), RegistryAuth.decode(url("{\"username\":7}")));
        assertEquals(Optional.empty(), RegistryAuth.decode(url("not json")));
    }
}
