package dev.vessel.registry;

/** A registry refused or failed a request, or answered something Vessel cannot use; the message is one line for the user. */
public class RegistryException extends Exception {
    private final int status;

    public RegistryException(String message) {
        this(message, 0, null);
    }

    public RegistryException(String message, Throwable cause) {
        this(message, 0, cause);
    }

    public RegistryException(String message, int status, Throwable cause) {
        super(message, cause);
        this.status = status;
    }

    /** The HTTP status that caused it, 0 when none. */
    public int status() {
        return status;
    }
}
