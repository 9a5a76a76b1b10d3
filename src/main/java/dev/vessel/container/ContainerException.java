package dev.vessel.container;

/** A container operation that cannot be done; {@link #status()} is the CLI's exit status (docker's). */
public final class ContainerException extends Exception {
    private final int status;

    public ContainerException(String message) {
        this(message, 125);
    }

    public ContainerException(String message, int status) {
        super(message);
        this.status = status;
    }

    public int status() {
        return status;
    }
}
