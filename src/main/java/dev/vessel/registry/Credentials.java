package dev.vessel.registry;

/**
 * What the user gave for a registry: a username and password (or personal access token), or an
 * identity token (an OAuth2 refresh token, {@code identitytoken} in config.json), or a registry
 * token sent as is ({@code registrytoken}).
 */
public record Credentials(String username, String password, String identityToken, String registryToken) {
    public static Credentials basic(String username, String password) {
        return new Credentials(username, password, null, null);
    }

    public boolean hasBasic() {
        return username != null && !username.isEmpty() && password != null;
    }

    public String basicHeader() {
        return "Basic " + java.util.Base64.getEncoder().encodeToString(
                (username + ":" + password).getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    @Override
    public String toString() {
        return "Credentials[" + username + ", ***]"; // never log secrets
    }
}
