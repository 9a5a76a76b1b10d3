package dev.vessel.api;

import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Engine API versions: what Vessel serves and how a request's {@code /vX.Y} prefix is read.
 *
 * @param major 1 for every Engine API so far
 * @param minor e.g. 51 for 1.51
 */
public record ApiVersion(int major, int minor) implements Comparable<ApiVersion> {
    /** The newest API served, dockerd 28's. */
    public static final ApiVersion CURRENT = new ApiVersion(1, 51);
    /** The oldest API served, dockerd 28's minimum. */
    public static final ApiVersion MINIMUM = new ApiVersion(1, 24);

    private static final Pattern PREFIX = Pattern.compile("/v([0-9]{1,4})\\.([0-9]{1,4})(/.*)");

    /** A path with its version prefix taken off; {@code version} is null when it had none. */
    record Split(ApiVersion version, String path) {}

    static Split split(String path) {
        Matcher m = PREFIX.matcher(path);
        if (!m.matches()) {
            return new Split(null, path);
        }
        return new Split(new ApiVersion(Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2))), m.group(3));
    }

    /** Refuses a version outside {@link #MINIMUM}..{@link #CURRENT} with dockerd's words. */
    void check() throws ApiException {
        if (compareTo(MINIMUM) < 0) {
            throw ApiException.badRequest("client version " + this + " is too old. Minimum supported API version is "
                    + MINIMUM + ", please upgrade your client to a newer version");
        }
        if (compareTo(CURRENT) > 0) {
            throw ApiException.badRequest("client version " + this + " is too new. Maximum supported API version is " + CURRENT);
        }
    }

    @Override
    public int compareTo(ApiVersion o) {
        return major != o.major ? Integer.compare(major, o.major) : Integer.compare(minor, o.minor);
    }

    @Override
    public String toString() {
        return major + "." + minor;
    }
}
