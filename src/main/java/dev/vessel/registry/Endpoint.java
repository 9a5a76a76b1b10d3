package dev.vessel.registry;

import java.net.URI;
import java.util.LinkedHashSet;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * Where a registry's API answers: {@code docker.io} is Docker Hub's API host; anything else is the
 * reference's own {@code host[:port]}. HTTPS always, except for loopback registries and those the
 * user lists as insecure ({@value #INSECURE_ENV}, comma-separated {@code host[:port]}), which speak
 * plain HTTP.
 *
 * @param domain    the reference's registry as the user wrote it, normalised ({@code docker.io})
 * @param host      the API host and port
 * @param plainHttp whether requests go over plain HTTP
 */
public record Endpoint(String domain, String host, boolean plainHttp) {
    public static final String INSECURE_ENV = "VESSEL_INSECURE_REGISTRIES";
    /** Docker Hub's API host: {@code docker.io} names the registry, not the server. */
    static final String DOCKER_HUB_API = "registry-1.docker.io";
    /** The key docker writes Docker Hub's credentials under in config.json. */
    static final String DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/";

    private static final Pattern IPV4_LOOPBACK = Pattern.compile("127\\.\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}");

    /** The endpoint of {@code domain} with the insecure registries from the environment. */
    public static Endpoint of(String domain) {
        return of(domain, insecureFromEnvironment());
    }

    public static Endpoint of(String domain, Set<String> insecure) {
        String d = domain.toLowerCase(Locale.ROOT);
        if (d.equals("docker.io") || d.equals("index.docker.io")) {
            return new Endpoint("docker.io", DOCKER_HUB_API, false);
        }
        return new Endpoint(d, d, isLoopback(d) || insecure.contains(d));
    }

    /** The registries {@value #INSECURE_ENV} lists. */
    public static Set<String> insecureFromEnvironment() {
        Set<String> out = new LinkedHashSet<>();
        String v = System.getenv(INSECURE_ENV);
        if (v != null) {
            for (String s : v.split(",")) {
                if (!s.isBlank()) {
                    out.add(s.strip().toLowerCase(Locale.ROOT));
                }
            }
        }
        return out;
    }

    /** Whether {@code hostPort} is this machine by name or address (no DNS lookup: a name is only "localhost"). */
    static boolean isLoopback(String hostPort) {
        String h = hostOf(hostPort);
        return h.equals("localhost") || h.equals("::1") || h.equals("[::1]") || IPV4_LOOPBACK.matcher(h).matches();
    }

    /** The host of {@code host[:port]} or {@code [v6][:port]}, without the port. */
    static String hostOf(String hostPort) {
        if (hostPort.startsWith("[")) {
            int end = hostPort.indexOf(']');
            return end < 0 ? hostPort : hostPort.substring(0, end + 1);
        }
        int colon = hostPort.lastIndexOf(':');
        return colon < 0 ? hostPort : hostPort.substring(0, colon);
    }

    /** {@code https://host/v2/...}. */
    public URI uri(String path) {
        return URI.create((plainHttp ? "http://" : "https://") + host + path);
    }

    /** The key of this registry's entry in docker's config.json. */
    public String authKey() {
        return domain.equals("docker.io") ? DOCKER_HUB_AUTH_KEY : domain;
    }
}
