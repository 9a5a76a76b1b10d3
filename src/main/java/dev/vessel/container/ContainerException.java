package dev.vessel.container;

/**
 * A container operation that cannot be done. It carries docker's two statuses for it: the
 * {@link Kind} gives the Engine API's HTTP status, {@link #status()} the exit status the docker CLI
 * gives (1 for most verbs, 125 when {@code run} or {@code create} fails).
 */
public final class ContainerException extends Exception {
    /** What went wrong, as the Engine API answers it. */
    public enum Kind {
        /** A bad request: an invalid name, size, signal or option (400). */
        INVALID(400),
        /** No such container or image (404). */
        NOT_FOUND(404),
        /** The container's state forbids it: a name in use, not running, running (409). */
        CONFLICT(409),
        /** Vessel itself failed (500). */
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
    private final int status;

    public ContainerException(Kind kind, String message, int status) {
        super(message);
        this.kind = kind;
        this.status = status;
    }

    public Kind kind() {
        return kind;
    }

    /** The docker CLI's exit status for this failure. */
    public int status() {
        return status;
    }

    /** The Engine API's HTTP status for this failure. */
    public int httpStatus() {
        return kind.httpStatus();
    }

    static ContainerException invalid(String message) {
        return new ContainerException(Kind.INVALID, message, 125);
    }

    /** A network verb's failure: the same kind, exit status 1 as docker's CLI gives for it. */
    static ContainerException connectError(ContainerException e) {
        return new ContainerException(e.kind(), e.getMessage(), 1);
    }

    static ContainerException failed(String message) {
        return new ContainerException(Kind.FAILED, message, 125);
    }

    /** A verb on an existing container that its state forbids (docker CLI: exit 1). */
    static ContainerException conflict(String message) {
        return new ContainerException(Kind.CONFLICT, message, 1);
    }
}
