package dev.vessel.network;

/**
 * A network operation that cannot be done, with docker's words for it. The {@link Kind} gives the
 * Engine API's HTTP status; the docker CLI's network verbs exit 1 for all of them (a container
 * verb that fails on a network, such as {@code run}, maps it to its own status).
 */
public final class NetworkException extends Exception {
    /** What went wrong, as the Engine API answers it. */
    public enum Kind {
        /** A bad request: an invalid name, subnet, address or option (400). */
        INVALID(400),
        /** An operation docker forbids, such as removing the default network (403). */
        FORBIDDEN(403),
        /** No such network (404). */
        NOT_FOUND(404),
        /** The store's state forbids it: a name or subnet in use, active endpoints, no free address (409). */
        CONFLICT(409),
        /** Vessel itself failed: the bridge or its rules could not be set up (500). */
        FAILED(500);

        private final int httpStatus;

        Kind(int httpStatus) {
            this.httpStatus = httpStatus;
        }

        public int httpStatus() {
            return httpStatus;
        }
    }

    private final Kind kind;

    public NetworkException(Kind kind, String message) {
        super(message);
        this.kind = kind;
    }

    public NetworkException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public Kind kind() {
        return kind;
    }

    /** The Engine API's HTTP status for this failure. */
    public int httpStatus() {
        return kind.httpStatus();
    }

    /** The docker CLI's exit status for a network verb that fails this way. */
    public int status() {
        return 1;
    }

    public static NetworkException invalid(String message) {
        return new NetworkException(Kind.INVALID, message);
    }

    public static NetworkException conflict(String message) {
        return new NetworkException(Kind.CONFLICT, message);
    }

    static NetworkException notFound(String ref) {
        return new NetworkException(Kind.NOT_FOUND, "network " + ref + " not found");
    }
}
